package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.log.Log;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The data streams' write-back windows: small writes are held in memory until a window fills,
 * a flush or a commit, and every read in between sees them, including reads that cross from
 * one window into the next or into the file.
 */
class WriteWindowTest {
    private static final Path ROOT = Path.of("/mem/windows");
    private static final int BLOCK = 4096;

    private static StoreOptions options(CrashableStorage s) {
        return StoreOptions.defaults().withSegmentSize(8 << 20).withCommitIntervalMillis(0)
                .withDirtyBytesLimit(Long.MAX_VALUE).withGcIntervalMillis(0).withStorage(p -> s);
    }

    private static byte[] read(BlockDevice d, long off, int len) throws IOException {
        byte[] b = new byte[len];
        d.read(off, b, 0, len);
        return b;
    }

    @Test
    void readsSeeWritesStillInTheirWindowsAndAcrossWindowEdges() throws Exception {
        CrashableStorage disk = new CrashableStorage(ROOT);
        // 700 sequential one-block writes: adjacent in the log, so they merge into 64-block
        // extents, and 700 blocks span three 1 MiB windows whose edges fall inside extents
        int n = 700;
        byte[] all = new byte[n * BLOCK];
        new Random(5).nextBytes(all);
        try (Store store = Store.create(ROOT, options(disk))) {
            Volume v = store.createVolume("v", 16L << 20);
            v.write(0, new byte[BLOCK], 0, BLOCK); // the window starts one block in
            for (int i = 0; i < n; i++) {
                v.write((long) (i + 1) * BLOCK, all, i * BLOCK, BLOCK);
                if (i == 333) {
                    // a flush in the middle detaches a part-filled window: the next starts
                    // straight after it, inside the first one's nominal 1 MiB
                    store.flush();
                }
            }
            assertTrue(n * BLOCK > 2 * Log.WINDOW_BYTES);
            assertArrayEquals(all, read(v, BLOCK, all.length), "one read over every window, before any flush");
            Random r = new Random(6);
            for (int k = 0; k < 200; k++) {
                int a = r.nextInt(n);
                int len = 1 + r.nextInt(Math.min(200, n - a));
                assertArrayEquals(Arrays.copyOfRange(all, a * BLOCK, (a + len) * BLOCK),
                        read(v, (long) (a + 1) * BLOCK, len * BLOCK), "blocks " + a + "+" + len);
            }
            store.flush();
            assertArrayEquals(all, read(v, BLOCK, all.length), "after the flush");
            store.commit();
            assertArrayEquals(all, read(v, BLOCK, all.length), "after the commit");
        }
        try (Store store = Store.open(ROOT, options(disk))) {
            assertArrayEquals(all, read(store.volume("v"), BLOCK, all.length), "after reopening");
        }
    }

    @Test
    void aFailedWindowWriteFailsTheStoreAndTheLastFlushSurvives() throws Exception {
        CrashableStorage disk = new CrashableStorage(ROOT);
        byte[] flushed = new byte[64 * BLOCK];
        new Random(7).nextBytes(flushed);
        try (Store store = Store.create(ROOT, options(disk))) {
            store.createVolume("v", 16L << 20).write(0, flushed, 0, flushed.length);
        }
        Store store = Store.open(ROOT, options(disk));
        Volume v = store.volume("v");
        v.write(0, flushed, 0, flushed.length);
        v.flush();
        byte[] lost = new byte[BLOCK];
        v.write(0, lost, 0, BLOCK); // opens a segment and a window
        // the next write to any file fails: the window holding the writes
        disk.failAt(CrashableStorage.Op.WRITE, 1, true, false);
        v.write(BLOCK, lost, 0, BLOCK); // accepted into its window; the failure comes when it is written
        assertThrows(IOException.class, v::flush);
        assertThrows(StoreFailedException.class, () -> v.write(2 * BLOCK, lost, 0, BLOCK),
                "after a failed window write nothing more is accepted");
        try {
            store.close();
        } catch (IOException expected) {
            // the close cannot commit either
        }
        try (Store again = Store.open(ROOT, options(disk.crash(new Random(8))))) {
            assertArrayEquals(flushed, read(again.volume("v"), 0, flushed.length), "the last flush is what opens");
        }
    }
}
