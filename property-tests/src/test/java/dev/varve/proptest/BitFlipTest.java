package dev.varve.proptest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.varve.engine.CorruptionException;
import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.Volume;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.format.SuperblockLayout;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.fsck.Fsck;
import dev.varve.fsck.Problem;
import dev.varve.fsck.Report;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Bit rot, bit by bit: every bit of one record of each kind of metadata record (extent and
 * catalog leaves and interiors, data summary, commit, blob, next-segment, intent with and
 * without inline data), of a metadata and a data segment header and of both superblock slots,
 * in a small store that holds every kind; and at least 10,000 random bits of live data blocks.
 * Every flip must be found by fsck; after every one the store, opened read-only, must return
 * exactly what some commit or flush of it held, or refuse, never a wrong byte.
 */
class BitFlipTest {
    private static final int SOAK = Soak.factor();
    private static final Path ROOT = Path.of("/mem/bitflip");

    private static StoreOptions options(CrashableStorage s) {
        return StoreOptions.defaults().withSegmentSize(1 << 20).withCommitIntervalMillis(0)
                .withDirtyBytesLimit(Long.MAX_VALUE).withNodeCacheBytes(1 << 20).withGcIntervalMillis(0)
                .withStorage(p -> s);
    }

    /** Every committed state of every volume and snapshot, by name; a read must match one. */
    private final Map<String, List<byte[]>> committed = new HashMap<>();

    private void remember(Store store) throws IOException {
        for (var v : store.volumes()) {
            remember(v.name(), Workload.read(store.volume(v.name())));
        }
        for (var s : store.snapshots()) {
            remember(s.fullName(), Workload.read(store.device(s.fullName())));
        }
    }

    /** Newest first, each content once: a read back is compared with the newest first. */
    private void remember(String name, byte[] content) {
        List<byte[]> l = committed.computeIfAbsent(name, k -> new ArrayList<>());
        l.removeIf(b -> java.util.Arrays.equals(b, content));
        l.add(0, content);
    }

    /** Every kind of metadata record, as {@link RecordLayout#typeName} names them, plus the inline intent. */
    private static final List<String> KINDS = List.of("extent-leaf", "extent-interior", "catalog-leaf",
            "catalog-interior", "data-summary", "commit", "blob", "next-segment", "intent", "intent-inline");

    private static final long SEED = 42;
    /** Separate extents in one volume: more than a leaf of the extent tree holds. */
    private static final int EXTENTS = 800;
    /** Snapshots: more catalog entries than a leaf of the catalog tree holds. */
    private static final int SNAPSHOTS = 14;

    /**
     * A small store with every kind of metadata record: a volume of 800 separate extents (an
     * extent tree with an interior node), 14 snapshots (a catalog tree with one), properties
     * (blobs), data summaries and commits, a property large enough that the metadata log moves
     * to a second segment (a next-segment record), and, after the last commit, two flushes still
     * in the intent log: a small one that carries its data in the record (inline) and a large
     * one that does not. The last commit is the one the superblock names (the store was closed
     * and opened again before the flushes). The image is what a power cut leaves, with only
     * synced bytes.
     */
    private CrashableStorage smallStore() throws IOException {
        CrashableStorage disk = new CrashableStorage(ROOT);
        Random r = new Random(SEED);
        Store store = Store.create(ROOT, options(disk));
        // the volumes are reopened below
        Volume a = store.createVolume("a", EXTENTS * 1024L, 512);
        Volume t = store.createVolume("t", 4096, 4096);
        Volume b = store.createVolume("b", 128 * 1024, 4096);
        for (int i = 0; i < EXTENTS; i++) {
            byte[] d = new byte[512];
            r.nextBytes(d);
            a.write(1024L * i, d, 0, d.length); // every other block: an extent each
        }
        store.flush();
        remember(store);
        for (int i = 0; i < SNAPSHOTS; i++) {
            byte[] d = new byte[4096];
            r.nextBytes(d);
            t.write(0, d, 0, d.length);
            store.snapshot("t", "s" + i, Map.of("n", "s" + i));
            remember(store);
        }
        // more than the first meta segment holds: the log goes on in a second one
        store.setProperty("t", "config", "x".repeat(600_000));
        store.setProperty("t", "config", "y".repeat(600_000));
        store.setProperty("t", "config", "<domain/>");
        // the last commit rewrites what the flips go to: a leaf of each small volume, the path to
        // a leaf of the large one, the catalog's path to a changed entry, its properties blob
        byte[] one = new byte[4096];
        r.nextBytes(one);
        a.write(0, one, 0, 512);
        t.write(0, one, 0, 4096);
        b.write(0, one, 0, 4096);
        store.setProperty("b", "note", "last");
        store.close(); // commits, and the superblock names that commit
        store = Store.open(ROOT, options(disk));
        a = store.volume("a");
        b = store.volume("b");
        remember(store);
        byte[] small = new byte[512];
        r.nextBytes(small);
        a.write(8192, small, 0, small.length);
        store.flush(); // at most 64 KiB: an inline intent record
        remember(store);
        byte[] large = new byte[80 * 1024];
        r.nextBytes(large);
        b.write(0, large, 0, large.length);
        store.flush(); // larger: the data segment is forced, the record points at it
        remember(store);
        CrashableStorage image = disk.crashLosingUnsynced();
        disk.powerOff();
        try {
            store.close();
        } catch (IOException expected) {
            // the store is left as a power cut leaves it, its flushes in the intent log
        }
        return image;
    }

    /** @param newest the last record of the log */
    private record Span(String file, long offset, int length, String kind, boolean newest) {
        Span(String file, long offset, int length, String kind) {
            this(file, offset, length, kind, false);
        }
    }

    private static long u32(byte[] f, int at) {
        return ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).getInt(at) & 0xFFFFFFFFL;
    }

    /**
     * One record of each kind in the metadata segments, the smallest of those the last commit
     * wrote (live: on the path of every read), the intent records after it, and the
     * next-segment record; plus the header of a metadata and of a data segment, and both
     * superblock slots.
     */
    private static Map<String, Span> records(CrashableStorage disk) {
        Map<String, Span> found = new LinkedHashMap<>();
        Map<String, Span> last = new LinkedHashMap<>();
        Map<String, Span> intents = new LinkedHashMap<>();
        long lastGen = Long.MIN_VALUE;
        for (String name : disk.list()) {
            if (!name.endsWith(".seg")) {
                continue;
            }
            byte[] f = disk.contents(name);
            int kind = (int) u32(f, SegmentLayout.KIND_OFFSET);
            String header = kind == SegmentLayout.KIND_META ? "meta-segment-header" : "data-segment-header";
            found.putIfAbsent(header, new Span(name, 0, SegmentLayout.CRC_OFFSET + SegmentLayout.CRC_BYTES, header));
            if (kind != SegmentLayout.KIND_META) {
                continue;
            }
            int p = SegmentLayout.HEADER_BYTES;
            while (p + RecordLayout.HEADER_BYTES <= f.length && u32(f, p) == (RecordLayout.MAGIC & 0xFFFFFFFFL)) {
                int len = (int) u32(f, p + RecordLayout.LENGTH_OFFSET);
                int type = f[p + RecordLayout.TYPE_OFFSET];
                long gen = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).getLong(p + RecordLayout.GENERATION_OFFSET);
                String k = RecordLayout.typeName(type);
                if (type == RecordLayout.TYPE_INTENT) {
                    k = intents.isEmpty() ? "intent-inline" : "intent";
                    intents.put(k, new Span(name, p, len, k));
                } else if (type == RecordLayout.TYPE_NEXT_SEGMENT) {
                    found.put(k, new Span(name, p, len, k));
                } else {
                    if (type == RecordLayout.TYPE_COMMIT) {
                        intents.clear(); // intent records before this commit are obsolete
                    }
                    if (gen > lastGen) {
                        lastGen = gen;
                        last.clear();
                    }
                    Span had = last.get(k);
                    if (gen == lastGen && (had == null || len < had.length)) {
                        last.put(k, new Span(name, p, len, k));
                    }
                }
                p += len;
            }
        }
        found.putAll(last);
        found.putAll(intents);
        Span tail = found.get("intent");
        if (tail != null) {
            found.put("intent", new Span(tail.file, tail.offset, tail.length, tail.kind, true));
        }
        for (int slot = 0; slot < SuperblockLayout.SLOTS; slot++) {
            found.put("superblock-" + slot, new Span(SuperblockLayout.FILE_NAME, (long) slot * SuperblockLayout.SLOT_BYTES,
                    SuperblockLayout.CRC_OFFSET + SuperblockLayout.CRC_BYTES, "superblock-" + slot));
        }
        return found;
    }

    /** Opens the damaged image read-only and reads everything; a wrong byte fails the test. */
    private String readEverything(CrashableStorage disk, String where) {
        // read-only, so that the image under test is not rewritten (a close writes a superblock)
        try (Store store = Store.open(ROOT, options(disk).withReadOnly(true))) {
            boolean newest = true;
            for (var v : store.volumes()) {
                newest &= check(v.name(), Workload.read(store.volume(v.name())), where);
            }
            for (var s : store.snapshots()) {
                newest &= check(s.fullName(), Workload.read(store.device(s.fullName())), where);
            }
            return store.openWarning() != null ? "warned" : newest ? "newest" : "older, no warning";
        } catch (IOException | IllegalArgumentException e) {
            return "refused";
        }
    }

    /** True when the content is the newest the store held, false when an older one; a wrong byte fails. */
    private boolean check(String name, byte[] got, String where) {
        List<byte[]> states = committed.get(name);
        if (states == null) {
            fail(where + ": a volume or snapshot that never existed appeared: " + name);
        }
        for (int i = 0; i < states.size(); i++) {
            if (java.util.Arrays.equals(states.get(i), got)) {
                return i == 0;
            }
        }
        fail(where + ": wrong bytes returned for " + name);
        return false;
    }

    /** Whether a report has a problem at the span's file and within its bytes. */
    private static boolean names(Report r, Span s) {
        long segment = SegmentLayout.parseFileName(s.file);
        for (Problem p : r.problems()) {
            if (p.segment() == segment && p.offset() >= s.offset && p.offset() < s.offset + s.length) {
                return true;
            }
        }
        return false;
    }

    @Test
    void everyBitOfEveryMetadataKindIsDetected() throws IOException {
        long start = System.nanoTime();
        CrashableStorage disk = smallStore();
        Report clean = Fsck.check(disk, false);
        assertTrue(clean.clean(), "the undamaged store must check clean:\n" + clean.summary());
        assertEquals("newest", readEverything(disk, "undamaged"), "the undamaged store reads back");
        Map<String, Span> spans = records(disk);
        for (String kind : KINDS) {
            assertTrue(spans.containsKey(kind), "the small store has no " + kind + " record: " + spans.keySet());
        }
        assertTrue(spans.containsKey("data-segment-header") && spans.containsKey("meta-segment-header"), spans.keySet()
                .toString());
        StringBuilder sizes = new StringBuilder();
        spans.values().forEach(x -> sizes.append(sizes.length() == 0 ? "" : ", ").append(x.kind).append(' ')
                .append(x.length));
        System.out.println("metadata records flipped, bytes each: " + sizes);
        int flips = 0;
        long fsckNanos = 0;
        long readNanos = 0;
        Map<String, Integer> tailWarnings = new TreeMap<>();
        Map<String, Map<String, Integer>> outcomes = new LinkedHashMap<>();
        for (Span s : spans.values()) {
            for (long bit = s.offset * 8; bit < (s.offset + s.length) * 8; bit++) {
                String where = "bit " + (bit - s.offset * 8) + " of the " + s.kind + " record at " + s.file + ":"
                        + s.offset;
                disk.flipBit(s.file, bit);
                long t0 = System.nanoTime();
                Report r = Fsck.check(disk, true);
                fsckNanos += System.nanoTime() - t0;
                if (r.clean()) {
                    // the newest record of the log cannot be told from a torn write: fsck must
                    // still point at it (opening drops it as a torn tail); anywhere else a flip
                    // is an error
                    if (!s.newest || !names(r, s)) {
                        fail("fsck missed a flip of " + where + ":\n" + r.summary());
                    }
                    tailWarnings.merge(s.kind, 1, Integer::sum);
                }
                t0 = System.nanoTime();
                outcomes.computeIfAbsent(s.kind, k -> new TreeMap<>()).merge(readEverything(disk, where), 1,
                        Integer::sum);
                readNanos += System.nanoTime() - t0;
                disk.flipBit(s.file, bit);
                flips++;
            }
        }
        System.out.printf("metadata bit flips: %d, every one found by fsck (as a warning at the record only, the log's"
                        + " newest record looking torn: %s) and every one read back (%.0f s: fsck %.0f s, read-back %.0f s):"
                        + " %s%n", flips, tailWarnings, (System.nanoTime() - start) / 1e9, fsckNanos / 1e9, readNanos / 1e9,
                outcomes);
        Report after = Fsck.check(disk, false);
        assertTrue(after.clean(), "flipping back restores a clean store:\n" + after.summary());
    }

    @Test
    void randomFlipsInDataBlocksNeverReturnWrongBytes() throws IOException {
        // one volume written once, block by block: every byte past the segment headers is live
        CrashableStorage disk = new CrashableStorage(ROOT);
        Random r = new Random(Long.getLong("varve.seed", 7));
        byte[] model = new byte[512 * 1024];
        r.nextBytes(model);
        try (Store store = Store.create(ROOT, options(disk))) {
            Volume v = store.createVolume("v", model.length, 4096);
            for (int off = 0; off < model.length; off += 64 * 1024) {
                v.write(off, model, off, 64 * 1024);
            }
            store.snapshot("v", "s", Map.of());
        }
        List<String> dataFiles = new ArrayList<>();
        for (String name : disk.list()) {
            if (name.endsWith(".seg") && u32(disk.contents(name), SegmentLayout.KIND_OFFSET) == SegmentLayout.KIND_DATA) {
                dataFiles.add(name);
            }
        }
        assertFalse(dataFiles.isEmpty());
        int flips = 10_000 * SOAK;
        int detected = 0;
        try (Store store = Store.open(ROOT, options(disk))) {
            Volume v = store.volume("v");
            for (int i = 0; i < flips; i++) {
                String file = dataFiles.get(r.nextInt(dataFiles.size()));
                long size = disk.contents(file).length;
                long bit = SegmentLayout.HEADER_BYTES * 8L + (long) (r.nextDouble() * (size - SegmentLayout.HEADER_BYTES) * 8);
                disk.flipBit(file, bit);
                try {
                    byte[] got = new byte[model.length];
                    (r.nextBoolean() ? v : store.device("v@s")).read(0, got, 0, got.length);
                    assertArrayEquals(model, got, "flip " + i + " at " + file + " bit " + bit + " returned wrong bytes");
                    fail("flip " + i + " at " + file + " bit " + bit + " in a live block went unnoticed");
                } catch (CorruptionException expected) {
                    detected++;
                    assertTrue(expected.getMessage().contains(file.replace(".seg", "")) || expected.getMessage()
                            .contains(file), "the error names the segment: " + expected.getMessage());
                }
                if (i % 500 == 0) {
                    assertFalse(Fsck.check(disk, false).clean(), "fsck finds the damaged block");
                }
                disk.flipBit(file, bit);
            }
        }
        System.out.println("data bit flips: " + flips + ", detected: " + detected);
        assertEquals(flips, detected);
        assertTrue(Fsck.check(disk, false).clean());
    }
}
