package dev.varve.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.Store;
import dev.varve.fsck.Fsck;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QuickstartTest {
    @TempDir
    Path tmp;

    @Test
    void everyStepVerifiesAndTheStoreIsLeftToExplore() throws IOException {
        Path dir = tmp.resolve("demo");
        Cli.Result r = Cli.run("quickstart", dir);
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("All 11 steps verified."), r.out());
        assertTrue(r.out().contains("vm1  <- you are here"), r.out());
        assertTrue(r.out().contains("ok: fsck finds the store clean"), r.out());
        assertEquals("", r.err());

        assertEquals(0, Fsck.check(dir, false).exitCode());
        try (Store s = Store.open(dir)) {
            assertEquals(2, s.volumes().size());
            assertEquals(4, s.snapshots().size());
        }
        assertEquals(0, Cli.run("list", dir, "--tree").exit());
    }

    @Test
    void refusesADirectoryInUse() throws IOException {
        Files.writeString(tmp.resolve("precious.txt"), "keep me");
        Cli.Result r = Cli.run("quickstart", tmp);
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("is not empty"), r.err());
        assertEquals("keep me", Files.readString(tmp.resolve("precious.txt")));
    }
}
