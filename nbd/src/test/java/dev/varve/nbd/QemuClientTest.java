package dev.varve.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.varve.engine.BlockDevice;
import dev.varve.nbd.control.ControlClient;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** QEMU's own tools against the server: qemu-io, qemu-img info, convert, compare and map. */
class QemuClientTest {
    private static final long MiB = 1 << 20;
    private static final Pattern WROTE = Pattern.compile("wrote \\d+/\\d+ bytes at offset \\d+");

    @TempDir
    Path tmp;

    @Test
    void qemuIoWritesAndReadsBackPatterns() throws Exception {
        Tools.require("qemu-io");
        try (Served s = Served.start(tmp, 64 * MiB)) {
            Tools.qemuIo(s.url("vol"),
                    "write -P 0xab 0 1M",
                    "write -P 0xcd 3M 64k",
                    "write -P 0x11 5000 3000", // unaligned: read-modify-write of two blocks
                    "flush",
                    "read -P 0xab 0 4096",
                    "read -P 0xab 8000 1040000",
                    "read -P 0x11 5000 3000",
                    "read -P 0xcd 3M 64k",
                    "read -P 0 4M 1M").ok();
            // a second process sees what the first wrote, and a wrong pattern fails
            Tools.qemuIo(s.url("vol"), "read -P 0xcd 3M 64k").ok();
            Tools.Result bad = Tools.qemuIo(s.url("vol"), "read -P 0xee 3M 64k");
            assertNotEquals(0, bad.exit());
            assertTrue(bad.out().contains("Pattern verification failed"), bad.out());
            // what qemu-io wrote is what the engine holds
            byte[] b = new byte[64 << 10];
            s.store.volume("vol").read(3 * MiB, b, 0, b.length);
            for (byte x : b) {
                assertEquals((byte) 0xcd, x);
            }
        }
    }

    @Test
    void qemuIoZeroesDiscardsAndFua() throws Exception {
        Tools.require("qemu-io");
        try (Served s = Served.start(tmp, 16 * MiB)) {
            Tools.qemuIo(s.url("vol"),
                    "write -P 0x77 0 8M",
                    "write -z 1M 1M",          // WRITE_ZEROES, may punch
                    "write -z -u 3M 512k",     // WRITE_ZEROES with unmap allowed
                    "discard 5M 1M",           // TRIM
                    "write -f -P 0x42 7M 4k",  // FUA
                    "read -P 0 1M 1M",
                    "read -P 0 3M 512k",
                    "read -P 0 5M 1M",
                    "read -P 0x77 0 1M",
                    "read -P 0x77 2M 1M",
                    "read -P 0x42 7M 4k").ok();
        }
    }

    @Test
    void qemuImgInfoConvertCompareAndMap() throws Exception {
        Tools.require("qemu-img");
        try (Served s = Served.start(tmp, 32 * MiB)) {
            Tools.Result info = Tools.run("qemu-img", "info", "--output=json", "-f", "raw", s.url("vol")).ok();
            JsonNode i = new ObjectMapper().readTree(info.out());
            assertEquals(32 * MiB, i.get("virtual-size").asLong());

            // a sparse raw image: data at 0-1M and 8M-10M, holes elsewhere
            Path src = tmp.resolve("src.raw");
            byte[] data = new byte[(int) (3 * MiB)];
            new Random(42).nextBytes(data);
            try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
                f.setLength(32 * MiB);
                f.seek(0);
                f.write(data, 0, (int) MiB);
                f.seek(8 * MiB);
                f.write(data, (int) MiB, (int) (2 * MiB));
            }
            Tools.run("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src.toString(), s.url("vol")).ok();
            Tools.run("qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), s.url("vol")).ok();

            // the holes come back as holes
            Tools.Result map = Tools.run("qemu-img", "map", "-f", "raw", "--output=json", s.url("vol")).ok();
            JsonNode runs = new ObjectMapper().readTree(map.out());
            long dataBytes = 0;
            long holeBytes = 0;
            long end = 0;
            for (JsonNode r : runs) {
                assertEquals(end, r.get("start").asLong(), "map runs are contiguous: " + map.out());
                end += r.get("length").asLong();
                if (r.get("data").asBoolean()) {
                    dataBytes += r.get("length").asLong();
                } else {
                    holeBytes += r.get("length").asLong();
                    assertTrue(r.get("zero").asBoolean(), map.out());
                }
            }
            assertEquals(32 * MiB, end);
            assertEquals(3 * MiB, dataBytes, map.out());
            assertEquals(29 * MiB, holeBytes, map.out());
            assertTrue(runs.size() >= 3, map.out());

            // and out again: the export converted back to a file equals the source
            Path back = tmp.resolve("back.raw");
            Tools.run("qemu-img", "convert", "-f", "raw", "-O", "raw", s.url("vol"), back.toString()).ok();
            assertEquals(Files.size(src), Files.size(back));
            assertArrayEquals(Files.readAllBytes(src), Files.readAllBytes(back));
            Tools.run("qemu-img", "compare", "-f", "raw", "-F", "raw", back.toString(), s.url("vol")).ok();

            // compare notices a difference
            Tools.qemuIo(s.url("vol"), "write -P 0x01 20M 4k").ok();
            Tools.Result diff = Tools.run("qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), s.url("vol"));
            assertEquals(1, diff.exit(), diff.out() + diff.err());
        }
    }

    @Test
    void snapshotTakenWhileQemuIoWritesIsExportedReadOnly() throws Exception {
        Tools.require("qemu-io", "qemu-img", "stdbuf");
        int writes = 256;
        int piece = 256 << 10;
        try (Served s = Served.start(tmp, 64 * MiB)) {
            Tools.qemuIo(s.url("vol"), "write -P 0x01 0 64M").ok();
            // qemu-io rewrites the disk with 0x02, one piece after the other, with a pause between
            List<String> cmd = new ArrayList<>(List.of("stdbuf", "-oL", "qemu-io", "-f", "raw", s.url("vol")));
            for (int i = 0; i < writes; i++) {
                cmd.addAll(List.of("-c", "write -P 0x02 " + (long) i * piece + " " + piece, "-c", "sleep 15"));
            }
            Path log = tmp.resolve("writer.log");
            Process writer = Tools.start(cmd, log);
            int before;
            int after;
            try (ControlClient control = ControlClient.connect(s.dir)) {
                assertNotNull(control, "the server's control socket");
                // the snapshot is taken as 'varve snapshot' takes it, once the volume shows new data
                byte[] first = new byte[4096];
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                do {
                    assertTrue(writer.isAlive(), "the writer ended before its data showed:\n" + Files.readString(log));
                    assertTrue(System.nanoTime() < deadline, "no new data within 60 s:\n" + Files.readString(log));
                    Thread.sleep(5);
                    s.store.volume("vol").read(0, first, 0, first.length);
                } while (first[0] != 2 || reported(log) == 0);
                before = reported(log);
                control.snapshot("vol", "live", Map.of("taken-by", "test"));
                after = reported(log);
                System.out.println("live snapshot taken after " + before + " to " + after + " of " + writes + " pieces");
                // pieces from after + 1 on were not even sent when the snapshot returned
                assertTrue(after + 1 < writes && writer.isAlive(), "the writer was done (" + after + " of " + writes
                        + " pieces) before the snapshot: it was not taken live");
            } finally {
                if (!writer.waitFor(120, TimeUnit.SECONDS)) {
                    writer.destroyForcibly();
                }
            }
            assertEquals(0, writer.exitValue(), Files.readString(log));
            assertEquals(writes, reported(log), Files.readString(log));

            // the export is a consistent point: each block all old or all new, the pieces written
            // before the snapshot new, those not yet sent old
            Path snapFile = tmp.resolve("snap.raw");
            Tools.run("qemu-img", "convert", "-f", "raw", "-O", "raw", s.url("vol@live"), snapFile.toString()).ok();
            byte[] snap = Files.readAllBytes(snapFile);
            assertEquals(64 * MiB, snap.length);
            int newBlocks = 0;
            int oldBlocks = 0;
            for (int at = 0; at < snap.length; at += 4096) {
                byte v = snap[at];
                for (int k = at; k < at + 4096; k++) {
                    if (snap[k] != v || (v != 1 && v != 2)) {
                        throw new AssertionError("block at " + at + " is torn or foreign: byte " + k + " is " + snap[k]);
                    }
                }
                int pieceIndex = at / piece;
                if (pieceIndex < before) {
                    assertEquals(2, v, "block " + at + " was written before the snapshot (" + before + " pieces)");
                } else if (pieceIndex > after) {
                    assertEquals(1, v, "block " + at + " was written after the snapshot (" + after + " pieces)");
                }
                if (v == 2) {
                    newBlocks++;
                } else {
                    oldBlocks++;
                }
            }
            assertTrue(newBlocks > 0 && oldBlocks > 0, newBlocks + " new, " + oldBlocks + " old blocks");
            // the export is the snapshot, byte for byte, and it is read-only
            BlockDevice d = s.store.device("vol@live");
            byte[] engine = new byte[snap.length];
            d.read(0, engine, 0, engine.length);
            assertArrayEquals(engine, snap);
            Tools.run("qemu-img", "compare", "-f", "raw", "-F", "raw", snapFile.toString(), s.url("vol@live")).ok();
            Tools.Result ro = Tools.qemuIo(s.url("vol@live"), "write -P 0x03 0 4k");
            assertNotEquals(0, ro.exit(), ro.out());
            // the head has the writer's data in full
            Tools.qemuIo(s.url("vol"), "read -P 0x02 0 64M").ok();
        }
    }

    /** How many writes qemu-io has reported done so far. */
    private static int reported(Path log) throws Exception {
        return (int) WROTE.matcher(Files.readString(log)).results().count();
    }
}
