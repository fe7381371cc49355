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
import org.junit.jupiter.api.Test;

/**
 * Bit rot, bit by bit: every bit of one record of each metadata kind (and of the superblock
 * slots and a segment header) in a small store, and at least 10,000 random bits of live data
 * blocks. Every flip must be found, by fsck or by a corruption error on read; a read that
 * succeeds must return exactly what some commit of the store held, never a wrong byte.
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
            committed.computeIfAbsent(v.name(), k -> new ArrayList<>()).add(Workload.read(store.volume(v.name())));
        }
        for (var s : store.snapshots()) {
            committed.computeIfAbsent(s.fullName(), k -> new ArrayList<>()).add(Workload.read(store.device(s.fullName())));
        }
    }

    /** A small store with every kind of metadata record: trees, catalog, blobs, commits. */
    private CrashableStorage smallStore() throws IOException {
        CrashableStorage disk = new CrashableStorage(ROOT);
        Random r = new Random(42);
        try (Store store = Store.create(ROOT, options(disk))) {
            Volume a = store.createVolume("a", 64 * 1024, 512);
            Volume b = store.createVolume("b", 64 * 1024, 4096);
            for (int i = 0; i < 6; i++) {
                byte[] d = new byte[1 + r.nextInt(9000)];
                r.nextBytes(d);
                a.write(r.nextInt(50_000), d, 0, d.length);
                b.write(4096L * r.nextInt(12), d, 0, Math.min(d.length, 4096));
            }
            store.flush();
            remember(store);
            store.snapshot("a", "s1", Map.of("vm", "x".repeat(3000)));
            store.setProperty("b", "config", "<domain>" + "y".repeat(2000) + "</domain>");
            a.trim(1000, 20_000);
            store.flush();
            remember(store);
            store.clone("a", "s1", "c");
            remember(store);
        }
        try (Store store = Store.open(ROOT, options(disk))) {
            remember(store);
        }
        return disk;
    }

    private record Span(String file, long offset, int length, String kind) {
    }

    private static long u32(byte[] f, int at) {
        return ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).getInt(at) & 0xFFFFFFFFL;
    }

    /** One record of each kind present in the metadata segments (the last one of each). */
    private static Map<String, Span> metadataRecords(CrashableStorage disk) {
        Map<String, Span> found = new LinkedHashMap<>();
        for (String name : disk.list()) {
            if (!name.endsWith(".seg")) {
                continue;
            }
            byte[] f = disk.contents(name);
            int kind = (int) u32(f, SegmentLayout.KIND_OFFSET);
            if (kind != SegmentLayout.KIND_META) {
                continue;
            }
            found.putIfAbsent("segment-header", new Span(name, 0, SegmentLayout.CRC_OFFSET + SegmentLayout.CRC_BYTES,
                    "segment-header"));
            int p = SegmentLayout.HEADER_BYTES;
            while (p + RecordLayout.HEADER_BYTES <= f.length && u32(f, p) == (RecordLayout.MAGIC & 0xFFFFFFFFL)) {
                int len = (int) u32(f, p + RecordLayout.LENGTH_OFFSET);
                String type = RecordLayout.typeName(f[p + RecordLayout.TYPE_OFFSET]);
                found.put(type, new Span(name, p, len, type));
                p += len;
            }
        }
        for (int slot = 0; slot < SuperblockLayout.SLOTS; slot++) {
            found.put("superblock-" + slot, new Span(SuperblockLayout.FILE_NAME, (long) slot * SuperblockLayout.SLOT_BYTES,
                    SuperblockLayout.CRC_OFFSET + SuperblockLayout.CRC_BYTES, "superblock-" + slot));
        }
        return found;
    }

    /** Opens the damaged image and reads everything; a wrong byte fails the test. */
    private String readEverything(CrashableStorage disk) {
        // read-only, so that the image under test is not rewritten (a close writes a superblock)
        try (Store store = Store.open(ROOT, options(disk).withReadOnly(true))) {
            for (var v : store.volumes()) {
                check(v.name(), Workload.read(store.volume(v.name())));
            }
            for (var s : store.snapshots()) {
                check(s.fullName(), Workload.read(store.device(s.fullName())));
            }
            return "read back correctly";
        } catch (IOException | IllegalArgumentException e) {
            return "refused: " + e.getMessage();
        }
    }

    private void check(String name, byte[] got) {
        List<byte[]> states = committed.get(name);
        assertTrue(states != null, "a volume or snapshot that never existed appeared: " + name);
        for (byte[] s : states) {
            if (java.util.Arrays.equals(s, got)) {
                return;
            }
        }
        fail("wrong bytes returned for " + name);
    }

    @Test
    void everyBitOfEveryMetadataKindIsDetected() throws IOException {
        CrashableStorage disk = smallStore();
        assertTrue(Fsck.check(disk, false).clean(), "the undamaged store must check clean");
        Map<String, Span> spans = metadataRecords(disk);
        for (String kind : List.of("extent-leaf", "catalog-leaf", "commit", "blob", "data-summary")) {
            assertTrue(spans.containsKey(kind), "the small store has no " + kind + " record: " + spans.keySet());
        }
        int flips = 0;
        Map<String, Integer> refusedByKind = new LinkedHashMap<>();
        for (Span s : spans.values()) {
            for (long bit = s.offset * 8; bit < (s.offset + s.length) * 8; bit++) {
                disk.flipBit(s.file, bit);
                Report r = Fsck.check(disk, false);
                if (r.clean()) {
                    fail("fsck missed a flip of bit " + (bit - s.offset * 8) + " in the " + s.kind + " record at "
                            + s.file + ":" + s.offset);
                }
                // opening and reading everything costs more than a check: do it for every 7th bit
                if (bit % 7 == 0) {
                    String outcome = readEverything(disk);
                    if (outcome.startsWith("refused")) {
                        refusedByKind.merge(s.kind, 1, Integer::sum);
                    }
                }
                disk.flipBit(s.file, bit);
                flips++;
            }
        }
        System.out.println("metadata bit flips: " + flips + " across " + spans.keySet() + "; refused on read: "
                + refusedByKind);
        Report after = Fsck.check(disk, false);
        assertTrue(after.clean(), "flipping back restores a clean store:\n" + after.summary());
        assertTrue(flips > 5_000, "only " + flips + " flips");
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
