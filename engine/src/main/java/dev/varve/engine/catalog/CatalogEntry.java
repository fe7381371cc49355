package dev.varve.engine.catalog;

import dev.varve.engine.btree.TreePointer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A volume head or a snapshot, as the catalog tree stores it (value of key {@code id}).
 * <pre>
 *  kind u8 | zero u8 | blockSize u32 | size u64 | created u64 | root addr u64 | root len u32 |
 *  root gen u64 | parent u64 | origin u64 | generation u64 | lineage u64 | props addr u64 |
 *  props len u32 | name (u16 + UTF-8) | group (u16 + UTF-8) | unmap gen u64
 * </pre>
 * For a volume, {@code parent} is the snapshot it stands on ("you are here") and
 * {@code origin} the snapshot it was cloned from; for a snapshot, {@code parent} is the
 * previous snapshot on its line and {@code origin} the id of its volume.
 *
 * <p>{@code unmap gen} ({@link #unmapGeneration}) was added after the other fields; an entry
 * that ends after its group has none, and reads as {@link #UNMAP_UNKNOWN}.
 */
public final class CatalogEntry {
    public static final byte VOLUME = 1;
    public static final byte SNAPSHOT = 2;
    /** The unmap generation of an entry written without one: anything may have been unmapped. */
    public static final long UNMAP_UNKNOWN = Long.MAX_VALUE;

    public final long id;
    public final byte kind;
    public String name;
    public long size;
    public int blockSize;
    public long created;
    /** Volatile: open snapshot views re-read it when the compactor has moved their tree. */
    public volatile TreePointer root = TreePointer.EMPTY;
    public long parent;
    public long origin;
    public long generation;
    public long lineage;
    public long propsAddress;
    public int propsLength;
    public String group;
    /**
     * The newest generation in which this entry's tree, or a tree it was derived from (back
     * along {@code parent}), lost a mapped block with nothing written in its place (a trim,
     * write-zeroes, a shrink), or was joined to a parent it was not built from (a receive of a
     * stream whose base is not its parent); 0 when that never happened. A diff against an
     * ancestor taken at or after it needs to read only this tree (see {@code Diff}).
     */
    public volatile long unmapGeneration;
    /** Loaded lazily; non-null once read or set. */
    public Map<String, String> properties;
    public boolean propertiesDirty;
    /** Set once the entry is destroyed: views still open on it refuse further reads. */
    public volatile boolean dropped;

    public CatalogEntry(long id, byte kind) {
        this.id = id;
        this.kind = kind;
    }

    public boolean isVolume() {
        return kind == VOLUME;
    }

    public byte[] encode() {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        byte[] g = group == null ? new byte[0] : group.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[2 + 4 + 8 * 3 + 4 + 8 * 6 + 4 + 2 + n.length + 2 + g.length + 8];
        UnsafeBuffer b = new UnsafeBuffer(out);
        int p = 0;
        b.putByte(p, kind);
        p += 2;
        b.putInt(p, blockSize);
        p += 4;
        b.putLong(p, size);
        b.putLong(p + 8, created);
        b.putLong(p + 16, root.address());
        p += 24;
        b.putInt(p, root.length());
        p += 4;
        b.putLong(p, root.generation());
        b.putLong(p + 8, parent);
        b.putLong(p + 16, origin);
        b.putLong(p + 24, generation);
        b.putLong(p + 32, lineage);
        b.putLong(p + 40, propsAddress);
        p += 48;
        b.putInt(p, propsLength);
        p += 4;
        b.putShort(p, (short) n.length);
        b.putBytes(p + 2, n);
        p += 2 + n.length;
        b.putShort(p, (short) g.length);
        b.putBytes(p + 2, g);
        p += 2 + g.length;
        b.putLong(p, unmapGeneration);
        return out;
    }

    public static CatalogEntry decode(long id, DirectBuffer b, int off, int len) {
        int p = off;
        byte kind = b.getByte(p);
        if (kind != VOLUME && kind != SNAPSHOT) {
            throw new IllegalArgumentException("catalog entry " + id + " has unknown kind " + kind);
        }
        CatalogEntry e = new CatalogEntry(id, kind);
        p += 2;
        e.blockSize = b.getInt(p);
        p += 4;
        e.size = b.getLong(p);
        e.created = b.getLong(p + 8);
        long ra = b.getLong(p + 16);
        p += 24;
        int rl = b.getInt(p);
        p += 4;
        e.root = new TreePointer(ra, rl, b.getLong(p));
        e.parent = b.getLong(p + 8);
        e.origin = b.getLong(p + 16);
        e.generation = b.getLong(p + 24);
        e.lineage = b.getLong(p + 32);
        e.propsAddress = b.getLong(p + 40);
        p += 48;
        e.propsLength = b.getInt(p);
        p += 4;
        int nl = b.getShort(p) & 0xFFFF;
        if (p + 2 + nl > off + len) {
            throw new IllegalArgumentException("catalog entry " + id + " name runs past its end");
        }
        e.name = b.getStringWithoutLengthUtf8(p + 2, nl);
        p += 2 + nl;
        int gl = b.getShort(p) & 0xFFFF;
        if (p + 2 + gl > off + len) {
            throw new IllegalArgumentException("catalog entry " + id + " group runs past its end");
        }
        e.group = gl == 0 ? null : b.getStringWithoutLengthUtf8(p + 2, gl);
        p += 2 + gl;
        e.unmapGeneration = p + 8 <= off + len ? b.getLong(p) : UNMAP_UNKNOWN;
        if (e.kind == VOLUME && e.properties == null && e.propsAddress == 0) {
            e.properties = null;
        }
        return e;
    }
}
