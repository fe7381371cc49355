package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 100,000 snapshots in one store (100 volumes, 1,000 group snapshots): every one is listed,
 * the store reopens, and one more snapshot appends a few KiB to the log, as with one snapshot
 * in an empty store. (How long listing takes is a benchmark figure, not a test.)
 */
class ScaleTest {
    /** Bytes of records one snapshot appends (the store has no fill ahead of its log, which would count too). */
    private static long bytesForOneSnapshot(Store store, String volume, String name) throws IOException {
        store.flush();
        long before = store.bytesAppended();
        store.snapshot(volume, name, Map.of());
        return store.bytesAppended() - before;
    }

    @Test
    void aHundredThousandSnapshots(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("s");
        StoreOptions o = StoreOptions.defaults().withGcIntervalMillis(0).withCommitIntervalMillis(0)
                .withMetaFill(false);
        List<String> vols = new ArrayList<>();
        long small;
        long large;
        try (Store store = Store.create(dir, o)) {
            store.createVolume("first", 1L << 30).write(0, new byte[4096], 0, 4096);
            small = bytesForOneSnapshot(store, "first", "one");
            for (int v = 0; v < 100; v++) {
                store.createVolume("vm" + v, 1L << 30).write(v * 4096L, new byte[] {(byte) v}, 0, 1);
                vols.add("vm" + v);
            }
            for (int g = 0; g < 1000; g++) {
                store.snapshotGroup("g" + g, vols, Map.of());
            }
            assertEquals(100_001, store.snapshots().size());
            large = bytesForOneSnapshot(store, "vm7", "one-more");
            long t0 = System.nanoTime();
            int n = store.snapshots().size();
            System.out.printf("listing %d snapshots took %.1f ms; one snapshot appended %d bytes with 1 snapshot, "
                    + "%d bytes with 100,001%n", n, (System.nanoTime() - t0) / 1e6, small, large);
        }
        assertTrue(large <= 8 * 1024, "one snapshot appended " + large + " bytes to the log at 100,001 snapshots");
        assertTrue(large <= 4 * Math.max(small, 4096), "a snapshot's cost grew with the count: " + small + " -> " + large);
        try (Store store = Store.open(dir, o)) {
            assertEquals(100_002, store.snapshots().size());
            store.revert("vm42", "g500", null);
            byte[] b = new byte[1];
            store.device("vm42@g999").read(42 * 4096L, b, 0, 1);
            assertArrayEquals(new byte[] {42}, b);
            store.destroySnapshot("vm42", "g0");
            assertEquals(100_001, store.snapshots().size());
        }
    }
}
