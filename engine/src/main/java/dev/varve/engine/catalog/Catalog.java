package dev.varve.engine.catalog;

import dev.varve.engine.btree.CowTree;
import dev.varve.engine.btree.NodeSource;
import dev.varve.engine.btree.NodeWriter;
import dev.varve.engine.btree.TreeKind;
import dev.varve.engine.btree.TreePointer;
import dev.varve.engine.btree.ValueCodec;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.log.Log;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Volumes and snapshots by id, persisted as a copy-on-write tree (key: id, value: an encoded
 * {@link CatalogEntry}), so a commit rewrites only the paths to the entries that changed:
 * its cost does not grow with the number of snapshots. Name indexes live in memory, built at
 * open. Not thread-safe: the store holds its catalog lock around every call.
 */
public final class Catalog {
    public static final ValueCodec<byte[]> BYTES = new ValueCodec<>() {
        @Override
        public int encodedLength(byte[] v) {
            return 4 + v.length;
        }

        @Override
        public int encode(byte[] v, MutableDirectBuffer buf, int offset) {
            buf.putInt(offset, v.length);
            buf.putBytes(offset + 4, v);
            return 4 + v.length;
        }

        @Override
        public byte[] decode(DirectBuffer buf, int offset, int[] lengthOut) {
            int n = buf.getInt(offset);
            if (n < 0 || offset + 4L + n > buf.capacity()) {
                throw new IllegalArgumentException("catalog value length " + n + " out of range");
            }
            byte[] v = new byte[n];
            buf.getBytes(offset + 4, v);
            lengthOut[0] = 4 + n;
            return v;
        }
    };

    private final Log log;
    private final CowTree<byte[]> tree;
    private final Long2ObjectHashMap<CatalogEntry> byId = new Long2ObjectHashMap<>();
    private final Map<String, Long> volumes = new HashMap<>();
    private final Long2ObjectHashMap<Map<String, Long>> snapshotsByVolume = new Long2ObjectHashMap<>();
    private final Long2ObjectHashMap<LongHashSet> children = new Long2ObjectHashMap<>();
    private final LongHashSet dirty = new LongHashSet();
    private final LongHashSet removed = new LongHashSet();
    private CowTree.Relocation<byte[]> relocation;
    private long nextId;

    public Catalog(Log log, NodeSource source, TreePointer root, long nextId) {
        this.log = log;
        this.tree = new CowTree<>(TreeKind.CATALOG, BYTES, source, root);
        this.nextId = Math.max(1, nextId);
    }

    public CowTree<byte[]> tree() {
        return tree;
    }

    /** Reads every entry (once, at open). */
    public void load() throws IOException {
        List<CatalogEntry> all = new ArrayList<>();
        tree.scan(Long.MIN_VALUE, (k, v) -> {
            all.add(CatalogEntry.decode(k, new UnsafeBuffer(v), 0, v.length));
            return true;
        });
        for (CatalogEntry e : all) {
            index(e);
            nextId = Math.max(nextId, e.id + 1);
        }
    }

    private void index(CatalogEntry e) {
        byId.put(e.id, e);
        if (e.parent != 0) {
            children.computeIfAbsent(e.parent, k -> new LongHashSet()).add(e.id);
        }
        if (e.isVolume()) {
            volumes.put(e.name, e.id);
        } else {
            snapshotsByVolume.computeIfAbsent(e.origin, k -> new LinkedHashMap<>()).put(e.name, e.id);
        }
    }

    private void unindex(CatalogEntry e) {
        LongHashSet c = children.get(e.parent);
        if (c != null) {
            c.remove(e.id);
            if (c.isEmpty()) {
                children.remove(e.parent);
            }
        }
        if (e.isVolume()) {
            volumes.remove(e.name);
        } else {
            Map<String, Long> m = snapshotsByVolume.get(e.origin);
            if (m != null) {
                m.remove(e.name);
                if (m.isEmpty()) {
                    snapshotsByVolume.remove(e.origin);
                }
            }
        }
    }

    public long nextId() {
        return nextId;
    }

    public long allocateId() {
        return nextId++;
    }

    public CatalogEntry get(long id) {
        return byId.get(id);
    }

    public CatalogEntry volume(String name) {
        Long id = volumes.get(name);
        return id == null ? null : byId.get(id);
    }

    public CatalogEntry snapshot(long volumeId, String name) {
        Map<String, Long> m = snapshotsByVolume.get(volumeId);
        Long id = m == null ? null : m.get(name);
        return id == null ? null : byId.get(id);
    }

    /** Snapshots on a volume's line, oldest first. */
    public List<CatalogEntry> snapshotsOf(long volumeId) {
        Map<String, Long> m = snapshotsByVolume.get(volumeId);
        List<CatalogEntry> out = new ArrayList<>();
        if (m != null) {
            TreeMap<Long, CatalogEntry> sorted = new TreeMap<>();
            for (Long id : m.values()) {
                sorted.put(id, byId.get(id));
            }
            out.addAll(sorted.values());
        }
        return out;
    }

    public Collection<CatalogEntry> all() {
        return byId.values();
    }

    public List<CatalogEntry> volumes() {
        List<CatalogEntry> out = new ArrayList<>();
        for (Long id : volumes.values()) {
            out.add(byId.get(id));
        }
        out.sort((a, b) -> a.name.compareTo(b.name));
        return out;
    }

    public void add(CatalogEntry e) {
        index(e);
        dirty.add(e.id);
        removed.remove(e.id);
    }

    /** Marks an entry changed; call after changing fields (rename: call {@link #rename}). */
    public void changed(CatalogEntry e) {
        dirty.add(e.id);
    }

    public void rename(CatalogEntry e, String newName) {
        unindex(e);
        e.name = newName;
        index(e);
        dirty.add(e.id);
    }

    /** Entries (snapshots and volume heads) whose parent is {@code id}, by id. */
    public List<CatalogEntry> childrenOf(long id) {
        List<CatalogEntry> out = new ArrayList<>();
        LongHashSet c = children.get(id);
        if (c != null) {
            for (long x : c) {
                out.add(byId.get(x));
            }
        }
        out.sort((a, b) -> Long.compare(a.id, b.id));
        return out;
    }

    public void setParent(CatalogEntry e, long parent) {
        unindex(e);
        e.parent = parent;
        index(e);
        dirty.add(e.id);
    }

    public int snapshotCount() {
        return byId.size() - volumes.size();
    }

    public void remove(CatalogEntry e) {
        e.dropped = true;
        unindex(e);
        byId.remove(e.id);
        dirty.remove(e.id);
        removed.add(e.id);
    }

    public boolean isDirty() {
        return !dirty.isEmpty() || !removed.isEmpty();
    }

    /** Properties of an entry, reading its blob on first use. */
    public Map<String, String> properties(CatalogEntry e) throws IOException {
        if (e.properties == null) {
            e.properties = e.propsAddress == 0 ? new TreeMap<>() : readProperties(e.propsAddress, e.propsLength);
        }
        return e.properties;
    }

    private Map<String, String> readProperties(long address, int length) throws IOException {
        UnsafeBuffer u = log.readRecord(address, length);
        if (u.getByte(RecordLayout.TYPE_OFFSET) != RecordLayout.TYPE_BLOB) {
            throw new dev.varve.engine.CorruptionException(null, address, "expected a properties blob, found "
                    + RecordLayout.typeName(u.getByte(RecordLayout.TYPE_OFFSET)));
        }
        return decodeProperties(u, RecordLayout.HEADER_BYTES);
    }

    public static Map<String, String> decodeProperties(DirectBuffer u, int p) {
        Map<String, String> m = new TreeMap<>();
        int count = u.getInt(p);
        p += 4;
        for (int i = 0; i < count; i++) {
            int kl = u.getInt(p);
            String k = u.getStringWithoutLengthUtf8(p + 4, kl);
            p += 4 + kl;
            int vl = u.getInt(p);
            String v = u.getStringWithoutLengthUtf8(p + 4, vl);
            p += 4 + vl;
            m.put(k, v);
        }
        return m;
    }

    /** Writes changed properties and entries, then the tree; returns the new root pointer. */
    public TreePointer commit(NodeWriter writer) throws IOException {
        for (long id : dirty) {
            CatalogEntry e = byId.get(id);
            if (e != null && e.propertiesDirty) {
                writeProperties(writer, e);
            }
        }
        for (long id : removed) {
            tree.remove(id);
        }
        for (long id : dirty) {
            CatalogEntry e = byId.get(id);
            if (e != null) {
                tree.put(id, e.encode());
            }
        }
        dirty.clear();
        removed.clear();
        TreePointer p = tree.commit(writer, 0);
        if (relocation != null) {
            CowTree.Relocation<byte[]> r = relocation;
            relocation = null;
            CowTree.Moved m = tree.relocate(p, writer, 0, r);
            if (m.address() != p.address()) {
                p = m.pointer();
                tree.reset(p);
            }
        }
        return p;
    }

    /**
     * Has the next commit also move every catalog node that lies in a compaction victim (the
     * entries' own changes are written first, then what is left in victims is rewritten).
     */
    public void relocateOnCommit(CowTree.Relocation<byte[]> r) {
        this.relocation = r;
    }

    private void writeProperties(NodeWriter writer, CatalogEntry e) throws IOException {
        e.propertiesDirty = false;
        if (e.properties == null || e.properties.isEmpty()) {
            e.propsAddress = 0;
            e.propsLength = 0;
            return;
        }
        List<byte[]> parts = new ArrayList<>();
        int size = 4;
        for (Map.Entry<String, String> kv : e.properties.entrySet()) {
            byte[] k = kv.getKey().getBytes(StandardCharsets.UTF_8);
            byte[] v = kv.getValue().getBytes(StandardCharsets.UTF_8);
            parts.add(k);
            parts.add(v);
            size += 8 + k.length + v.length;
        }
        int count = e.properties.size();
        e.propsAddress = writer.append(RecordLayout.TYPE_BLOB, e.id, size, (b, o) -> {
            b.putInt(o, count);
            int p = o + 4;
            for (byte[] part : parts) {
                b.putInt(p, part.length);
                b.putBytes(p + 4, part);
                p += 4 + part.length;
            }
        });
        e.propsLength = RecordLayout.paddedLength(size);
    }
}
