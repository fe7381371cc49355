package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writes to different sectors of the same block from several threads at once: each is a
 * read-modify-write of the whole block, and none may be lost.
 */
class PartialWriteRaceTest {
    @Test
    void concurrentSectorWritesToOneBlockAreAllKept(@TempDir Path tmp) throws Exception {
        int threads = 8;
        int blocks = 64;
        try (Store store = Store.create(tmp.resolve("s"), StoreOptions.defaults().withGcIntervalMillis(0))) {
            Volume v = store.createVolume("v", blocks * 4096L, 4096);
            AtomicReference<Throwable> error = new AtomicReference<>();
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int sector = t; // thread t owns sector t of every block
                ts.add(new Thread(() -> {
                    try {
                        for (int round = 1; round <= 20; round++) {
                            for (int b = 0; b < blocks; b++) {
                                byte[] d = new byte[512];
                                java.util.Arrays.fill(d, (byte) (sector * 20 + round));
                                v.write(b * 4096L + sector * 512L, d, 0, 512);
                            }
                        }
                    } catch (Throwable e) {
                        error.compareAndSet(null, e);
                    }
                }));
            }
            ts.forEach(Thread::start);
            for (Thread t : ts) {
                t.join();
            }
            if (error.get() != null) {
                throw new AssertionError(error.get());
            }
            byte[] all = new byte[blocks * 4096];
            v.read(0, all, 0, all.length);
            for (int b = 0; b < blocks; b++) {
                for (int s = 0; s < threads; s++) {
                    assertEquals((byte) (s * 20 + 20), all[b * 4096 + s * 512], "block " + b + " sector " + s + " lost its last write");
                }
            }
        }
    }
}
