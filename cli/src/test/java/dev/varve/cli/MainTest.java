package dev.varve.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
    private static final List<String> COMMANDS = List.of("init", "create", "list", "info", "write", "read", "import",
            "export", "snapshot", "revert", "clone", "destroy", "rename", "get", "set", "resize", "diff", "send", "receive",
            "gc", "limit", "fsck", "serve", "bench", "quickstart");

    @TempDir
    Path tmp;

    @Test
    void everyCommandIsThereAndHasHelpAndVersion() {
        String top = Cli.ok("--help").out();
        List<String> listed = top.substring(top.indexOf("Commands:")).lines().skip(1)
                .filter(l -> l.startsWith("  ") && !l.startsWith("   ")).map(l -> l.trim().split(" ")[0]).toList();
        assertEquals(COMMANDS, listed);
        for (String c : COMMANDS) {
            Cli.Result help = Cli.ok(c, "--help");
            assertTrue(help.out().startsWith("Usage: varve " + c), help.out());
            Cli.Result version = Cli.ok(c, "--version");
            assertTrue(version.out().startsWith("varve "), version.out());
        }
    }

    @Test
    void theReadmeTableDocumentsEveryCommand() throws IOException {
        String readme = Files.readString(Path.of("..", "README.md"));
        Set<String> documented = new TreeSet<>();
        for (String row : readme.lines().filter(l -> l.startsWith("| `varve ")).toList()) {
            Matcher m = Pattern.compile("`varve ([a-z]+)").matcher(row);
            while (m.find()) {
                documented.add(m.group(1));
            }
        }
        assertEquals(new TreeSet<>(COMMANDS), documented);
    }

    @Test
    void versionNamesTheBuild() {
        Cli.Result r = Cli.ok("--version");
        assertTrue(r.out().matches("(?s)varve \\d+\\.\\d+\\.\\d+.*"), r.out());
        assertFalse(r.out().contains("${"), "the version was not filtered in: " + r.out());
    }

    @Test
    void noCommandListsTheCommandsAndExits2() {
        Cli.Result r = Cli.run();
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("Commands:") && r.err().contains("quickstart"), r.err());
    }

    @Test
    void unknownCommandIsAUsageError() {
        Cli.Result r = Cli.run("snapshto", tmp);
        assertEquals(2, r.exit());
        assertTrue(r.err().startsWith("varve: Unmatched argument"), r.err());
        assertTrue(r.err().contains("Did you mean: varve snapshot"), r.err());
    }

    @Test
    void missingArgumentIsAUsageErrorWithTheSynopsis() {
        Cli.Result r = Cli.run("clone", tmp.resolve("s"), "vm@a");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("Usage: varve clone"), r.err());
        assertTrue(r.err().contains("Try 'varve clone --help'"), r.err());
    }

    @Test
    void failuresAreOneLineAndDebugAddsTheStackTrace() {
        Path store = tmp.resolve("missing");
        Cli.Result r = Cli.run("list", store);
        assertEquals(1, r.exit());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("varve: " + store), r.err());

        Cli.Result d = Cli.run("list", store, "--debug");
        assertEquals(1, d.exit());
        assertTrue(d.err().contains("\tat dev.varve."), d.err());
        Cli.Result first = Cli.run("--debug", "list", store);
        assertEquals(1, first.exit());
        assertTrue(first.err().contains("\tat dev.varve."), first.err());
    }

    @Test
    void aDirectoryThatIsNotAStoreSaysSo() {
        Cli.Result r = Cli.run("info", tmp);
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("not a Varve store"), r.err());
    }
}
