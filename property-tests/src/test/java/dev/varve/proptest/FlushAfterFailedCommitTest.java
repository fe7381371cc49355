package dev.varve.proptest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.Volume;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.io.ForwardingStorage;
import dev.varve.engine.io.StorageFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A flush that waits for a commit the store started by itself (at half the dirty-data limit)
 * must not be acknowledged when that commit fails: the commit took the flush's writes out of
 * the intent log, and its fsync failing leaves them durable nowhere. The order is forced, not
 * timed: the background commit's first fsync blocks until the flushing thread waits for the
 * commit, then fails.
 */
class FlushAfterFailedCommitTest {
    private static final Path ROOT = Path.of("/mem/flush");

    @Test
    void aFlushWaitingForAFailedBackgroundCommitIsRefused() throws Exception {
        CrashableStorage disk = new CrashableStorage(ROOT);
        Gate gate = new Gate(disk);
        StoreOptions o = StoreOptions.defaults().withSegmentSize(1 << 20).withCommitIntervalMillis(0)
                .withDirtyBytesLimit(64 << 10).withGcIntervalMillis(0).withStorage(p -> gate);
        byte[] data = new byte[40 << 10];
        new java.util.Random(1).nextBytes(data);
        Store store = Store.create(ROOT, o);
        Volume v = store.createVolume("v", 1 << 20, 4096);
        store.flush();
        gate.armed = true;
        v.write(0, data, 0, data.length); // past half the limit: a commit starts in the background
        assertTrue(gate.blocked.await(10, TimeUnit.SECONDS), "the background commit never reached its fsync");
        AtomicReference<Object> outcome = new AtomicReference<>();
        Thread flusher = new Thread(() -> {
            try {
                store.flush();
                outcome.set("acknowledged");
            } catch (IOException e) {
                outcome.set(e);
            }
        }, "flusher");
        flusher.start();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (flusher.getState() != Thread.State.WAITING && System.nanoTime() < until) {
            Thread.sleep(1);
        }
        assertTrue(flusher.getState() == Thread.State.WAITING, "the flush did not wait for the commit: "
                + flusher.getState() + ", " + outcome.get());
        gate.release.countDown();
        flusher.join(10_000);
        if ("acknowledged".equals(outcome.get())) {
            // what a power cut now leaves: the acknowledged write must be there
            disk.powerOff();
            try {
                store.close();
            } catch (IOException expected) {
                // the power is gone
            }
            try (Store after = Store.open(ROOT, o.withStorage(p -> disk.crashLosingUnsynced()))) {
                byte[] got = new byte[data.length];
                after.volume("v").read(0, got, 0, got.length);
                assertArrayEquals(data, got, "the flush was acknowledged after the background commit holding its"
                        + " write failed, and a power cut lost the write");
            }
            fail("the flush was acknowledged after the background commit holding its write failed its fsync");
        }
        assertTrue(outcome.get() instanceof IOException, "flush: " + outcome.get());
        try {
            store.close();
        } catch (IOException expected) {
            // the store failed
        }
    }

    /** A storage whose first fsync on the store's background commit thread waits, then fails. */
    private static final class Gate extends ForwardingStorage {
        volatile boolean armed;
        final CountDownLatch blocked = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        Gate(CrashableStorage disk) {
            super(disk);
        }

        private void maybeFail() throws IOException {
            if (armed && Thread.currentThread().getName().startsWith("varve-sync")) {
                armed = false;
                blocked.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new IOException("simulated fsync failure in the background commit");
            }
        }

        @Override
        protected StorageFile wrap(String name, StorageFile f) {
            return new ForwardingStorage.File(f) {
                @Override
                public void force() throws IOException {
                    maybeFail();
                    delegate.force();
                }
            };
        }
    }
}
