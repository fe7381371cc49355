package dev.varve.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.varve.engine.Store;
import dev.varve.fsck.Fsck;
import dev.varve.fsck.Report;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FLUSH and FUA promise durability, and only they do here: the server runs in a child JVM with
 * its commit timer off, qemu-io runs with the writeback cache (its default, writethrough, puts
 * FUA on every write) and kills itself with {@code sigraise 9} after its last command, so it
 * never closes the export (QEMU flushes on close). The server is then SIGKILLed, a new server
 * process is started on the store, and every byte a FLUSH or FUA covered is read back through
 * it. qemu-io's trace of the requests it sent shows that no other flush slipped in.
 */
class FlushKillTest {
    private static final long MiB = 1 << 20;
    private static final int VOLUME_MIB = 64;
    /** A line of qemu-io's {@code nbd_send_request} trace. */
    private static final Pattern SENT = Pattern.compile(
            "nbd_send_request .*\\.from = (\\d+), \\.len = (\\d+), .*\\.flags = 0x([0-9a-f]+), \\.type = (\\d+)");
    private static final Pattern WROTE = Pattern.compile("wrote (\\d+)/\\1 bytes at offset (\\d+)");
    private static final int TYPE_WRITE = 1;
    private static final int TYPE_FLUSH = 3;

    @TempDir
    Path tmp;
    private int launches;

    /** A server in a child JVM, listening on {@code port}. */
    private record Child(Process process, int port, Path log) {
        String url() {
            return "nbd://127.0.0.1:" + port + "/vol";
        }
    }

    /** One NBD request from qemu-io's trace. */
    private record Sent(long from, long len, int flags, int type) {
    }

    @Test
    void flushAndFuaWritesSurviveSigkillOfTheServer() throws Exception {
        Tools.require("qemu-io", "qemu-img");
        Path dir = newStore();
        byte[] expected = new byte[VOLUME_MIB * (int) MiB];

        // 1: plain writes, then one FLUSH; qemu-io dies, then the server
        Child first = launch(dir);
        Tools.Result r = qemuIoThenDie(first.url(), "write -P 0x5a 0 4M", "write -P 0x5b 4097 10000", "flush");
        assertReported(r, 4 * MiB, 0, 10000, 4097);
        List<Sent> sent = trace(r);
        assertEquals(TYPE_FLUSH, sent.get(sent.size() - 1).type(), "the last request is the FLUSH: " + sent);
        for (Sent s : sent.subList(0, sent.size() - 1)) {
            assertEquals(TYPE_WRITE, s.type(), "only writes before the FLUSH: " + sent);
            assertEquals(0, s.flags(), "the writes carry no FUA, so only the FLUSH makes them durable: " + sent);
        }
        sigkill(first);
        fill(expected, 0, 4 * MiB, 0x5a);
        fill(expected, 4097, 10000, 0x5b);
        assertFsckClean(dir);

        // a new server process serves what the FLUSH covered
        Child second = launch(dir);
        Tools.qemuIo(second.url(), "read -P 0x5a 0 4097", "read -P 0x5b 4097 10000",
                "read -P 0x5a 14097 " + (4 * MiB - 14097), "read -P 0 4M 4M").ok();
        assertImageIs(second, expected);

        // 2: FUA writes at separate offsets and no FLUSH at all
        long[][] fua = { // offset, length, pattern
            {8 * MiB, 64 << 10, 0x61},
            {9 * MiB, 4096, 0x62},
            {10 * MiB + 512, 1000, 0x63},
            {11 * MiB, MiB, 0x64},
            {13 * MiB - 100, 200, 0x65},
            {14 * MiB, 3 * MiB, 0x66},
        };
        List<String> commands = new ArrayList<>();
        long[] lengthsAndOffsets = new long[fua.length * 2];
        for (int i = 0; i < fua.length; i++) {
            commands.add("write -f -P 0x" + Long.toHexString(fua[i][2]) + " " + fua[i][0] + " " + fua[i][1]);
            lengthsAndOffsets[2 * i] = fua[i][1];
            lengthsAndOffsets[2 * i + 1] = fua[i][0];
        }
        r = qemuIoThenDie(second.url(), commands.toArray(new String[0]));
        assertReported(r, lengthsAndOffsets);
        sent = trace(r);
        assertFalse(sent.isEmpty(), r.err());
        for (Sent s : sent) {
            assertEquals(TYPE_WRITE, s.type(), "no FLUSH, only FUA writes: " + sent);
            assertEquals(NbdProtocol.CMD_FLAG_FUA, s.flags(), "every write carries FUA: " + sent);
        }
        sigkill(second);
        assertFsckClean(dir);

        Child third = launch(dir);
        List<String> reads = new ArrayList<>(List.of("read -P 0x5a 0 4097", "read -P 0x5b 4097 10000"));
        for (long[] w : fua) {
            reads.add("read -P 0x" + Long.toHexString(w[2]) + " " + w[0] + " " + w[1]);
            fill(expected, w[0], w[1], (int) w[2]);
        }
        Tools.qemuIo(third.url(), reads.toArray(new String[0])).ok();
        assertImageIs(third, expected);
        sigkill(third);
        assertFsckClean(dir);
    }

    @Test
    void fuaWritesReportedDoneSurviveAKillWhileQemuIoWrites() throws Exception {
        Tools.require("qemu-io", "stdbuf");
        Path dir = newStore();
        Child child = launch(dir);
        int writes = 192;
        long size = 256 << 10;
        long base = 16 * MiB;
        List<String> cmd = qemuIoWriteback(child.url());
        for (int i = 0; i < writes; i++) {
            cmd.add("-c");
            cmd.add("write -f -P " + pattern(i) + " " + (base + i * size) + " " + size);
        }
        Path log = tmp.resolve("writer.log");
        Process writer = Tools.start(lineBuffered(cmd), log);
        try {
            // the kill comes once some writes are reported done, most likely with more under way
            awaitOutput(writer, log, out -> WROTE.matcher(out).results().count() >= 3, "three writes done");
            sigkill(child);
            if (!writer.waitFor(120, TimeUnit.SECONDS)) {
                fail("qemu-io did not give up after the server died:\n" + Files.readString(log));
            }
        } finally {
            writer.destroyForcibly();
            child.process().destroyForcibly();
        }
        String out = Files.readString(log);
        TreeMap<Long, Long> reported = new TreeMap<>();
        Matcher m = WROTE.matcher(out);
        while (m.find()) {
            reported.put(Long.parseLong(m.group(2)), Long.parseLong(m.group(1)));
        }
        assertTrue(reported.size() >= 3, out);
        assertFsckClean(dir);

        Child restarted = launch(dir);
        List<String> reads = new ArrayList<>();
        for (var e : reported.entrySet()) {
            long i = (e.getKey() - base) / size;
            assertEquals(base + i * size, e.getKey(), "qemu-io reports a write it was not asked for: " + out);
            assertEquals(size, e.getValue());
            reads.add("read -P " + pattern((int) i) + " " + e.getKey() + " " + size);
        }
        Tools.Result back = Tools.qemuIo(restarted.url(), reads.toArray(new String[0]));
        assertEquals(0, back.exit(), "a FUA write qemu-io reported done (" + reported.size() + " of " + writes
                + ") is missing after the kill:\n" + back.out() + back.err());
        sigkill(restarted);
        assertFsckClean(dir);
    }

    @Test
    void aFlushOnOneConnectionCoversAnotherConnectionsWrites() throws Exception {
        // CAN_MULTI_CONN: a FLUSH makes durable every write any connection had completed
        Tools.require("qemu-io", "stdbuf");
        Path dir = newStore();
        Child child = launch(dir);
        Path logA = tmp.resolve("a.log");
        List<String> a = qemuIoWriteback(child.url());
        a.addAll(List.of("-c", "write -P 0x71 20M 1M", "-c", "sleep 600000"));
        Process procA = Tools.start(lineBuffered(a), logA);
        String outA;
        try {
            // A's write is done, and A stays connected without flushing
            awaitOutput(procA, logA, out -> out.contains("wrote 1048576/1048576 bytes at offset 20971520"),
                    "connection A's write done");
            Tools.Result b = qemuIoThenDie(child.url(), "write -P 0x72 30M 4k", "flush");
            assertReported(b, 4096, 30 * MiB);
            List<Sent> sentB = trace(b);
            assertEquals(TYPE_FLUSH, sentB.get(sentB.size() - 1).type(), "connection B flushes: " + sentB);
            assertTrue(procA.isAlive(), "connection A is still open when the server dies");
            sigkill(child);
        } finally {
            procA.destroyForcibly();
            assertTrue(procA.waitFor(30, TimeUnit.SECONDS));
            child.process().destroyForcibly();
        }
        outA = Files.readString(logA);
        List<Sent> sentA = trace(new Tools.Result(-1, "", outA));
        assertEquals(List.of(new Sent(20 * MiB, MiB, 0, TYPE_WRITE)), sentA,
                "connection A sends one plain write and never flushes");
        assertFsckClean(dir);

        Child restarted = launch(dir);
        Tools.Result back = Tools.qemuIo(restarted.url(), "read -P 0x71 20M 1M", "read -P 0x72 30M 4k");
        assertEquals(0, back.exit(), "a write completed on connection A before connection B's FLUSH is missing:\n"
                + back.out() + back.err());
        sigkill(restarted);
        assertFsckClean(dir);
    }

    // ------------------------------------------------------------------ helpers

    private Path newStore() throws Exception {
        Path dir = tmp.resolve("store");
        try (Store s = Store.create(dir)) {
            s.createVolume("vol", VOLUME_MIB * MiB);
        }
        return dir;
    }

    private Child launch(Path dir) throws Exception {
        int n = ++launches;
        Path portFile = tmp.resolve("port" + n);
        Path log = tmp.resolve("child" + n + ".log");
        Process p = ChildServer.launch(dir, portFile, log);
        return new Child(p, ChildServer.awaitPort(p, portFile, log), log);
    }

    /** SIGKILL (what {@code destroyForcibly} sends on Linux), and proof that it was the kill that ended it. */
    private static void sigkill(Child c) throws Exception {
        c.process().destroyForcibly();
        assertTrue(c.process().waitFor(30, TimeUnit.SECONDS), "the server did not die");
        assertEquals(128 + 9, c.process().exitValue(), "the server ended by SIGKILL, not on its own: "
                + Files.readString(c.log()));
    }

    private static List<String> qemuIoWriteback(String url) {
        return new ArrayList<>(List.of("qemu-io", "-f", "raw", "-t", "writeback", "-T", "nbd_send_request", url));
    }

    /** qemu-io's output as it happens, not when it exits. */
    private static List<String> lineBuffered(List<String> cmd) {
        List<String> out = new ArrayList<>(List.of("stdbuf", "-oL"));
        out.addAll(cmd);
        return out;
    }

    /** Runs the commands, then {@code sigraise 9}: qemu-io never closes the export. */
    private static Tools.Result qemuIoThenDie(String url, String... commands) throws Exception {
        List<String> cmd = qemuIoWriteback(url);
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.addAll(List.of("-c", "sigraise 9"));
        Tools.Result r = Tools.run(cmd);
        assertEquals(128 + 9, r.exit(), "qemu-io should have killed itself; stdout:\n" + r.out() + "\nstderr:\n"
                + r.err());
        return r;
    }

    /** Every write ({@code length, offset} pairs) is reported done in qemu-io's output. */
    private static void assertReported(Tools.Result r, long... lengthsAndOffsets) {
        for (int i = 0; i < lengthsAndOffsets.length; i += 2) {
            String line = "wrote " + lengthsAndOffsets[i] + "/" + lengthsAndOffsets[i] + " bytes at offset "
                    + lengthsAndOffsets[i + 1];
            assertTrue(r.out().contains(line), "qemu-io did not report '" + line + "':\n" + r.out() + r.err());
        }
    }

    private static List<Sent> trace(Tools.Result r) {
        List<Sent> out = new ArrayList<>();
        Matcher m = SENT.matcher(r.err());
        while (m.find()) {
            out.add(new Sent(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Integer.parseInt(m.group(3), 16),
                    Integer.parseInt(m.group(4))));
        }
        return out;
    }

    private static void awaitOutput(Process p, Path log, java.util.function.Predicate<String> done, String what)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!done.test(Files.readString(log))) {
            if (!p.isAlive()) {
                fail("qemu-io exited before " + what + ":\n" + Files.readString(log));
            }
            if (System.nanoTime() > deadline) {
                fail("no " + what + " within 60 s:\n" + Files.readString(log));
            }
            Thread.sleep(10);
        }
    }

    /** The export equals {@code expected} byte for byte ({@code qemu-img compare}). */
    private void assertImageIs(Child c, byte[] expected) throws Exception {
        Path f = tmp.resolve("expected.raw");
        Files.write(f, expected);
        Tools.Result r = Tools.run("qemu-img", "compare", "-f", "raw", "-F", "raw", f.toString(), c.url());
        assertEquals(0, r.exit(), "the restarted server's export differs from what was flushed:\n" + r.out() + r.err());
    }

    private static String pattern(int i) {
        return "0x" + Integer.toHexString(0x10 + i % 0xe0);
    }

    private static void fill(byte[] b, long offset, long length, int value) {
        Arrays.fill(b, (int) offset, (int) (offset + length), (byte) value);
    }

    private static void assertFsckClean(Path dir) {
        Report r = Fsck.check(dir, false);
        assertEquals(0, r.exitCode(), r.summary() + " " + r.problems());
    }
}
