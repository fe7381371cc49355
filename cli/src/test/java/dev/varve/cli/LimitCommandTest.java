package dev.varve.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LimitCommandTest {
    @TempDir
    Path tmp;

    @Test
    void theLimitIsKeptInTheStoreAndCanBeChangedOrRemoved() {
        String s = tmp.resolve("s").toString();
        Cli.Result init = Cli.run("init", s, "--max-size", "1G");
        assertEquals(0, init.exit(), init.err());
        assertTrue(init.out().contains("limited to 1.0 GiB"), init.out());
        Cli.Result show = Cli.run("limit", s);
        assertEquals(0, show.exit(), show.err());
        assertTrue(show.out().contains("1073741824 bytes"), "kept across opens: " + show.out());
        Cli.Result tooSmall = Cli.run("limit", s, "100M");
        assertEquals(1, tooSmall.exit());
        assertTrue(tooSmall.err().contains("at least 8 segments"), tooSmall.err());
        assertEquals(0, Cli.run("limit", s, "none").exit());
        assertTrue(Cli.run("limit", s).out().contains("no size limit"));
    }
}
