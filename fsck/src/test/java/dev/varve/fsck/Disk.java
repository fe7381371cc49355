package dev.varve.fsck;

import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.io.StorageFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import dev.varve.engine.format.CommitLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.CRC32C;

/** Test-side helpers over an in-memory store: copy it, list its records, damage it. */
final class Disk {
    static final Path ROOT = Path.of("/mem/fsck");

    private Disk() {
    }

    /** One record of a meta segment, as the bytes say. */
    record Rec(String file, int offset, int length, int type, long generation, boolean firstInSegment) {
        String typeName() {
            return RecordLayout.typeName(type);
        }
    }

    /** An exact, durable copy (every file written and forced, the directory synced). */
    static CrashableStorage copy(CrashableStorage src) {
        CrashableStorage dst = new CrashableStorage(ROOT);
        try {
            for (String name : src.list()) {
                write(dst, name, 0, src.contents(name), true);
            }
            dst.syncDirectory();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dst;
    }

    static void write(CrashableStorage d, String name, long at, byte[] bytes, boolean create) throws IOException {
        try (StorageFile f = d.open(name, create)) {
            f.write(ByteBuffer.wrap(bytes), at);
            f.force();
        }
    }

    static void zero(CrashableStorage d, String name, long at, int len) throws IOException {
        write(d, name, at, new byte[len], false);
    }

    static void truncate(CrashableStorage d, String name, long size) throws IOException {
        try (StorageFile f = d.open(name, false)) {
            f.truncate(size);
            f.force();
        }
    }

    static long size(CrashableStorage d, String name) {
        return d.contents(name).length;
    }

    static int kind(CrashableStorage d, String name) {
        byte[] f = d.contents(name);
        return f.length < 16 ? -1 : ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).getInt(SegmentLayout.KIND_OFFSET);
    }

    static List<String> segments(CrashableStorage d, int kind) {
        List<String> out = new ArrayList<>();
        for (String n : d.list()) {
            if (SegmentLayout.parseFileName(n) > 0 && kind(d, n) == kind) {
                out.add(n);
            }
        }
        return out;
    }

    /** Changes a record's bytes (header or payload; {@code rec} holds the record from index 0, little-endian). */
    interface Edit {
        void apply(ByteBuffer rec);
    }

    /**
     * Edits one record in place and makes every checksum over it true again, so that only a
     * check of what the record says can find the change: the record's own CRC32C (computed with
     * its crc field as zero, padding included), and the transaction group checksum (the commit's
     * txg crc, over every record of the group in log order; FORMAT.md, "Commit") of the commit
     * that closes its group, and that commit record's own CRC32C. Writes the result durably.
     */
    static void rewrite(CrashableStorage d, Rec target, Edit edit) throws IOException {
        Map<String, byte[]> files = new HashMap<>();
        for (String name : segments(d, SegmentLayout.KIND_META)) {
            files.put(name, d.contents(name));
        }
        ByteBuffer f = ByteBuffer.wrap(files.get(target.file())).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer rec = f.duplicate().position(target.offset()).limit(target.offset() + target.length()).slice()
                .order(ByteOrder.LITTLE_ENDIAN);
        edit.apply(rec);
        seal(f, target.offset(), target.length());
        Rec closing = resealGroupOf(files, target);
        write(d, target.file(), 0, files.get(target.file()), false);
        if (closing != null && !closing.file().equals(target.file())) {
            write(d, closing.file(), 0, files.get(closing.file()), false);
        }
    }

    /** Recomputes the record's CRC32C over its bytes with the crc field as zero. */
    static void seal(ByteBuffer f, int offset, int length) {
        f.putInt(offset + RecordLayout.CRC_OFFSET, 0);
        CRC32C c = new CRC32C();
        c.update(f.duplicate().position(offset).limit(offset + length));
        f.putInt(offset + RecordLayout.CRC_OFFSET, (int) c.getValue());
    }

    /**
     * Follows the log (meta segments, through next-segment records) to the commit that closes
     * {@code target}'s transaction group, and sets that commit's txg crc to the CRC32C of the
     * group's records as they are now; returns the commit, or null when no commit closes it.
     * A group is every record after a commit (and the intent records that follow it), next-segment
     * records included, up to the next commit.
     */
    private static Rec resealGroupOf(Map<String, byte[]> files, Rec target) {
        Map<String, List<Rec>> bySegment = new HashMap<>();
        Map<String, String> next = new HashMap<>();
        Set<String> targeted = new HashSet<>();
        for (var e : files.entrySet()) {
            List<Rec> l = new ArrayList<>();
            ByteBuffer b = ByteBuffer.wrap(e.getValue()).order(ByteOrder.LITTLE_ENDIAN);
            int p = SegmentLayout.HEADER_BYTES;
            while (p + RecordLayout.HEADER_BYTES <= b.capacity() && b.getInt(p) == RecordLayout.MAGIC) {
                int len = b.getInt(p + RecordLayout.LENGTH_OFFSET);
                int type = b.get(p + RecordLayout.TYPE_OFFSET);
                l.add(new Rec(e.getKey(), p, len, type, b.getLong(p + RecordLayout.GENERATION_OFFSET), l.isEmpty()));
                if (type == RecordLayout.TYPE_NEXT_SEGMENT) {
                    String to = SegmentLayout.fileName(b.getLong(p + RecordLayout.HEADER_BYTES));
                    next.put(e.getKey(), to);
                    targeted.add(to);
                    break;
                }
                p += len;
            }
            bySegment.put(e.getKey(), l);
        }
        for (String start : new TreeSet<>(files.keySet())) {
            if (targeted.contains(start)) {
                continue;
            }
            List<Rec> group = new ArrayList<>();
            for (String seg = start; seg != null && bySegment.containsKey(seg); seg = next.get(seg)) {
                for (Rec r : bySegment.get(seg)) {
                    if (r.type() == RecordLayout.TYPE_INTENT) {
                        continue; // intents belong to no group
                    }
                    if (r.type() != RecordLayout.TYPE_COMMIT) {
                        group.add(r);
                        continue;
                    }
                    boolean ours = group.stream().anyMatch(g -> g.file().equals(target.file()) && g.offset() == target.offset());
                    if (ours) {
                        CRC32C txg = new CRC32C();
                        for (Rec g : group) {
                            txg.update(files.get(g.file()), g.offset(), g.length());
                        }
                        ByteBuffer c = ByteBuffer.wrap(files.get(r.file())).order(ByteOrder.LITTLE_ENDIAN);
                        c.putInt(r.offset() + RecordLayout.HEADER_BYTES + CommitLayout.TXG_CRC_OFFSET, (int) txg.getValue());
                        seal(c, r.offset(), r.length());
                        return r;
                    }
                    group.clear();
                }
            }
        }
        return null;
    }

    /** Every whole-looking record of every meta segment, front to back, up to a next-segment record. */
    static List<Rec> records(CrashableStorage d) {
        List<Rec> out = new ArrayList<>();
        for (String name : segments(d, SegmentLayout.KIND_META)) {
            ByteBuffer b = ByteBuffer.wrap(d.contents(name)).order(ByteOrder.LITTLE_ENDIAN);
            int p = SegmentLayout.HEADER_BYTES;
            boolean first = true;
            while (p + RecordLayout.HEADER_BYTES <= b.capacity() && b.getInt(p) == RecordLayout.MAGIC) {
                int len = b.getInt(p + RecordLayout.LENGTH_OFFSET);
                int type = b.get(p + RecordLayout.TYPE_OFFSET);
                out.add(new Rec(name, p, len, type, b.getLong(p + RecordLayout.GENERATION_OFFSET), first));
                first = false;
                p += len;
                if (type == RecordLayout.TYPE_NEXT_SEGMENT) {
                    break;
                }
            }
        }
        return out;
    }
}
