package dev.varve.proptest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.varve.engine.Store;
import dev.varve.fsck.Fsck;
import dev.varve.fsck.Report;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real JVM writing and flushing, killed with SIGKILL at a random moment, 100 times over one
 * store: after each kill the store opens, every acknowledged flush is there, and what it holds
 * is exactly the state after some prefix of the writes (never a torn or foreign block).
 */
class KillTest {
    private static final int CYCLES = 100 * Soak.factor();

    @Test
    void sigkillNeverLosesAnAcknowledgedFlush(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("store");
        try (Store store = Store.create(dir)) {
            store.createVolume("v", (long) KillChild.BLOCKS * Stamp.BLOCK, Stamp.BLOCK);
        }
        long base = Long.getLong("varve.seed", System.nanoTime());
        System.out.println("KillTest seed " + base);
        Random r = new Random(base);
        Stamp[] expected = new Stamp[KillChild.BLOCKS];
        long ackedTotal = 0;
        for (int cycle = 1; cycle <= CYCLES; cycle++) {
            long seed = r.nextLong();
            Path err = tmp.resolve("child-" + cycle + ".err");
            Process p = child(dir, cycle, seed, err);
            AtomicLong acked = new AtomicLong();
            List<String> other = new ArrayList<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        if (line.startsWith("acked ")) {
                            acked.set(Long.parseLong(line.substring(6)));
                        } else if (!line.equals("ready")) {
                            synchronized (other) {
                                other.add(line);
                            }
                        } else {
                            synchronized (acked) {
                                acked.notifyAll();
                            }
                        }
                    }
                } catch (IOException ignored) {
                    // the child is gone
                }
            });
            reader.start();
            Thread.sleep(150 + r.nextInt(400));
            p.destroyForcibly(); // SIGKILL
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the child did not die");
            reader.join(10_000);
            assertEquals(137, p.exitValue(), "cycle " + cycle + ": the child ended on its own: " + other
                    + Files.readString(err));
            ackedTotal += acked.get();
            verify(dir, cycle, seed, acked.get(), expected, "seed " + base + " cycle " + cycle);
        }
        Report rep = Fsck.check(dir, false);
        assertTrue(rep.clean(), rep.summary());
        System.out.println("SIGKILL cycles: " + CYCLES + ", writes covered by acknowledged flushes: " + ackedTotal);
        assertTrue(ackedTotal > 0, "no flush was ever acknowledged: the test tested nothing");
    }

    private static Process child(Path dir, int cycle, long seed, Path err) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-") || a.startsWith("--sun-misc") || a.startsWith("--enable")) {
                cmd.add(a);
            }
        }
        cmd.add("-Xmx256m");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(KillChild.class.getName());
        cmd.add(dir.toString());
        cmd.add(Integer.toString(cycle));
        cmd.add(Long.toString(seed));
        return new ProcessBuilder(cmd).redirectError(err.toFile()).start();
    }

    /**
     * The store must hold the state after writes 1..M of this cycle, for the M it shows, with
     * M at least the last acknowledged flush.
     */
    private static void verify(Path dir, int cycle, long seed, long acked, Stamp[] expected, String ctx)
            throws IOException {
        byte[] all = new byte[KillChild.BLOCKS * Stamp.BLOCK];
        try (Store store = Store.open(dir)) {
            store.volume("v").read(0, all, 0, all.length);
        }
        Stamp[] got = new Stamp[KillChild.BLOCKS];
        long m = 0;
        for (int b = 0; b < KillChild.BLOCKS; b++) {
            try {
                got[b] = Stamp.parse(all, b * Stamp.BLOCK, b);
            } catch (AssertionError e) {
                fail(ctx + ": " + e.getMessage());
            }
            if (got[b] != null && got[b].writer == cycle) {
                m = Math.max(m, got[b].seq);
            }
        }
        if (m < acked) {
            fail(ctx + ": acknowledged flush of write " + acked + " lost; the store shows only up to " + m);
        }
        KillChild.Plan plan = new KillChild.Plan(seed);
        for (long seq = 1; seq <= m; seq++) {
            int b = plan.nextBlock();
            plan.flushAfter();
            expected[b] = new Stamp(cycle, seq, b);
        }
        for (int b = 0; b < KillChild.BLOCKS; b++) {
            Stamp e = expected[b];
            Stamp g = got[b];
            boolean same = e == null ? g == null : g != null && g.writer == e.writer && g.seq == e.seq;
            if (!same) {
                fail(ctx + ": block " + b + " holds " + g + " but the prefix up to write " + m + " gives " + e);
            }
        }
    }
}
