package dev.varve.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.varve.engine.Store;
import dev.varve.engine.format.SuperblockLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreCommandsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    Path store;

    @BeforeEach
    void init() {
        store = tmp.resolve("store");
        Cli.Result r = Cli.ok("init", store);
        assertEquals("created store " + store + "\n", r.out());
    }

    @Test
    void initMakesAStoreAndRefusesAnExistingOne() {
        assertTrue(Store.isStore(store));
        Cli.Result again = Cli.run("init", store);
        assertEquals(1, again.exit());
        assertTrue(again.err().contains("already holds a Varve store"), again.err());
    }

    @Test
    void infoCountsVolumesSnapshotsAndBytes() throws IOException {
        Cli.ok("create", store, "vm1", "--size", "1G");
        Cli.ok("create", store, "vm2", "--size", "2G");
        Cli.ok("snapshot", store, "vm1@a");
        Cli.Result text = Cli.ok("info", store);
        assertTrue(text.out().contains("volumes     2, 3.0 GiB logical"), text.out());
        assertTrue(text.out().contains("snapshots   1"), text.out());

        JsonNode j = JSON.readTree(Cli.ok("info", store, "--json").out());
        assertEquals(2, j.get("volumeCount").asInt());
        assertEquals(1, j.get("snapshotCount").asInt());
        assertEquals(3L << 30, j.get("logicalBytes").asLong());
        assertTrue(j.get("bytesOnDisk").asLong() > 0);
        assertEquals(store.toString(), j.get("directory").asText());
    }

    @Test
    void listShowsVolumesAndSnapshots() {
        assertTrue(Cli.ok("list", store).out().startsWith("no volumes"));
        Cli.ok("create", store, "vm1", "--size", "10G");
        Cli.ok("snapshot", store, "vm1@installed");
        Cli.ok("clone", store, "vm1@installed", "vm1-test");
        List<String> lines = Cli.ok("list", store).out().lines().toList();
        assertTrue(lines.get(0).matches("VOLUME +SIZE +USED +EXCL +BLOCK +SNAPSHOTS +AT +ORIGIN"), lines.get(0));
        assertTrue(lines.get(1).matches("vm1 +10\\.0 GiB +0 B +0 B +4096 +1 +vm1@installed +-"), lines.get(1));
        assertTrue(lines.get(2).matches("vm1-test +10\\.0 GiB +0 B +0 B +4096 +0 +vm1@installed +vm1@installed"),
                lines.get(2));
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("vm1@installed ")), lines.toString());
    }

    @Test
    void treeDrawsBranchesAndWhereEachVolumeIs() {
        Cli.ok("create", store, "vm1", "--size", "1G");
        Cli.ok("create", store, "lonely", "--size", "1G");
        Cli.ok("snapshot", store, "vm1@a");
        Cli.ok("snapshot", store, "vm1@b");
        Cli.ok("revert", store, "vm1@a", "--keep-current", "c");
        Cli.ok("clone", store, "vm1@b", "vm2");
        Cli.ok("snapshot", store, "--group", "g", "vm1", "vm2");
        List<String> lines = Cli.ok("list", store, "--tree").out().lines().map(l -> l.replaceAll(
                "  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d", "")).toList();
        assertEquals(List.of(
                "vm1@a",
                "|-- vm1@b",
                "|   |-- vm1@c",
                "|   `-- vm2@g  [group g]",
                "|       `-- vm2  <- you are here  (1.0 GiB, clone of vm1@b)",
                "`-- vm1@g  [group g]",
                "    `-- vm1  <- you are here  (1.0 GiB)",
                "lonely  <- you are here  (1.0 GiB, no snapshots)"), lines);
    }

    @Test
    void listJsonHasTheTreeFields() throws IOException {
        Cli.ok("create", store, "vm1", "--size", "1M");
        Cli.ok("snapshot", store, "vm1@a", "--set", "note=first");
        Cli.ok("snapshot", store, "vm1@b");
        JsonNode j = JSON.readTree(Cli.ok("list", store, "--json").out());
        JsonNode vm1 = j.get("volumes").get(0);
        assertEquals("vm1", vm1.get("name").asText());
        assertEquals(1L << 20, vm1.get("size").asLong());
        assertEquals("vm1@b", vm1.get("position").asText());
        JsonNode a = j.get("snapshots").get(0);
        assertEquals("vm1@a", a.get("name").asText());
        assertEquals("first", a.get("properties").get("note").asText());
        assertEquals("vm1@b", a.get("children").get(0).asText());
        assertTrue(a.get("parent").isNull());
        assertEquals("vm1@a", j.get("snapshots").get(1).get("parent").asText());
    }

    @Test
    void fsckOfACleanStoreExits0() throws IOException {
        Cli.ok("create", store, "vm1", "--size", "1M");
        Files.write(tmp.resolve("data"), new byte[] {1, 2, 3});
        Cli.ok("write", store, "vm1", tmp.resolve("data"));
        Cli.Result r = Cli.run("fsck", store);
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("0 errors"), r.out());
        assertTrue(r.out().endsWith(store + ": clean\n"), r.out());

        JsonNode j = JSON.readTree(Cli.ok("fsck", store, "--fast", "--json").out());
        assertTrue(j.get("clean").asBoolean());
        assertEquals(0, j.get("exitCode").asInt());
        assertEquals(1, j.get("volumes").asInt());
        assertTrue(j.get("problems").isArray());
    }

    @Test
    void fsckFindsDamageAndUsesE2fsckCodes() throws IOException {
        Cli.ok("create", store, "vm1", "--size", "1M");
        Path superblock = store.resolve(SuperblockLayout.FILE_NAME);
        Files.write(superblock, new byte[(int) Files.size(superblock)]); // both copies gone
        Cli.Result damaged = Cli.run("fsck", store);
        assertEquals(4, damaged.exit(), damaged.toString());
        assertTrue(damaged.out().contains("ERROR"), damaged.out());
        assertFalse(damaged.out().contains(": clean"), damaged.out());
        Cli.Result usage = Cli.run("fsck", store, "--no-such-option");
        assertEquals(16, usage.exit());
        Cli.Result notAStore = Cli.run("fsck", tmp.resolve("nothing-here"));
        assertEquals(8, notAStore.exit());
        assertTrue(notAStore.err().contains("is not a Varve store"), notAStore.err());
    }
}
