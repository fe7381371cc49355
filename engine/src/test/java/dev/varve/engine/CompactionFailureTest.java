package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.io.CrashableStorage.Op;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The compactor's own writes: a failed one fails the store as a user write's would, and a
 * store at its size limit can still compact its emptiest segments into one new one.
 */
class CompactionFailureTest {
    private static final Path ROOT = Path.of("/mem/compaction");
    private static final int SEG = 1 << 20;

    private static StoreOptions options(CrashableStorage s) {
        return StoreOptions.defaults().withSegmentSize(SEG).withCommitIntervalMillis(0).withGcIntervalMillis(0)
                .withRecycleSegments(0).withStorage(p -> s);
    }

    /**
     * A store with a snapshot over data that was then overwritten in every 64 KiB piece but one
     * in four: destroying the snapshot leaves segments a quarter live, which a collection moves.
     */
    private static byte[] storeWithVictims(Store store, Random r) throws IOException {
        int size = 4 * SEG;
        byte[] model = new byte[size];
        Volume v = store.createVolume("v", size);
        byte[] d = new byte[64 << 10];
        for (int off = 0; off < size; off += d.length) {
            r.nextBytes(d);
            v.write(off, d, 0, d.length);
            System.arraycopy(d, 0, model, off, d.length);
        }
        store.snapshot("v", "s", Map.of());
        for (int off = 0; off < size; off += d.length) {
            if ((off / d.length) % 4 != 0) {
                r.nextBytes(d);
                v.write(off, d, 0, d.length);
                System.arraycopy(d, 0, model, off, d.length);
            }
        }
        store.destroySnapshot("v", "s");
        store.flush();
        return model;
    }

    private static byte[] read(BlockDevice d) throws IOException {
        byte[] b = new byte[(int) d.size()];
        d.read(0, b, 0, b.length);
        return b;
    }

    /**
     * Every write the collection makes, failed in turn: the collection fails, and then the store
     * acknowledges no flush or snapshot until reopened; reopened, it holds every flushed byte.
     */
    @Test
    void aFailedCopyFailsTheStore() throws Exception {
        CrashableStorage template = new CrashableStorage(ROOT);
        byte[] model;
        long copyWrites;
        try (Store store = Store.create(ROOT, options(template))) {
            model = storeWithVictims(store, new Random(7));
        }
        // a dry run counts the collection's writes
        CrashableStorage dry = template.crashLosingUnsynced();
        try (Store store = Store.open(ROOT, options(dry))) {
            long before = dry.operations(Op.WRITE);
            GcReport g = store.gc(0.5);
            assertTrue(g.bytesMoved() > 0, "the collection moved nothing: the test has no copy to fail: " + g);
            copyWrites = dry.operations(Op.WRITE) - before;
        }
        assertTrue(copyWrites >= 3, "writes in the collection: " + copyWrites);
        int refusedAfterFailedCopy = 0;
        for (long n = 1; n <= copyWrites; n++) {
            CrashableStorage disk = template.crashLosingUnsynced();
            try (Store store = Store.open(ROOT, options(disk))) {
                disk.failAt(Op.WRITE, n, false, false);
                IOException failed = assertThrows(IOException.class, () -> store.gc(0.5), "write #" + n);
                boolean inCopy = false;
                for (StackTraceElement e : failed.getStackTrace()) {
                    inCopy |= e.getMethodName().equals("copyAhead");
                }
                refusedAfterFailedCopy += inCopy ? 1 : 0;
                assertThrows(StoreFailedException.class, store::flush, "a flush after failing write #" + n);
                assertThrows(StoreFailedException.class, () -> store.snapshot("v", "after", Map.of()),
                        "a snapshot after failing write #" + n);
            } catch (StoreFailedException closing) {
                // closing a failed store commits nothing
            }
            try (Store store = Store.open(ROOT, options(disk.crash(new Random(n))))) {
                assertArrayEquals(model, read(store.volume("v")), "reopened after failing write #" + n);
            }
        }
        assertTrue(refusedAfterFailedCopy > 0, "no failed write was the compactor's copy");
    }

    /**
     * Six of a store's eight segments in use (five of data, each a fifth live, and the meta head)
     * under an 8 MiB limit: writes are refused, and only one new data segment fits beside the
     * metadata log's reserve, not one for the hot and one for the cold stream. The collection
     * moves the survivors into one segment at a time, and writes go through again.
     */
    @Test
    void aFullStoreEmptiesItsSegmentsIntoOne() throws Exception {
        CrashableStorage disk = new CrashableStorage(ROOT);
        int piece = 16 << 10;
        int pieces = 88;
        byte[] model = new byte[pieces * piece];
        Random r = new Random(3);
        try (Store store = Store.create(ROOT, options(disk))) {
            Volume v = store.createVolume("v", model.length);
            byte[] d = new byte[piece];
            // round k rewrites every piece p with p % 5 >= k: each piece's last version is in
            // the round k = p % 5, so every round's segments keep a share of live pieces
            for (int k = 0; k < 5; k++) {
                for (int p = 0; p < pieces; p++) {
                    if (p % 5 >= k) {
                        r.nextBytes(d);
                        v.write((long) p * piece, d, 0, piece);
                        System.arraycopy(d, 0, model, p * piece, piece);
                    }
                }
                store.flush();
            }
        }
        // reopened under the limit: no stream has a head with room to take moved data
        try (Store store = Store.open(ROOT, options(disk).withMaxSizeBytes(8L * SEG))) {
            Volume v = store.volume("v");
            assertTrue(store.log().segmentCount() == 6, "segments: " + store.log().segmentCount());
            byte[] more = new byte[SEG];
            assertThrows(OutOfSpaceException.class, () -> v.write(0, more, 0, more.length), "the store is full");
            store.gc(1.0);
            assertTrue(store.log().segmentCount() <= 4, "segments after collecting: " + store.log().segmentCount());
            r.nextBytes(more);
            v.write(0, more, 0, more.length);
            System.arraycopy(more, 0, model, 0, more.length);
            store.snapshot("v", "emptied", Map.of());
            store.flush();
            assertArrayEquals(model, read(v));
        }
        try (Store store = Store.open(ROOT, options(disk.crash(new Random(1))))) {
            assertArrayEquals(model, read(store.volume("v")), "reopened");
        }
    }
}
