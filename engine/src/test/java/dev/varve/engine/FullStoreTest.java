package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A store with a size limit, filled until it refuses and freed again, many times: the refusal is
 * a clear out-of-space error that writes nothing, snapshots, destroy and collection keep
 * working when full, and nothing acknowledged is ever lost.
 */
class FullStoreTest {
    private static byte[] read(BlockDevice d) throws Exception {
        byte[] b = new byte[(int) d.size()];
        d.read(0, b, 0, b.length);
        return b;
    }

    @Test
    void fiftyFillAndFreeCycles(@TempDir Path tmp) throws Exception {
        fillAndFree(tmp.resolve("s"), 50, 16);
    }

    /**
     * A flush after every 64 KiB write, so each carries its data in its intent record until the
     * store nears its limit: filling and freeing still loses nothing and never wedges the store.
     */
    @Test
    void fillAndFreeCyclesWithAFlushAfterEveryWrite(@TempDir Path tmp) throws Exception {
        fillAndFree(tmp.resolve("s"), 12, 1);
    }

    private static void fillAndFree(Path dir, int cycles, int flushEvery) throws Exception {
        StoreOptions o = StoreOptions.defaults().withSegmentSize(1 << 20).withMaxSizeBytes(16L << 20)
                .withCommitIntervalMillis(0).withGcIntervalMillis(60_000);
        int size = 6 << 20;
        byte[] model = new byte[size];
        Map<String, byte[]> snaps = new HashMap<>();
        Random r = new Random(Long.getLong("varve.seed", 11));
        int refusals = 0;
        try (Store store = Store.create(dir, o)) {
            Volume v = store.createVolume("v", size);
            for (int cycle = 0; cycle < cycles; cycle++) {
                int n = 0;
                while (true) {
                    int off = r.nextInt(size / 65536) * 65536;
                    byte[] d = new byte[65536];
                    r.nextBytes(d);
                    try {
                        v.write(off, d, 0, d.length);
                    } catch (OutOfSpaceException full) {
                        assertTrue(full.getMessage().contains("full") && full.getMessage().contains("varve gc"),
                                full.getMessage());
                        refusals++;
                        break;
                    }
                    System.arraycopy(d, 0, model, off, d.length);
                    if (++n % flushEvery == 0) {
                        store.flush();
                    }
                    if (n % 16 == 0 && snaps.size() < 3) {
                        String name = "c" + cycle + "n" + n;
                        store.snapshot("v", name, Map.of());
                        snaps.put("v@" + name, model.clone());
                    }
                    assertTrue(n < 100_000, "the limit never stopped the writes");
                }
                // full: still readable, still able to snapshot, flush, destroy and collect
                assertArrayEquals(model, read(v), "cycle " + cycle + ": the refused write changed nothing");
                store.flush();
                store.snapshot("v", "full" + cycle, Map.of());
                snaps.put("v@full" + cycle, model.clone());
                for (var e : snaps.entrySet()) {
                    assertArrayEquals(e.getValue(), read(store.device(e.getKey())), e.getKey());
                }
                List<String> names = new ArrayList<>(snaps.keySet());
                for (String s : names) {
                    store.destroySnapshot("v", s.substring(2));
                    snaps.remove(s);
                }
                store.gc();
                byte[] d = new byte[4096];
                v.write(0, d, 0, d.length); // space came back
                System.arraycopy(d, 0, model, 0, d.length);
            }
            store.flush();
        }
        assertTrue(refusals == cycles, "every cycle ended in a refusal: " + refusals);
        try (Store store = Store.open(dir, StoreOptions.defaults().withSegmentSize(1 << 20).withMaxSizeBytes(16L << 20))) {
            assertArrayEquals(model, read(store.volume("v")), "after reopening");
            assertThrows(IllegalArgumentException.class, () -> StoreOptions.defaults().withMaxSizeBytes(1 << 20));
        }
    }

    @Test
    void theLimitIsKeptInTheStore(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("s");
        StoreOptions o = StoreOptions.defaults().withSegmentSize(1 << 20).withGcIntervalMillis(0);
        try (Store store = Store.create(dir, o)) {
            store.createVolume("v", 64 << 20);
            store.setMaxSize(12L << 20);
            assertThrows(IllegalArgumentException.class, () -> store.setMaxSize(4L << 20));
        }
        try (Store store = Store.open(dir, o)) {
            assertTrue(store.maxSize() == 12L << 20, "kept across opens: " + store.maxSize());
            Volume v = store.volume("v");
            byte[] d = new byte[1 << 20];
            OutOfSpaceException e = assertThrows(OutOfSpaceException.class, () -> {
                for (int i = 0; i < 64; i++) {
                    v.write((long) i << 20, d, 0, d.length);
                }
            });
            assertTrue(e.getMessage().contains("limited to"), e.getMessage());
            store.setMaxSize(0);
            v.write(63L << 20, d, 0, d.length); // no limit: the write goes through
        }
    }
}
