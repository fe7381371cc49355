package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CollectorTest {
    private static final int MIB = 1 << 20;

    private static StoreOptions small() {
        return StoreOptions.defaults().withSegmentSize(MIB).withCommitIntervalMillis(0).withGcIntervalMillis(0);
    }

    private static long segmentBytes(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".seg")).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    private static long segmentFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".seg")).count();
        }
    }

    private static byte[] read(BlockDevice d) throws IOException {
        byte[] b = new byte[(int) d.size()];
        d.read(0, b, 0, b.length);
        return b;
    }

    @Test
    void destroyingEverythingAndCollectingLeavesAtMostTwoSegments(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("s");
        Random r = new Random(1);
        try (Store store = Store.create(dir, small())) {
            for (int v = 0; v < 3; v++) {
                Volume vol = store.createVolume("v" + v, 8 * MIB);
                for (int i = 0; i < 12; i++) {
                    byte[] d = new byte[512 * 1024];
                    r.nextBytes(d);
                    vol.write(r.nextInt(15) * 512L * 1024, d, 0, d.length);
                    store.snapshot("v" + v, "s" + i, Map.of("i", "x".repeat(1000)));
                }
            }
            store.clone("v0", "s2", "c");
            long before = segmentFiles(dir);
            for (VolumeInfo v : store.volumes()) {
                store.destroyVolume(v.name(), true);
            }
            GcReport g = store.gc();
            assertTrue(before > 10, "the workload should have filled many segments: " + before);
            assertTrue(segmentFiles(dir) <= 2, "after destroying everything: " + segmentFiles(dir) + " segments, " + g);
            assertEquals(g.segmentsAfter(), segmentFiles(dir));
        }
        try (Store store = Store.open(dir, small())) {
            assertTrue(store.volumes().isEmpty());
            store.createVolume("again", MIB).write(0, new byte[] {1, 2, 3}, 0, 3);
        }
    }

    @Test
    void overwrittenDataIsReclaimed(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("s");
        int size = 32 * MIB;
        Random r = new Random(2);
        byte[] model = new byte[size];
        try (Store store = Store.create(dir, small())) {
            Volume v = store.createVolume("v", size);
            for (int pass = 0; pass < 3; pass++) {
                for (int off = 0; off < size; off += MIB) {
                    byte[] d = new byte[MIB];
                    r.nextBytes(d);
                    v.write(off, d, 0, d.length);
                    System.arraycopy(d, 0, model, off, d.length);
                }
                store.commit();
            }
            assertTrue(segmentBytes(dir) > 3L * size, "three full passes were written: " + segmentBytes(dir));
            store.gc();
            long after = segmentBytes(dir);
            assertTrue(after <= size * 13L / 10, "store holds " + after + " bytes for a " + size + "-byte volume");
            assertArrayEquals(model, read(v));
        }
        try (Store store = Store.open(dir, small())) {
            assertArrayEquals(model, read(store.volume("v")));
        }
    }

    @Test
    void compactionMovesLiveDataAndKeepsEverySnapshotAndClone(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("s");
        Random r = new Random(3);
        int size = 2 * MIB;
        Map<String, byte[]> model = new HashMap<>();
        List<String> snaps = new ArrayList<>();
        try (Store store = Store.create(dir, small())) {
            Volume a = store.createVolume("a", size, 512);
            model.put("a", new byte[size]);
            for (int i = 0; i < 40; i++) {
                int off = r.nextInt(size - 70_000);
                byte[] d = new byte[1 + r.nextInt(70_000)];
                r.nextBytes(d);
                a.write(off, d, 0, d.length);
                System.arraycopy(d, 0, model.get("a"), off, d.length);
                if (i % 4 == 0) {
                    store.snapshot("a", "s" + i, Map.of());
                    snaps.add("a@s" + i);
                    model.put("a@s" + i, model.get("a").clone());
                }
                if (i == 20) {
                    store.clone("a", "s8", "c");
                    model.put("c", model.get("a@s8").clone());
                    store.volume("c").write(5, new byte[] {9, 9, 9}, 0, 3);
                    System.arraycopy(new byte[] {9, 9, 9}, 0, model.get("c"), 5, 3);
                }
            }
            // drop half the snapshots, then compact every segment that is not full
            for (int i = 0; i < snaps.size(); i += 2) {
                String s = snaps.get(i);
                store.destroySnapshot("a", s.substring(2));
                model.remove(s);
            }
            BlockDevice open = store.device(snaps.get(1));
            BlockDevice gone = store.device(snaps.get(3));
            store.destroySnapshot("a", snaps.get(3).substring(2));
            model.remove(snaps.get(3));
            GcReport g = store.gc(1.0);
            assertTrue(g.bytesMoved() > 0, "something was moved: " + g);
            assertTrue(g.segmentsDeleted() > 0, "something was reclaimed: " + g);
            for (var e : model.entrySet()) {
                assertArrayEquals(e.getValue(), read(store.device(e.getKey())), e.getKey() + " after compaction");
            }
            assertArrayEquals(model.get(snaps.get(1)), read(open), "a view opened before the compaction follows it");
            assertThrows(NoSuchSnapshotException.class, () -> read(gone), "a destroyed snapshot's view refuses reads");
            // the volume keeps working on its moved tree
            store.volume("a").write(100, new byte[] {7}, 0, 1);
            model.get("a")[100] = 7;
        }
        try (Store store = Store.open(dir, small())) {
            for (var e : model.entrySet()) {
                assertArrayEquals(e.getValue(), read(store.device(e.getKey())), e.getKey() + " after reopen");
            }
        }
    }

    @Test
    void collectingToATargetMovesOnlyWhatItMustAndKeepsEveryByte(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("s");
        byte[] model = new byte[24 * MIB];
        Random rnd = new Random(11);
        try (Store store = Store.create(dir, small())) {
            Volume v = store.createVolume("v", model.length);
            rnd.nextBytes(model);
            v.write(0, model, 0, model.length);
            store.commit();
            // overwrite half of it in scattered 64 KiB pieces: every segment keeps some live data
            byte[] piece = new byte[64 << 10];
            for (int i = 0; i < 192; i++) {
                int at = rnd.nextInt(model.length / piece.length) * piece.length;
                rnd.nextBytes(piece);
                v.write(at, piece, 0, piece.length);
                System.arraycopy(piece, 0, model, at, piece.length);
            }
            store.commit();
            long before = store.info().bytesOnDisk();
            assertThrows(IllegalArgumentException.class, () -> store.gcTo(-1));
            GcReport none = store.gcTo(before);
            assertEquals(0, none.bytesMoved(), "a target the store already meets moves nothing: " + none);
            long target = before - 4L * MIB;
            GcReport some = store.gcTo(target);
            assertTrue(some.bytesAfter() <= target, "the target is met: " + some);
            assertTrue(some.bytesMoved() > 0, "meeting it meant moving live data: " + some);
            assertArrayEquals(model, read(v), "every byte survives a targeted collection");
            GcReport rest = store.gc(1.0);
            assertTrue(rest.bytesMoved() > 0 && rest.bytesAfter() < some.bytesAfter(),
                    "a targeted pass leaves the rest for later: " + rest);
            assertArrayEquals(model, read(v));
        }
        try (Store store = Store.open(dir, small())) {
            assertArrayEquals(model, read(store.volume("v")), "after reopen");
        }
    }

    /**
     * The freeze copies what the copy made ahead of it does not cover. By construction that
     * never happens in a pass (a victim is sealed, so what points into it later is an extent
     * the copy saw or a slice of one), so this drives the freeze with an empty copy: every
     * run is copied there, snapshots and the head still share what they shared, and every
     * byte is where it was after a reopen.
     */
    @Test
    void theFreezeCopiesWhatNoCopyAheadCovers(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("s");
        Random rnd = new Random(17);
        byte[] head = new byte[8 * MIB];
        byte[] snap;
        try (Store store = Store.create(dir, small())) {
            Volume v = store.createVolume("v", head.length);
            rnd.nextBytes(head);
            v.write(0, head, 0, head.length);
            store.snapshot("v", "before", Map.of());
            snap = head.clone();
            byte[] piece = new byte[16 << 10];
            for (int i = 0; i < 96; i++) {
                int at = rnd.nextInt(head.length / piece.length) * piece.length;
                rnd.nextBytes(piece);
                v.write(at, piece, 0, piece.length);
                System.arraycopy(piece, 0, head, at, piece.length);
            }
            store.destroySnapshot("v", "before");
            store.commit();
            Collector.Mark m = new Collector(store).mark();
            java.util.Set<Long> victims = new java.util.HashSet<>();
            for (var e : m.sizes.entrySet()) {
                long id = e.getKey();
                if (!m.heads.contains(id) && id < m.watermark && m.live.get(id) > 0
                        && m.live.get(id) < e.getValue() - dev.varve.engine.format.SegmentLayout.HEADER_BYTES) {
                    victims.add(id);
                }
            }
            assertTrue(victims.size() > 2, "the overwrites left partly live segments: " + victims);
            Collector.Moves none = new Collector.Moves();
            long moved = store.compact(victims, none);
            assertTrue(moved > 0 && none.copiedBytes == moved, "the freeze copied the live runs itself: " + moved);
            assertEquals(victims.size(), store.reclaim(victims), "every victim emptied and reclaimed");
            assertArrayEquals(head, read(v), "every byte after a compaction copied inside its freeze");
        }
        try (Store store = Store.open(dir, small())) {
            assertArrayEquals(head, read(store.volume("v")), "after reopen");
        }
    }

    /** The pacer holds a pass back only while users write, and by the share it is given. */
    @Test
    void thePacerYieldsOnlyWhileUsersWrite(@TempDir Path tmp) throws IOException {
        try (Store store = Store.create(tmp.resolve("s"), small().withGcDutyCycle(0.5))) {
            Volume v = store.createVolume("v", MIB);
            Collector.Pacer idle = new Collector.Pacer(store, 0.5);
            spin(3);
            idle.pace();
            assertEquals(0, idle.waitedNanos, "no user write since the slice began: no wait");
            Collector.Pacer busy = new Collector.Pacer(store, 0.5);
            spin(3);
            v.write(0, new byte[4096], 0, 4096);
            busy.pace();
            assertTrue(busy.waitedNanos >= 3_000_000, "a user wrote during a 3 ms slice at duty 0.5: it waits"
                    + " at least as long again, waited " + busy.waitedNanos + " ns");
            Collector.Pacer full = new Collector.Pacer(store, 1.0);
            spin(3);
            v.write(0, new byte[4096], 0, 4096);
            full.pace();
            assertEquals(0, full.waitedNanos, "duty 1 never yields");
            assertThrows(IllegalArgumentException.class, () -> StoreOptions.defaults().withGcDutyCycle(0));
            assertThrows(IllegalArgumentException.class, () -> StoreOptions.defaults().withGcDutyCycle(1.5));
        }
    }

    private static void spin(long millis) {
        long end = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < end) {
            Thread.onSpinWait();
        }
    }

    @Test
    void referencedAndExclusiveBytesAreExact(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("s");
        try (Store store = Store.create(dir, small())) {
            Volume v = store.createVolume("v", 4 * MIB, 4096);
            v.write(0, new byte[100 * 4096], 0, 100 * 4096); // zeros are data too: written blocks
            store.snapshot("v", "s1", Map.of());
            byte[] d = new byte[30 * 4096];
            new Random(4).nextBytes(d);
            v.write(10 * 4096L, d, 0, d.length);
            store.commit();
            Map<String, SpaceInfo> s = byName(store.space());
            assertEquals(100 * 4096L, s.get("v").referenced());
            assertEquals(100 * 4096L, s.get("v@s1").referenced());
            assertEquals(30 * 4096L, s.get("v").exclusive(), "the overwritten blocks are the head's own");
            assertEquals(30 * 4096L, s.get("v@s1").exclusive(), "the blocks they replaced are the snapshot's own");
            store.clone("v", "s1", "c");
            s = byName(store.space());
            assertEquals(0, s.get("v@s1").exclusive(), "a clone shares every block of its snapshot");
            assertEquals(0, s.get("c").exclusive());
            assertEquals(100 * 4096L, s.get("c").referenced());
            assertEquals(4 * MIB, s.get("c").logical());
            store.volume("c").trim(0, 4 * MIB);
            store.commit();
            s = byName(store.space());
            assertEquals(0, s.get("c").referenced());
            assertEquals(30 * 4096L, s.get("v@s1").exclusive());
            SpaceSummary sum = store.spaceSummary();
            assertTrue(sum.liveBytes() >= 130 * 4096L && sum.liveBytes() <= sum.bytesOnDisk(), sum.toString());
        }
    }

    private static Map<String, SpaceInfo> byName(List<SpaceInfo> l) {
        Map<String, SpaceInfo> m = new HashMap<>();
        l.forEach(i -> m.put(i.name(), i));
        return m;
    }

    @Test
    void commitsWakeTheCollectorLongBeforeItsInterval(@TempDir Path tmp) throws Exception {
        // an interval of an hour: only the commit-time trigger can start a pass within the test
        Path dir = tmp.resolve("s");
        try (Store store = Store.create(dir, small().withGcIntervalMillis(3_600_000).withGcGarbageRatio(0.2))) {
            assertReclaimedUnasked(store, dir, "no pass started after the commits");
        }
    }

    @Test
    void backgroundCollectorReclaimsWithoutBeingAsked(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("s");
        try (Store store = Store.create(dir, small().withGcIntervalMillis(50).withGcGarbageRatio(0.2))) {
            assertReclaimedUnasked(store, dir, "the background collector did not reclaim");
            store.pauseCollector();
            assertTrue(store.collectorPaused());
            store.resumeCollector();
        }
    }

    /**
     * Overwrites an 8 MiB volume four times, a commit after each, and waits (20 s at most) for
     * the collector, never called, to bring the files down to half of what was written.
     */
    private static void assertReclaimedUnasked(Store store, Path dir, String failure) throws Exception {
        Volume v = store.createVolume("v", 8 * MIB);
        byte[] d = new byte[MIB];
        for (int pass = 0; pass < 4; pass++) {
            for (int off = 0; off < 8 * MIB; off += MIB) {
                v.write(off, d, 0, d.length);
            }
            store.commit();
        }
        long written = 4L * 8 * MIB;
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (settledSegmentBytes(dir) > written / 2 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        long onDisk = settledSegmentBytes(dir);
        assertTrue(onDisk <= written / 2, failure + ": " + onDisk + " bytes on disk");
    }

    /**
     * The segment files' bytes once two listings 20 ms apart agree: a listing taken while the
     * collector deletes a file, or renames a freed one to the next segment's name for reuse,
     * can miss a whole segment for a moment.
     */
    private static long settledSegmentBytes(Path dir) throws Exception {
        long last = segmentBytes(dir);
        while (true) {
            Thread.sleep(20);
            long now = segmentBytes(dir);
            if (now == last) {
                return now;
            }
            last = now;
        }
    }
}
