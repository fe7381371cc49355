package dev.varve.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** libnbd's tools against the server: nbdinfo (list, info, map) and nbdcopy, over TCP and a Unix socket. */
class LibnbdClientTest {
    private static final long MiB = 1 << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void nbdinfoListsEveryVolumeAndSnapshot() throws Exception {
        Tools.require("nbdinfo");
        try (Served s = Served.start(tmp, 16 * MiB)) {
            s.store.createVolume("data", 8 * MiB);
            s.store.snapshot("vol", "s1", Map.of());
            Tools.Result r = Tools.run("nbdinfo", "--list", "--json", s.url("")).ok();
            JsonNode list = JSON.readTree(r.out());
            Set<String> names = new HashSet<>();
            for (JsonNode e : list.get("exports")) {
                names.add(e.get("export-name").asText());
                boolean ro = e.get("is_read_only").asBoolean();
                assertEquals(e.get("export-name").asText().contains("@"), ro, r.out());
                assertTrue(e.get("description").asText().startsWith("Varve"), r.out());
            }
            assertEquals(Set.of("vol", "data", "vol@s1"), names);

            JsonNode info = JSON.readTree(Tools.run("nbdinfo", "--json", s.url("data")).ok().out());
            JsonNode e = info.get("exports").get(0);
            assertEquals(8 * MiB, e.get("export-size").asLong());
            assertEquals(4096, e.get("block_size_preferred").asInt());
            assertEquals(32 << 20, e.get("block_size_maximum").asInt());
            assertTrue(e.get("can_multi_conn").asBoolean(), info.toString());
            assertTrue(e.get("can_flush").asBoolean(), info.toString());
            assertTrue(e.get("can_fua").asBoolean(), info.toString());
            assertTrue(e.get("can_trim").asBoolean(), info.toString());
            assertTrue(e.get("can_zero").asBoolean(), info.toString());
            assertTrue(e.get("can_fast_zero").asBoolean(), info.toString());
            assertFalse(e.get("is_read_only").asBoolean(), info.toString());
            assertTrue(info.toString().contains("base:allocation"), info.toString());

            assertEquals("16777216", Tools.run("nbdinfo", "--size", s.url("vol@s1")).ok().out().trim());
            Tools.Result missing = Tools.run("nbdinfo", s.url("nope"));
            assertNotEquals(0, missing.exit());
        }
    }

    @Test
    void nbdinfoMapShowsDataAndHoles() throws Exception {
        Tools.require("nbdinfo", "qemu-io");
        try (Served s = Served.start(tmp, 16 * MiB)) {
            Tools.qemuIo(s.url("vol"), "write -P 0x5 1M 1M", "write -P 0x6 10M 512k").ok();
            Tools.Result r = Tools.run("nbdinfo", "--map", "--json", s.url("vol")).ok();
            JsonNode map = JSON.readTree(r.out());
            long data = 0;
            long end = 0;
            for (JsonNode e : map) {
                assertEquals(end, e.get("offset").asLong(), r.out());
                end += e.get("length").asLong();
                int type = e.get("type").asInt();
                if (type == 0) {
                    data += e.get("length").asLong();
                } else {
                    assertEquals(3, type, "holes read as zeroes: " + r.out());
                }
            }
            assertEquals(16 * MiB, end);
            assertEquals(MiB + 512 * 1024, data, r.out());
            assertEquals(5, map.size(), r.out()); // hole, data, hole, data, hole
            Tools.Result totals = Tools.run("nbdinfo", "--map", "--totals", s.url("vol")).ok();
            assertTrue(totals.out().contains("hole,zero"), totals.out());
        }
    }

    @Test
    void nbdcopyInAndOutOverTcpAndUnixSocket() throws Exception {
        Tools.require("nbdcopy");
        Path sock = tmp.resolve("nbd.sock");
        try (Served s = Served.start(tmp, 24 * MiB, ServerOptions.defaults().withUnixSocket(sock))) {
            Path src = tmp.resolve("in.raw");
            byte[] bytes = new byte[(int) (24 * MiB)];
            Random r = new Random(7);
            for (int at = 0; at < bytes.length; at += 4 * MiB) {
                // alternate data and zero runs of 2 MiB
                byte[] chunk = new byte[(int) (2 * MiB)];
                r.nextBytes(chunk);
                System.arraycopy(chunk, 0, bytes, at, chunk.length);
            }
            Files.write(src, bytes);
            Tools.run("nbdcopy", "--flush", src.toString(), s.url("vol")).ok();

            Path out = tmp.resolve("out.raw");
            Tools.run("nbdcopy", s.url("vol"), out.toString()).ok();
            assertArrayEquals(bytes, Files.readAllBytes(out));

            // the same through the Unix socket, several connections at once
            Path viaUnix = tmp.resolve("unix.raw");
            String unixUrl = "nbd+unix:///vol?socket=" + sock;
            Tools.run("nbdcopy", "--connections=4", unixUrl, viaUnix.toString()).ok();
            assertArrayEquals(bytes, Files.readAllBytes(viaUnix));

            // a copy into the export through four connections, then read back through TCP
            byte[] other = new byte[bytes.length];
            new Random(8).nextBytes(other);
            Path src2 = tmp.resolve("in2.raw");
            Files.write(src2, other);
            Tools.run("nbdcopy", "--connections=4", "--flush", src2.toString(), unixUrl).ok();
            byte[] engine = new byte[other.length];
            s.store.volume("vol").read(0, engine, 0, engine.length);
            assertArrayEquals(other, engine);

            // nbdcopy out of a sparse export writes a sparse file
            s.store.volume("vol").trim(0, 24 * MiB);
            Tools.run("nbdcopy", s.url("vol"), tmp.resolve("sparse.raw").toString()).ok();
            try (RandomAccessFile f = new RandomAccessFile(tmp.resolve("sparse.raw").toFile(), "r")) {
                assertEquals(24 * MiB, f.length());
            }
        }
    }
}
