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
import java.util.ArrayList;
import java.util.List;

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
