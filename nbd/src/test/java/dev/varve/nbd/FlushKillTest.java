package dev.varve.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import dev.varve.fsck.Fsck;
import dev.varve.fsck.Report;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FLUSH and FUA promise durability: the server, in a child JVM with its commit timer off, is
 * killed with SIGKILL right after qemu-io's flushed writes return; the store reopens with every
 * flushed byte, and fsck finds it clean. Then the same while qemu-io is still writing.
 */
class FlushKillTest {
    private static final long MiB = 1 << 20;

    @TempDir
    Path tmp;

    @Test
    void flushedBytesSurviveSigkill() throws Exception {
        Tools.require("qemu-io");
        Path dir = tmp.resolve("store");
        try (Store s = Store.create(dir)) {
            s.createVolume("vol", 64 * MiB);
        }

        // 1: flush and FUA, then SIGKILL
        Path log = tmp.resolve("child1.log");
        Process child = ChildServer.launch(dir, tmp.resolve("port1"), log);
        try {
            int port = ChildServer.awaitPort(child, tmp.resolve("port1"), log);
            String url = "nbd://127.0.0.1:" + port + "/vol";
            Tools.qemuIo(url, "write -P 0x5a 0 4M", "write -P 0x5b 4097 10000", "flush").ok();
            Tools.qemuIo(url, "write -f -P 0x6b 8M 1M").ok();
        } finally {
            child.destroyForcibly();
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        }
        assertFsckClean(dir);
        try (Store s = Store.open(dir)) {
            Volume v = s.volume("vol");
            assertFilled(v, 0, 4097, 0x5a);
            assertFilled(v, 4097, 10000, 0x5b);
            assertFilled(v, 14097, 4 * MiB - 14097, 0x5a);
            assertFilled(v, 8 * MiB, MiB, 0x6b);
            assertFilled(v, 4 * MiB, 4 * MiB, 0);
        }

        // 2: SIGKILL while qemu-io writes and flushes; what was flushed before it started stays
        Path log2 = tmp.resolve("child2.log");
        Process child2 = ChildServer.launch(dir, tmp.resolve("port2"), log2);
        Process writer = null;
        try {
            int port = ChildServer.awaitPort(child2, tmp.resolve("port2"), log2);
            String url = "nbd://127.0.0.1:" + port + "/vol";
            String[] cmds = new String[40];
            Random r = new Random(11);
            for (int i = 0; i < cmds.length; i += 2) {
                cmds[i] = "write -P 0x" + Integer.toHexString(0x10 + i) + " " + (16 + r.nextInt(40)) + "M 1M";
                cmds[i + 1] = "flush";
            }
            List<String> cmd = new java.util.ArrayList<>(List.of("qemu-io", "-f", "raw", url));
            for (String c : cmds) {
                cmd.add("-c");
                cmd.add(c);
            }
            writer = Tools.start(cmd, tmp.resolve("writer.log"));
            // kill once the writer has made some progress (or finished); no timing is asserted
            Thread.sleep(100 + r.nextInt(200));
        } finally {
            child2.destroyForcibly();
            assertTrue(child2.waitFor(30, TimeUnit.SECONDS));
            if (writer != null) {
                writer.waitFor(60, TimeUnit.SECONDS);
                writer.destroyForcibly();
            }
        }
        assertFsckClean(dir);
        try (Store s = Store.open(dir)) {
            Volume v = s.volume("vol");
            assertFilled(v, 0, 4097, 0x5a);
            assertFilled(v, 8 * MiB, MiB, 0x6b);
        }
        assertFsckClean(dir);
    }

    private static void assertFsckClean(Path dir) {
        Report r = Fsck.check(dir, false);
        assertEquals(0, r.exitCode(), r.summary() + " " + r.problems());
    }

    private static void assertFilled(Volume v, long offset, long length, int value) throws Exception {
        byte[] b = new byte[(int) length];
        v.read(offset, b, 0, b.length);
        for (int i = 0; i < b.length; i++) {
            if (b[i] != (byte) value) {
                throw new AssertionError("byte " + (offset + i) + " is " + (b[i] & 0xff) + ", expected " + value
                        + " (flushed before the kill)");
            }
        }
    }
}
