package dev.varve.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code varve gc}, and the space figures of {@code varve list} and {@code varve info}, on a store opened here. */
class GcCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BLOCK = 4096;

    @TempDir
    Path tmp;
    Path store;

    @BeforeEach
    void init() throws IOException {
        store = tmp.resolve("store");
        // small segments, so that freed data fills whole segments the collector can delete
        Store.create(store, StoreOptions.defaults().withSegmentSize(1 << 20)).close();
    }

    @Test
    void listShowsReferencedAndExclusiveBytesExactly() throws IOException {
        Cli.ok("create", store, "vm", "--size", "4M");
        Cli.runWithInput(filled(100 * BLOCK, 0xa), "write", store, "vm");
        Cli.ok("snapshot", store, "vm@s");
        Cli.runWithInput(filled(30 * BLOCK, 0xb), "write", store, "vm", "--offset", "8K");

        JsonNode j = JSON.readTree(Cli.ok("list", store, "--json").out());
        JsonNode vm = j.at("/volumes/0");
        assertEquals("vm", vm.get("name").asText());
        assertEquals(100 * BLOCK, vm.get("referenced").asLong());
        assertEquals(30 * BLOCK, vm.get("exclusive").asLong());
        JsonNode s = j.at("/snapshots/0");
        assertEquals("vm@s", s.get("name").asText());
        assertEquals(100 * BLOCK, s.get("referenced").asLong());
        assertEquals(30 * BLOCK, s.get("exclusive").asLong());

        List<String> lines = Cli.ok("list", store).out().lines().toList();
        assertTrue(lines.get(0).matches("VOLUME +SIZE +USED +EXCL +BLOCK +SNAPSHOTS +AT +ORIGIN"), lines.get(0));
        assertTrue(lines.get(1).matches("vm +4\\.0 MiB +400\\.0 KiB +120\\.0 KiB +4096 +1 +vm@s +-"), lines.get(1));
        assertTrue(lines.get(3).matches("SNAPSHOT +CREATED +SIZE +USED +EXCL +PARENT +GROUP"), lines.get(3));
        assertTrue(lines.get(4).matches("vm@s +.+ +4\\.0 MiB +400\\.0 KiB +120\\.0 KiB +- +-"), lines.get(4));
    }

    @Test
    void gcGivesBackWhatADestroyedVolumeHeldAndInfoShowsIt() throws IOException {
        Cli.ok("create", store, "big", "--size", "8M");
        Cli.runWithInput(filled(4 << 20, 0xc), "write", store, "big");
        Cli.ok("create", store, "small", "--size", "1M");
        Cli.runWithInput(filled(BLOCK, 0xd), "write", store, "small");
        Cli.ok("destroy", store, "big");

        JsonNode before = JSON.readTree(Cli.ok("info", store, "--json").out());
        long onDisk = before.get("bytesOnDisk").asLong();
        long live = before.get("liveBytes").asLong();
        long garbage = before.get("garbageBytes").asLong();
        assertTrue(garbage >= 3 << 20, "the destroyed volume's sealed segments are garbage: " + before);
        assertTrue(before.get("reclaimableBytes").asLong() >= 3 << 20, before.toString());
        assertTrue(live >= BLOCK && live + garbage <= onDisk, before.toString());
        String text = Cli.ok("info", store).out();
        assertTrue(text.contains("\ngarbage     ") && text.contains("\nreclaimable ")
                && text.contains("(what 'varve gc' would give back now)"), text);

        JsonNode gc = JSON.readTree(Cli.ok("gc", store, "--json").out());
        assertEquals(onDisk, gc.get("bytesBefore").asLong(), gc.toString());
        assertTrue(gc.get("segmentsDeleted").asInt() >= 3, gc.toString());
        assertEquals(gc.get("bytesBefore").asLong() - gc.get("bytesAfter").asLong(), gc.get("bytesReclaimed").asLong());
        assertTrue(gc.get("bytesReclaimed").asLong() >= 3 << 20, gc.toString());

        JsonNode after = JSON.readTree(Cli.ok("info", store, "--json").out());
        assertEquals(gc.get("bytesAfter").asLong(), after.get("bytesOnDisk").asLong(), after.toString());
        assertTrue(after.get("garbageBytes").asLong() < 1 << 20, after.toString());

        // nothing left to do: a second collection says so in the same words
        List<String> lines = Cli.ok("gc", store).out().lines().toList();
        assertTrue(lines.get(0).matches("reclaimed   0 B in \\d+\\.\\d s"), lines.get(0));
        assertTrue(lines.get(1).startsWith("on disk     "), lines.get(1));
        assertTrue(lines.get(2).matches("segments    (\\d+) -> \\1 \\(0 deleted\\)"), lines.get(2));
        assertEquals(0, Cli.run("fsck", store).exit());
    }

    @Test
    void pauseAndResumeNeedARunningServer() {
        Cli.Result r = Cli.run("gc", store, "--resume");
        assertEquals(1, r.exit());
        assertTrue(r.err().startsWith("varve: no server is running;"), r.err());
        Cli.Result both = Cli.run("gc", store, "--pause", "--resume");
        assertEquals(2, both.exit(), both.toString());
        Cli.Result bad = Cli.run("gc", store, "--victim-utilization", "1.5");
        assertEquals(2, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("is not between 0 and 1"), bad.err());
        Cli.Result notAStore = Cli.run("gc", tmp.resolve("nothing"), "--pause");
        assertEquals(1, notAStore.exit());
        assertTrue(notAStore.err().contains("is not a Varve store"), notAStore.err());
    }

    private static byte[] filled(int n, int v) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) v);
        return b;
    }
}
