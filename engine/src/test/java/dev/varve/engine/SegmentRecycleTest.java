package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.io.CrashableStorage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Freed data segment files kept and reused as new segments, on real files and through power cuts. */
class SegmentRecycleTest {
    private static final int MIB = 1 << 20;
    private static final int SIZE = 8 * MIB;

    /** Commits wake the collector; its interval never comes within a test. */
    private static StoreOptions options() {
        return StoreOptions.defaults().withSegmentSize(MIB).withCommitIntervalMillis(0)
                .withDirtyBytesLimit(Long.MAX_VALUE).withGcIntervalMillis(3_600_000).withGcGarbageRatio(0.2);
    }

    private static long segmentFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".seg")).count();
        }
    }

    /** Overwrites the volume with random 256 KiB chunks, a commit after each pass, until files are kept. */
    private static void churnUntilRecycled(Store store, byte[] model, Random r) throws Exception {
        Volume v = store.volume("v");
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (store.recycledSegments() == 0) {
            assertTrue(System.nanoTime() < deadline, "the collector kept no freed segment file in 20 s");
            for (int i = 0; i < SIZE / (256 << 10); i++) {
                byte[] d = new byte[256 << 10];
                r.nextBytes(d);
                int at = r.nextInt(SIZE / (256 << 10)) * (256 << 10);
                v.write(at, d, 0, d.length);
                System.arraycopy(d, 0, model, at, d.length);
            }
            store.commit();
            Thread.sleep(20);
        }
    }

    @Test
    void freedDataSegmentsBecomeTheNextSegmentsInsteadOfNewFiles(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("s");
        Random r = new Random(11);
        byte[] model = new byte[SIZE];
        try (Store store = Store.create(dir, options())) {
            store.createVolume("v", SIZE);
            churnUntilRecycled(store, model, r);
            store.pauseCollector();
            // a pass may still be finishing: the counts must agree and stay so
            assertTrue(steady(() -> store.info().segmentCount() + store.recycledSegments() == segmentFiles(dir)),
                    "the kept files are on disk beside the live segments");
            int kept = store.recycledSegments();
            // write until a new segment appears: it is one of the files already there, renamed
            java.util.Set<String> names = names(dir);
            java.util.Set<Object> inodes = new java.util.HashSet<>();
            for (String n : names) {
                inodes.add(Files.getAttribute(dir.resolve(n), "unix:ino"));
            }
            Volume v = store.volume("v");
            int written = 0;
            Path fresh = null;
            while (fresh == null) {
                byte[] d = new byte[64 << 10];
                r.nextBytes(d);
                int at = r.nextInt(SIZE / d.length) * d.length;
                v.write(at, d, 0, d.length);
                System.arraycopy(d, 0, model, at, d.length);
                written += d.length;
                assertTrue(written < 4 * MIB, "4 MiB written and no new segment");
                for (String n : names(dir)) {
                    if (n.endsWith(".seg") && !names.contains(n)) {
                        fresh = dir.resolve(n);
                    }
                }
            }
            assertTrue(inodes.contains(Files.getAttribute(fresh, "unix:ino")),
                    "the new segment " + fresh.getFileName() + " is a kept file renamed, not a new file");
            v.flush();
            byte[] all = new byte[SIZE];
            v.read(0, all, 0, SIZE);
            assertArrayEquals(model, all);
            store.resumeCollector();
            store.gc();
            assertEquals(store.info().segmentCount(), segmentFiles(dir), "an explicit collection gives freed files back");
        }
        try (Store store = Store.open(dir, options())) {
            byte[] all = new byte[SIZE];
            store.volume("v").read(0, all, 0, SIZE);
            assertArrayEquals(model, all);
        }
    }

    /** A check that can fail; the files may change under it while a collector pass finishes. */
    private interface Check {
        boolean holds() throws IOException;
    }

    /**
     * True once {@code c} holds at five looks in a row, 20 ms apart (a pass that was running
     * when the collector was paused has finished by then); false if that never happens in 10 s.
     */
    private static boolean steady(Check c) throws Exception {
        long until = System.nanoTime() + 10_000_000_000L;
        int inRow = 0;
        while (inRow < 5 && System.nanoTime() < until) {
            inRow = c.holds() ? inRow + 1 : 0;
            Thread.sleep(20);
        }
        return inRow == 5;
    }

    private static java.util.Set<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(java.util.stream.Collectors.toSet());
        }
    }

    @Test
    void closingDeletesTheKeptFiles(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("s");
        int live;
        try (Store store = Store.create(dir, options())) {
            store.createVolume("v", SIZE);
            churnUntilRecycled(store, new byte[SIZE], new Random(12));
            store.pauseCollector();
            live = store.info().segmentCount();
            assertTrue(store.recycledSegments() > 0);
            assertTrue(store.info().bytesOnDisk() > live * (long) MIB / 2, "kept files count as bytes on disk");
        }
        // a pass still finishing may have deleted more; kept files left behind would be more
        assertTrue(segmentFiles(dir) <= live, segmentFiles(dir) + " segment files after close, " + live + " live");
    }

    @Test
    void wipingStoresNeverKeepFreedFiles(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("s");
        try (Store store = Store.create(dir, options().withWipeOnReclaim(true))) {
            Volume v = store.createVolume("v", SIZE);
            byte[] d = new byte[MIB];
            // overwrite and commit until the background collector has deleted files
            long most = 0;
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (segmentFiles(dir) >= most) {
                assertTrue(System.nanoTime() < deadline, "the collector reclaimed nothing in 20 s");
                for (int off = 0; off < SIZE; off += MIB) {
                    v.write(off, d, 0, d.length);
                }
                store.commit();
                most = Math.max(most, segmentFiles(dir));
                Thread.sleep(20);
            }
            assertEquals(0, store.recycledSegments());
            // a pass may still be deleting: kept files would leave more files than segments for good
            store.pauseCollector();
            assertTrue(steady(() -> store.info().segmentCount() == segmentFiles(dir)),
                    "no freed segment file is kept: " + store.info().segmentCount() + " segments, " + segmentFiles(dir)
                            + " files");
        }
    }

    /**
     * Reuse under power cuts: once freed files are kept, random writes and flushes go on (new
     * data segments are kept files, renamed and given a new header) and the disk is cut at a
     * random moment; every flushed byte is there after reopening, and a second open agrees.
     */
    @Test
    void everyFlushedWriteSurvivesAPowerCutWhileFilesAreReused() throws Exception {
        long seed = Long.getLong("varve.seed", System.nanoTime());
        Random r = new Random(seed);
        Path root = Path.of("/mem/recycle");
        for (int round = 0; round < 6; round++) {
            String context = "seed " + seed + " round " + round;
            CrashableStorage disk = new CrashableStorage(root);
            StoreOptions o = options().withStorage(p -> disk);
            byte[] live = new byte[SIZE];
            byte[] flushed;
            try (Store store = Store.create(root, o)) {
                store.createVolume("v", SIZE);
                Volume v = store.volume("v");
                // a collector pass nudged by the last commit may take the kept file for its own
                // copy before the flushes below start: churn again until one is still kept
                int reusedBefore;
                long deadline = System.nanoTime() + 20_000_000_000L;
                do {
                    churnUntilRecycled(store, live, r);
                    v.flush();
                    reusedBefore = store.recycledSegments();
                } while (reusedBefore == 0 && System.nanoTime() < deadline);
                flushed = live.clone();
                int flushes = 2 + r.nextInt(8);
                for (int f = 0; f < flushes; f++) {
                    for (int i = 0; i < 1 + r.nextInt(24); i++) {
                        byte[] d = new byte[(1 + r.nextInt(16)) * 4096];
                        r.nextBytes(d);
                        int at = r.nextInt((SIZE - d.length) / 4096 + 1) * 4096;
                        v.write(at, d, 0, d.length);
                        System.arraycopy(d, 0, live, at, d.length);
                    }
                    v.flush();
                    flushed = live.clone();
                }
                assertTrue(reusedBefore > 0, context);
                CrashableStorage image = disk.crash(r);
                disk.powerOff(); // the original store must not write over the image
                StoreOptions after = options().withStorage(p -> image);
                try (Store again = Store.open(root, after)) {
                    byte[] all = new byte[SIZE];
                    again.volume("v").read(0, all, 0, SIZE);
                    assertArrayEquals(flushed, all, context + ": the volume differs from its last flush");
                }
                CrashableStorage second = image.crash(r);
                try (Store again = Store.open(root, options().withStorage(p -> second))) {
                    byte[] all = new byte[SIZE];
                    again.volume("v").read(0, all, 0, SIZE);
                    assertArrayEquals(flushed, all, context + ": a second cut lost what the first open committed");
                }
            } catch (IOException closing) {
                // closing the original store fails after powerOff, as it should; a failure before
                // the checks above would have failed them
                if (!String.valueOf(closing.getMessage()).contains("power")) {
                    throw closing;
                }
            }
        }
    }
}
