package dev.varve.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StreamCommandsTest {
    @TempDir
    Path tmp;
    Path src;
    Path dst;

    @BeforeEach
    void init() throws IOException {
        src = tmp.resolve("src");
        dst = tmp.resolve("dst");
        Cli.ok("init", src);
        Cli.ok("init", dst);
        Cli.ok("create", src, "vm", "--size", "4M");
        write(0, 100_000, 1);
        Cli.ok("snapshot", src, "vm@a", "--set", "vm.config=cpus=2");
        write(1 << 20, 8192, 2);
        write(3 << 20, 10, 3);
        Cli.ok("snapshot", src, "vm@b");
    }

    private void write(long offset, int length, int seed) throws IOException {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        Path f = tmp.resolve("in");
        Files.write(f, b);
        Cli.ok("write", src, "vm", f, "--offset", offset);
    }

    private static byte[] read(Path store, String device) {
        return Cli.ok("read", store, device).stdout();
    }

    @Test
    void diffListsTheChangedRanges() throws IOException {
        Cli.Result r = Cli.ok("diff", src, "vm@a", "vm@b");
        assertEquals("OFFSET   LENGTH  END\n"
                + "1048576  8192    1056768\n"
                + "3145728  4096    3149824\n"
                + "2 ranges, 12.0 KiB changed between vm@a and vm@b (of 4.0 MiB)\n", r.out());
        JsonNode j = Main.JSON.readTree(Cli.ok("diff", src, "vm@a", "vm@b", "--json").out());
        assertEquals(12288, j.get("changedBytes").asLong());
        assertEquals(1048576, j.get("ranges").get(0).get("offset").asLong());
        assertEquals("0 ranges, 0 B changed between vm@b and vm (of 4.0 MiB)\n", Cli.ok("diff", src, "vm@b", "vm").out());
        assertEquals(1, Cli.run("diff", src, "vm@a", "vm@nope").exit());
    }

    @Test
    void sendAndReceiveThroughAPipeAndAFile() throws IOException {
        byte[] full = Cli.ok("send", src, "vm@a").stdout();
        Cli.Result r = Cli.runWithInput(full, "receive", dst, "copy");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().startsWith("received copy@a (full): "), r.out());
        assertArrayEquals(read(src, "vm@a"), read(dst, "copy@a"));
        assertTrue(Cli.ok("get", dst, "copy@a").out().contains("cpus=2"), "properties travel with the snapshot");

        Path file = tmp.resolve("inc.stream");
        Cli.Result s = Cli.ok("send", src, "vm@b", "--from", "a", "-o", file);
        assertTrue(s.out().startsWith("sent vm@b (incremental from vm@a): 12.0 KiB of data"), s.out());
        assertTrue(Files.size(file) < 16 * 1024, "an incremental carries the change: " + Files.size(file));
        assertEquals(1, Cli.run("send", src, "vm@b", "-o", file).exit(), "an existing file needs --force");
        Cli.ok("receive", dst, "copy", "-i", file);
        assertArrayEquals(read(src, "vm@b"), read(dst, "copy@b"));
        assertArrayEquals(read(src, "vm@b"), read(dst, "copy"));
        assertEquals("0 ranges, 0 B changed between copy@b and copy (of 4.0 MiB)\n",
                Cli.ok("diff", dst, "copy@b", "copy").out());
    }

    @Test
    void aBadStreamIsRefusedAndChangesNothing() throws IOException {
        Cli.runWithInput(Cli.ok("send", src, "vm@a").stdout(), "receive", dst, "copy");
        String before = Cli.ok("list", dst, "--json").out();
        byte[] inc = Cli.ok("send", src, "vm@b", "--from", "vm@a").stdout();
        byte[] bad = inc.clone();
        bad[bad.length / 2] ^= 4;
        Cli.Result r = Cli.runWithInput(bad, "receive", dst, "copy");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("corrupt send stream"), r.err());
        Cli.Result cut = Cli.runWithInput(Arrays.copyOf(inc, inc.length - 5), "receive", dst, "copy");
        assertEquals(1, cut.exit());
        assertTrue(cut.err().contains("ended after"), cut.err());
        Cli.Result wrong = Cli.runWithInput(inc, "receive", dst, "other");
        assertEquals(1, wrong.exit());
        assertTrue(wrong.err().contains("no volume named 'other'"), wrong.err());
        assertEquals(before, Cli.ok("list", dst, "--json").out());
        assertEquals(0, Cli.runWithInput(inc, "receive", dst, "copy").exit());
    }

    @Test
    void anInterruptedReceiveResumesFromItsToken() throws IOException {
        write(0, 3 << 20, 9);
        Cli.ok("snapshot", src, "vm@c");
        byte[] full = Cli.ok("send", src, "vm@c").stdout();
        Cli.Result cut = Cli.runWithInput(Arrays.copyOf(full, full.length / 2), "receive", dst, "copy", "-s");
        assertEquals(1, cut.exit());
        assertTrue(cut.err().contains("--resume-token varve1:"), cut.err());
        String token = Cli.ok("receive", dst, "copy", "--token").out().trim();
        assertTrue(token.startsWith("varve1:"), token);

        byte[] rest = Cli.ok("send", src, "vm@c", "--resume-token", token).stdout();
        assertTrue(rest.length < full.length, rest.length + " of " + full.length);
        assertEquals(1, Cli.runWithInput(rest, "receive", dst, "copy").exit(), "a resumed stream needs --resume");
        Cli.Result r = Cli.runWithInput(rest, "receive", dst, "copy", "--resume");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains(", resumed"), r.out());
        assertArrayEquals(read(src, "vm@c"), read(dst, "copy@c"));
        assertEquals(1, Cli.run("receive", dst, "copy", "--token").exit());

        Cli.runWithInput(Arrays.copyOf(full, 1000), "receive", dst, "again", "-s");
        assertTrue(Cli.ok("list", dst).out().contains("%recv-again"));
        assertEquals("discarded the interrupted receive into again\n", Cli.ok("receive", dst, "again", "--abort").out());
        assertFalse(Cli.ok("list", dst).out().contains("%recv-again"));
        assertEquals(2, Cli.run("receive", dst, "again", "--abort", "--token").exit());
        assertEquals(2, Cli.run("send", src, "vm@c", "--resume-token", "nonsense").exit());
    }
}
