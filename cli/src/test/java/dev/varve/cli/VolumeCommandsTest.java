package dev.varve.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.Store;
import dev.varve.engine.VolumeInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumeCommandsTest {
    @TempDir
    Path tmp;
    Path store;

    @BeforeEach
    void init() {
        store = tmp.resolve("store");
        Cli.ok("init", store);
    }

    private VolumeInfo info(String volume) throws IOException {
        try (Store s = Store.open(store)) {
            return s.volumeInfo(volume);
        }
    }

    @Test
    void createTakesSizeAsOptionOrWordWithSuffixes() throws IOException {
        Cli.Result r = Cli.ok("create", store, "vm1", "--size", "10G");
        assertTrue(r.out().startsWith("created volume vm1: 10.0 GiB, 4096-byte blocks"), r.out());
        Cli.ok("create", store, "vm2", "512M", "--block-size", "64K");
        assertEquals(10L << 30, info("vm1").size());
        assertEquals(4096, info("vm1").blockSize());
        assertEquals(512L << 20, info("vm2").size());
        assertEquals(65536, info("vm2").blockSize());
    }

    @Test
    void badSizesAreUsageErrors() throws IOException {
        Cli.Result bad = Cli.run("create", store, "vm1", "--size", "10X");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("'10X' is not a size"), bad.err());
        assertTrue(bad.err().contains("Usage: varve create"), bad.err());
        Cli.Result missing = Cli.run("create", store, "vm1");
        assertEquals(2, missing.exit());
        assertTrue(missing.err().contains("give the volume's size"), missing.err());
        Cli.Result twice = Cli.run("create", store, "vm1", "1G", "--size", "1G");
        assertEquals(2, twice.exit());
        Cli.Result block = Cli.run("create", store, "vm1", "--size", "1G", "--block-size", "3000");
        assertEquals(2, block.exit());
        assertTrue(block.err().contains("block size 3000"), block.err());
        try (Store s = Store.open(store)) {
            assertTrue(s.volumes().isEmpty(), "nothing was created");
        }
    }

    @Test
    void engineRefusalsAreFailures() {
        Cli.ok("create", store, "vm1", "--size", "1M");
        Cli.Result dup = Cli.run("create", store, "vm1", "--size", "1M");
        assertEquals(1, dup.exit());
        assertEquals("varve: a volume named 'vm1' already exists in " + store + "\n", dup.err());
        Cli.Result unaligned = Cli.run("create", store, "vm2", "--size", "1000");
        assertEquals(1, unaligned.exit());
        assertTrue(unaligned.err().contains("multiple of the block size"), unaligned.err());
        Cli.Result badName = Cli.run("create", store, "a/b", "--size", "1M");
        assertEquals(1, badName.exit());
        assertTrue(badName.err().contains("'/'"), badName.err());
    }

    @Test
    void unknownVolumeNamesIt() {
        for (List<Object> args : List.<List<Object>>of(
                List.of("resize", store, "ghost", "1G"),
                List.of("destroy", store, "ghost"),
                List.of("get", store, "ghost"),
                List.of("read", store, "ghost"),
                List.of("snapshot", store, "ghost@a"))) {
            Cli.Result r = Cli.run(args.toArray());
            assertEquals(1, r.exit(), args.toString());
            assertTrue(r.err().startsWith("varve: no volume named 'ghost'"), r.err());
            assertEquals(1, r.err().lines().count(), r.err());
        }
    }

    @Test
    void resizeGrowsAndShrinks() throws IOException {
        Cli.ok("create", store, "vm1", "--size", "1G");
        assertTrue(Cli.ok("resize", store, "vm1", "2G").out().contains("1.0 GiB -> 2.0 GiB"));
        assertEquals(2L << 30, info("vm1").size());
        Cli.ok("resize", store, "vm1", "64M");
        assertEquals(64L << 20, info("vm1").size());
        assertEquals(2, Cli.run("resize", store, "vm1", "lots").exit());
    }

    @Test
    void renameVolumesAndSnapshots() throws IOException {
        Cli.ok("create", store, "vm1", "--size", "1M");
        Cli.ok("snapshot", store, "vm1@a");
        Cli.ok("rename", store, "vm1", "web01");
        Cli.ok("rename", store, "web01@a", "b");
        Cli.ok("rename", store, "web01@b", "web01@c");
        try (Store s = Store.open(store)) {
            assertEquals(List.of("web01"), s.volumes().stream().map(VolumeInfo::name).toList());
            assertEquals("web01@c", s.snapshots().get(0).fullName());
        }
        Cli.Result move = Cli.run("rename", store, "web01@c", "other@c");
        assertEquals(1, move.exit());
        assertTrue(move.err().contains("a snapshot stays on its volume"), move.err());
    }

    @Test
    void destroyWithoutRecursiveListsTheSnapshots() throws IOException {
        Cli.ok("create", store, "vm1", "--size", "1M");
        Cli.ok("snapshot", store, "vm1@a");
        Cli.ok("snapshot", store, "vm1@b");
        Cli.Result r = Cli.run("destroy", store, "vm1");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("vm1@a") && r.err().contains("vm1@b") && r.err().contains("--recursive"), r.err());
        assertEquals(2, info("vm1").snapshotCount(), "nothing was destroyed");

        assertEquals("destroyed snapshot vm1@a\n", Cli.ok("destroy", store, "vm1@a").out());
        assertEquals("destroyed volume vm1 and its 1 snapshot(s)\n", Cli.ok("destroy", store, "vm1", "--recursive").out());
        try (Store s = Store.open(store)) {
            assertTrue(s.volumes().isEmpty());
            assertTrue(s.snapshots().isEmpty());
        }
        Cli.ok("create", store, "vm2", "--size", "1M");
        assertEquals("destroyed volume vm2\n", Cli.ok("destroy", store, "vm2").out());
    }

    @Test
    void setAndGetPropertiesIncludingFromAFile() throws IOException {
        Cli.ok("create", store, "vm1", "--size", "1M");
        Cli.ok("snapshot", store, "vm1@a");
        String xml = "<domain>\n  <name>vm1</name>\n</domain>\n";
        Path config = tmp.resolve("vm1.xml");
        Files.writeString(config, xml);
        Cli.ok("set", store, "vm1@a", "vm.config=@" + config, "note=at=sign", "literal=@@home");
        Cli.ok("set", store, "vm1", "owner=alice", "gone=soon");
        Cli.ok("set", store, "vm1", "--unset", "gone");

        assertEquals(xml, Cli.ok("get", store, "vm1@a", "vm.config").out());
        assertEquals("at=sign\n", Cli.ok("get", store, "vm1@a", "note").out());
        assertEquals("@home\n", Cli.ok("get", store, "vm1@a", "literal").out());
        assertEquals("owner=alice\n", Cli.ok("get", store, "vm1").out());
        String all = Cli.ok("get", store, "vm1@a").out();
        assertTrue(all.contains("literal=@home\n") && all.contains("note=at=sign\n"), all);
        assertTrue(all.contains("vm.config=<domain> ..."), all);
        String json = Cli.ok("get", store, "vm1@a", "--json").out();
        assertEquals(xml, new com.fasterxml.jackson.databind.ObjectMapper().readValue(json, Map.class).get("vm.config"));

        Cli.Result missing = Cli.run("get", store, "vm1", "nope");
        assertEquals(1, missing.exit());
        assertEquals("varve: vm1 has no property 'nope'\n", missing.err());
        Cli.Result noFile = Cli.run("set", store, "vm1", "x=@" + tmp.resolve("absent"));
        assertEquals(1, noFile.exit());
        assertTrue(noFile.err().contains("no such file or directory: " + tmp.resolve("absent")), noFile.err());
        Files.write(tmp.resolve("binary"), new byte[] {(byte) 0xff, (byte) 0xfe, 0});
        assertEquals(1, Cli.run("set", store, "vm1", "x=@" + tmp.resolve("binary")).exit());
        assertEquals(2, Cli.run("set", store, "vm1", "novalue").exit());
        assertEquals(2, Cli.run("set", store, "vm1").exit());
        assertFalse(Cli.ok("get", store, "vm1").out().contains("x="));
    }
}
