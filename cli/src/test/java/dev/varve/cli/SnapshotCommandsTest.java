package dev.varve.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.Store;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotCommandsTest {
    @TempDir
    Path tmp;
    Path store;

    @BeforeEach
    void init() {
        store = tmp.resolve("store");
        Cli.ok("init", store);
        Cli.ok("create", store, "vm1", "--size", "1M");
    }

    private void write(String volume, String text) throws IOException {
        Path f = tmp.resolve("in");
        Files.writeString(f, text);
        Cli.ok("write", store, volume, f);
    }

    private String read(String device, int length) {
        return Cli.ok("read", store, device, "--length", length).out();
    }

    @Test
    void snapshotKeepsTheOldBytesAndItsProperties() throws IOException {
        write("vm1", "one");
        assertEquals("took snapshot vm1@a (generation ", Cli.ok("snapshot", store, "vm1@a", "--set", "k=v", "-p",
                "note=first").out().replaceAll("\\d+\\)\n$", ""));
        write("vm1", "two");
        assertEquals("two", read("vm1", 3));
        assertEquals("one", read("vm1@a", 3));
        try (Store s = Store.open(store)) {
            SnapshotInfo a = s.snapshotInfo("vm1", "a");
            assertEquals("v", a.properties().get("k"));
            assertEquals("first", a.properties().get("note"));
        }
        Cli.Result again = Cli.run("snapshot", store, "vm1@a");
        assertEquals(1, again.exit());
        assertTrue(again.err().contains("already exists"), again.err());
        assertEquals(2, Cli.run("snapshot", store, "vm1").exit(), "a snapshot needs VOLUME@SNAP");
        assertEquals(2, Cli.run("snapshot", store, "vm1@a", "vm1@b").exit());
    }

    @Test
    void revertKeepsLaterSnapshotsAndOptionallyTheCurrentState() throws IOException {
        write("vm1", "one");
        Cli.ok("snapshot", store, "vm1@a");
        write("vm1", "two");
        Cli.ok("snapshot", store, "vm1@b");
        write("vm1", "333");
        Cli.Result r = Cli.ok("revert", store, "vm1@a", "--keep-current", "before-revert");
        assertEquals("reverted vm1 to vm1@a; its state before is snapshot vm1@before-revert\n", r.out());
        assertEquals("one", read("vm1", 3));
        assertEquals("two", read("vm1@b", 3));
        assertEquals("333", read("vm1@before-revert", 3));
        Cli.ok("revert", store, "vm1@b");
        assertEquals("two", read("vm1", 3));

        assertEquals(2, Cli.run("revert", store, "vm1").exit());
        assertEquals(2, Cli.run("revert", store).exit());
        Cli.Result ghost = Cli.run("revert", store, "vm1@ghost");
        assertEquals(1, ghost.exit());
        assertTrue(ghost.err().contains("no snapshot 'vm1@ghost'"), ghost.err());
    }

    @Test
    void revertACloneToTheSnapshotItCameFromButNotAStrangersSnapshot() throws IOException {
        write("vm1", "gold");
        Cli.ok("snapshot", store, "vm1@golden");
        Cli.ok("clone", store, "vm1@golden", "web1");
        write("web1", "mine");
        assertEquals("reverted web1 to vm1@golden\n", Cli.ok("revert", store, "vm1@golden", "--volume", "web1").out());
        assertEquals("gold", read("web1", 4));

        Cli.ok("create", store, "vm2", "--size", "1M");
        Cli.Result r = Cli.run("revert", store, "vm1@golden", "--volume", "vm2");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("not in the history of volume 'vm2'") && r.err().contains("varve clone"), r.err());
    }

    @Test
    void cloneIsAWritableVolumeOnTheSnapshot() throws IOException {
        write("vm1", "gold");
        Cli.ok("snapshot", store, "vm1@golden");
        assertEquals("cloned vm1@golden as volume web1\n", Cli.ok("clone", store, "vm1@golden", "web1").out());
        assertEquals("gold", read("web1", 4));
        write("web1", "mine");
        assertEquals("mine", read("web1", 4));
        assertEquals("gold", read("vm1", 4));
        assertEquals(1, Cli.run("clone", store, "vm1@golden", "web1").exit(), "the name is taken");
        assertEquals(2, Cli.run("clone", store, "vm1", "web2").exit(), "a clone needs a snapshot");
        Cli.ok("destroy", store, "vm1", "--recursive");
        assertEquals("mine", read("web1", 4), "a clone outlives its origin");
    }

    @Test
    void groupSnapshotAndGroupRevert() throws IOException {
        Cli.ok("create", store, "vm1-ram", "--size", "1M");
        write("vm1", "disk-1");
        write("vm1-ram", "ram--1");
        Cli.Result r = Cli.ok("snapshot", store, "--group", "pre-migration", "vm1", "vm1-ram", "--set", "why=move");
        assertEquals("took group snapshot pre-migration: vm1@pre-migration, vm1-ram@pre-migration\n", r.out());
        write("vm1", "disk-2");
        write("vm1-ram", "ram--2");
        assertEquals("reverted the volumes of group pre-migration\n",
                Cli.ok("revert", store, "--group", "pre-migration").out());
        assertArrayEquals("disk-1".getBytes(StandardCharsets.UTF_8), Cli.ok("read", store, "vm1", "--length", "6").stdout());
        assertEquals("ram--1", read("vm1-ram", 6));
        try (Store s = Store.open(store)) {
            assertEquals("pre-migration", s.snapshotInfo("vm1-ram", "pre-migration").group());
            assertEquals("move", s.snapshotInfo("vm1", "pre-migration").properties().get("why"));
        }
        assertEquals(2, Cli.run("revert", store, "--group", "pre-migration", "--keep-current", "x").exit());
        assertEquals(2, Cli.run("revert", store, "vm1@pre-migration", "--group", "pre-migration").exit());
        assertEquals(2, Cli.run("snapshot", store, "--group", "g", "vm1@a").exit(), "a group takes volumes");
        Cli.Result ghost = Cli.run("revert", store, "--group", "nope");
        assertEquals(1, ghost.exit());
        assertTrue(ghost.err().contains("nope"), ghost.err());
    }
}
