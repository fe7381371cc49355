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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real JVM writing and flushing, killed with SIGKILL at a random moment 150 to 450 ms after it
 * says its store is open, 100 times over one store: after each kill the store opens, every
 * acknowledged flush is there, and what it holds is exactly the state after some prefix of the
 * writes (never a torn or foreign block). At least 90 of the 100 kills must come after an
 * acknowledged flush, or the test tested too little.
 */
class KillTest {
    private static final int CYCLES = 100 * Soak.factor();
    /** The kill comes this long after the child says its store is open, plus up to the spread. */
    private static final int KILL_AFTER_MIN_MILLIS = 150;
    private static final int KILL_AFTER_SPREAD_MILLIS = 300;

    @Test
    void sigkillNeverLosesAnAcknowledgedFlush(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("store");
        try (Store store = Store.create(dir)) {
            store.createVolume("v", (long) KillChild.BLOCKS * Stamp.BLOCK, Stamp.BLOCK);
        }
        Replay replay = Replay.start("KillTest.sigkillNeverLosesAnAcknowledgedFlush");
        Random r = new Random(replay.base);
        Stamp[] expected = new Stamp[KillChild.BLOCKS];
        long ackedTotal = 0;
        int cyclesWithAFlush = 0;
        for (int cycle = 1; cycle <= CYCLES; cycle++) {
            long seed = replay.seed(cycle);
            String ctx = "KillTest seed " + replay.base + " cycle " + cycle + " (child seed " + seed + "; the plans"
                    + " replay with -Dvarve.seed, the kill moments do not)";
            Path err = tmp.resolve("child-" + cycle + ".err");
            Process p = child(dir, cycle, seed, err);
            AtomicLong acked = new AtomicLong();
            CountDownLatch ready = new CountDownLatch(1);
            List<String> other = new ArrayList<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        if (line.startsWith("acked ")) {
                            acked.set(Long.parseLong(line.substring(6)));
                        } else if (line.equals("ready")) {
                            ready.countDown();
                        } else {
                            synchronized (other) {
                                other.add(line);
                            }
                        }
                    }
                } catch (IOException ignored) {
                    // the child is gone
                }
            });
            reader.start();
            // the store is open in the child: it writes and flushes from now on
            if (!ready.await(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
                fail(ctx + ": the child never said it was ready: " + other + Files.readString(err));
            }
            Thread.sleep(KILL_AFTER_MIN_MILLIS + r.nextInt(KILL_AFTER_SPREAD_MILLIS));
            p.destroyForcibly(); // SIGKILL
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), ctx + ": the child did not die");
            reader.join(10_000);
            assertEquals(137, p.exitValue(), ctx + ": the child ended on its own: " + other + Files.readString(err));
            // everything the child printed before it died has been read: these flushes came before the kill
            if (acked.get() > 0) {
                cyclesWithAFlush++;
            }
            ackedTotal += acked.get();
            verify(dir, cycle, seed, acked.get(), expected, ctx);
        }
        Report rep = Fsck.check(dir, false);
        assertTrue(rep.clean(), rep.summary());
        System.out.println("SIGKILL cycles: " + CYCLES + ", " + cyclesWithAFlush + " of them killed after an acknowledged"
                + " flush; writes covered by acknowledged flushes: " + ackedTotal);
        assertTrue(cyclesWithAFlush >= CYCLES * 9 / 10, "only " + cyclesWithAFlush + " of " + CYCLES
                + " cycles were killed after an acknowledged flush: the kills came too early to test much");
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
        // a child that starts fast and leaves the machine's two cores to the rest of the build
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.add("-XX:+UseSerialGC");
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
