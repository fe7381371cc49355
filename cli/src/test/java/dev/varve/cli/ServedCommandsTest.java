package dev.varve.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.cli.ServeCommandTest.NbdClient;
import dev.varve.cli.ServeCommandTest.Serving;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commands that used to stop at a running server's lock, now through its control socket:
 * one script of commands (their errors included) runs on a served store and on a copy of it
 * opened directly, and everything they print and write must be the same, byte for byte. Then
 * what only a server has: NBD clients connected to what a command would change.
 */
class ServedCommandsTest {
    private static final int BLOCK = 4096;
    private static final long SEED = 20261127L;

    @TempDir
    Path tmp;
    Path served;
    Path direct;
    Path in;
    Serving serving;
    /** vm@s1's first 300 blocks. */
    byte[] first;

    @BeforeEach
    void init() throws IOException {
        System.out.println("ServedCommandsTest seed " + SEED);
        served = tmp.resolve("served");
        direct = tmp.resolve("direct");
        in = tmp.resolve("in");
        Files.createDirectories(in);
        Cli.ok("init", served);
        Cli.ok("create", served, "vm", "--size", "4M");
        Cli.ok("create", served, "bystander", "--size", "1M");
        Random r = new Random(SEED);
        // data with all-zero blocks inside it (allocated, yet an export leaves them holes)
        first = random(r, 300 * BLOCK);
        Arrays.fill(first, 10 * BLOCK, 80 * BLOCK, (byte) 0);
        write(served, "vm", 0, first);
        Cli.ok("snapshot", served, "vm@s1", "--set", "note=first");
        // a run longer than the 1 MiB a frame carries, across chunk boundaries
        write(served, "vm", 1 << 20, random(r, (5 << 19) + 3 * BLOCK));
        write(served, "vm", 0, random(r, 2 * BLOCK));
        Cli.ok("snapshot", served, "vm@s2");
        write(served, "vm", 40 * BLOCK, random(r, 7 * BLOCK));

        // inputs for the script, made once for both runs
        Files.write(in.resolve("data"), random(r, 5 * BLOCK + 100));
        Files.write(in.resolve("big"), random(r, 5 << 20));
        byte[] image = random(r, (3 << 20) + 1000);
        Arrays.fill(image, BLOCK, 200 * BLOCK, (byte) 0);
        Files.write(in.resolve("image"), image);
        Files.writeString(in.resolve("config"), "cpus=4\nmemory=8G\n");
        Cli.ok("send", served, "vm@s1", "-o", in.resolve("full.stream"));
        byte[] inc = Cli.ok("send", served, "vm@s2", "--from", "vm@s1").stdout();
        Files.write(in.resolve("inc.stream"), inc);
        byte[] full = Files.readAllBytes(in.resolve("full.stream"));
        Files.write(in.resolve("cut.stream"), Arrays.copyOf(full, full.length / 2));

        copyTree(served, direct);
    }

    @AfterEach
    void stop() throws Exception {
        if (serving != null) {
            serving.stop();
        }
    }

    /** A command line of the script, with what it reads on stdin. */
    private record Step(byte[] stdin, Object... args) {
    }

    private List<Step> script(Path store, Path out) {
        List<Step> s = new ArrayList<>();
        byte[] none = new byte[0];
        // properties
        s.add(new Step(none, "set", store, "vm", "a=1", "config=@" + in.resolve("config"), "at=@@home"));
        s.add(new Step(none, "get", store, "vm"));
        s.add(new Step(none, "get", store, "vm", "--json"));
        s.add(new Step(none, "get", store, "vm", "config"));
        s.add(new Step(none, "get", store, "vm", "config", "--json"));
        s.add(new Step(none, "get", store, "vm@s1"));
        s.add(new Step(none, "get", store, "vm", "missing"));
        s.add(new Step(none, "set", store, "vm", "--unset", "a", "b=2"));
        s.add(new Step(none, "get", store, "vm", "--json"));
        s.add(new Step(none, "get", store, "nope"));
        s.add(new Step(none, "get", store, "vm@nope"));
        s.add(new Step(none, "set", store, "vm@nope", "x=1"));
        // rename: snapshots, volumes, and their errors
        s.add(new Step(none, "rename", store, "vm@s1", "vm@first"));
        s.add(new Step(none, "rename", store, "vm@first", "vm@s2"));
        s.add(new Step(none, "rename", store, "vm@first", "other@x"));
        s.add(new Step(none, "rename", store, "nope", "x"));
        s.add(new Step(none, "rename", store, "vm@nope", "x"));
        s.add(new Step(none, "rename", store, "vm", "disk"));
        s.add(new Step(none, "rename", store, "disk", "bad/name"));
        s.add(new Step(none, "get", store, "disk@first", "note"));
        // the size limit
        s.add(new Step(none, "limit", store));
        s.add(new Step(none, "limit", store, "1G"));
        s.add(new Step(none, "limit", store));
        s.add(new Step(none, "limit", store, "none"));
        // diff
        s.add(new Step(none, "diff", store, "disk@first", "disk@s2"));
        s.add(new Step(none, "diff", store, "disk@first", "disk@s2", "--json"));
        s.add(new Step(none, "diff", store, "disk@s2", "disk"));
        s.add(new Step(none, "diff", store, "disk@first", "disk@nope"));
        // reading out: read, export, send
        s.add(new Step(none, "read", store, "disk@first"));
        s.add(new Step(none, "read", store, "disk@s2", "--offset", "1M", "--length", "1500K"));
        s.add(new Step(none, "read", store, "disk", "--offset", "1000", "--length", "0"));
        s.add(new Step(none, "read", store, "disk", "-o", out.resolve("disk.raw")));
        s.add(new Step(none, "read", store, "disk", "--offset", "5M"));
        s.add(new Step(none, "read", store, "disk", "--offset", "3M", "--length", "2M"));
        s.add(new Step(none, "read", store, "disk@nope"));
        s.add(new Step(none, "export", store, "disk@first", out.resolve("first.img")));
        s.add(new Step(none, "export", store, "disk@s2", out.resolve("s2.img")));
        s.add(new Step(none, "export", store, "disk", out.resolve("head.img")));
        s.add(new Step(none, "export", store, "disk@first", out.resolve("first.img")));
        s.add(new Step(none, "export", store, "disk@nope", out.resolve("nope.img")));
        s.add(new Step(none, "send", store, "disk@s2", "-o", out.resolve("s2.stream")));
        s.add(new Step(none, "send", store, "disk@s2", "--from", "first", "-o", out.resolve("inc.stream"), "-v"));
        s.add(new Step(none, "send", store, "disk@first"));
        s.add(new Step(none, "send", store, "disk@s2", "--from", "disk@first", "-v"));
        s.add(new Step(none, "send", store, "disk@nope", "-o", out.resolve("nope.stream")));
        s.add(new Step(none, "send", store, "disk@s2", "--from", "nope", "-o", out.resolve("bad.stream")));
        // writing in: write, import, receive
        s.add(new Step(none, "write", store, "disk", in.resolve("data"), "--offset", "8K"));
        s.add(new Step(new byte[] {1, 2, 3}, "write", store, "disk", "--offset", "4M"));
        s.add(new Step(none, "write", store, "disk", in.resolve("data"), "--offset", "5M"));
        s.add(new Step(none, "write", store, "disk", in.resolve("big")));
        s.add(new Step(readAll(in.resolve("big")), "write", store, "disk", "--offset", "1M"));
        s.add(new Step(none, "write", store, "nope", in.resolve("data")));
        s.add(new Step(none, "read", store, "disk"));
        s.add(new Step(none, "import", store, "img", in.resolve("image")));
        s.add(new Step(none, "import", store, "img", in.resolve("image")));
        s.add(new Step(none, "read", store, "img"));
        s.add(new Step(none, "receive", store, "copy", "-i", in.resolve("full.stream")));
        s.add(new Step(readAll(in.resolve("inc.stream")), "receive", store, "copy"));
        s.add(new Step(none, "receive", store, "copy", "-i", in.resolve("inc.stream")));
        s.add(new Step(none, "read", store, "copy"));
        s.add(new Step(none, "get", store, "copy@s1"));
        s.add(new Step(none, "receive", store, "cut", "-i", in.resolve("cut.stream")));
        s.add(new Step(none, "receive", store, "cut", "-i", in.resolve("cut.stream"), "-s"));
        s.add(new Step(none, "receive", store, "cut", "--token"));
        s.add(new Step(none, "receive", store, "cut", "--abort"));
        s.add(new Step(none, "receive", store, "cut", "--token"));
        // the changes, as a resize sees them
        s.add(new Step(none, "resize", store, "disk", "8M"));
        s.add(new Step(none, "resize", store, "disk", "3M"));
        s.add(new Step(none, "resize", store, "disk", "1000"));
        s.add(new Step(none, "resize", store, "nope", "1M"));
        s.add(new Step(none, "read", store, "disk"));
        s.add(new Step(none, "diff", store, "disk@s2", "disk", "--json"));
        return s;
    }

    /** What one run of the script printed, with the store's and the output directory's paths made alike. */
    private List<String> run(Path store, Path out) throws IOException {
        Files.createDirectories(out);
        List<String> transcript = new ArrayList<>();
        for (Step step : script(store, out)) {
            Cli.Result r = Cli.runWithInput(step.stdin(), step.args());
            String words = String.join(" ", Arrays.stream(step.args()).map(Object::toString).toList());
            transcript.add(alike(words + "\n" + r, store, out));
        }
        return transcript;
    }

    private static String alike(String text, Path store, Path out) {
        return text.replace(out.toString(), "OUT").replace(store.toString(), "STORE");
    }

    @Test
    void everyCommandThroughTheServerPrintsAndWritesWhatItDoesDirectly() throws Exception {
        serving = Serving.start(served, "--port", "0");
        List<String> viaServer;
        try (NbdClient bystander = NbdClient.connect(serving.port, "bystander")) {
            // a client of a volume the script leaves alone stands in nobody's way
            viaServer = run(served, tmp.resolve("out-served"));
            assertArrayEquals(new byte[BLOCK], bystander.read(0, BLOCK), "and it is served all along");
        }
        assertEquals(0, serving.stop(), serving.err());
        serving = null;
        List<String> directly = run(direct, tmp.resolve("out-direct"));

        assertEquals(directly.size(), viaServer.size());
        for (int i = 0; i < directly.size(); i++) {
            assertEquals(directly.get(i), viaServer.get(i), "step " + i);
        }
        // the files written: images, raw reads and streams alike, byte for byte
        List<String> names;
        try (Stream<Path> files = Files.list(tmp.resolve("out-direct"))) {
            names = files.map(p -> p.getFileName().toString()).sorted().toList();
        }
        try (Stream<Path> files = Files.list(tmp.resolve("out-served"))) {
            assertEquals(names, files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertEquals(List.of("disk.raw", "first.img", "head.img", "inc.stream", "s2.img", "s2.stream"), names);
        for (String n : names) {
            assertArrayEquals(readAll(tmp.resolve("out-direct").resolve(n)), readAll(tmp.resolve("out-served").resolve(n)),
                    n);
        }
        assertEquals(0, Cli.run("fsck", served).exit());
    }

    @Test
    void changesUnderConnectedClientsAreRefusedUnlessForced() throws Exception {
        serving = Serving.start(served, "--port", "0");
        int port = serving.port;
        byte[] s1 = Arrays.copyOf(first, BLOCK);

        // rename: a client of a volume's snapshot keeps the volume's old name too
        try (NbdClient snap = NbdClient.connect(port, "vm@s1")) {
            Cli.Result r = Cli.run("rename", served, "vm", "disk");
            assertEquals(1, r.exit(), r.toString());
            assertEquals("varve: cannot rename vm: NBD clients are connected to vm@s1 (1 client), which keep the old"
                    + " name; stop them first, or force it (--force), which disconnects them (they reconnect under the"
                    + " new name)\n", r.err());
            assertArrayEquals(s1, snap.read(0, BLOCK), "the client goes on");
            // a rename bound to fail disconnects nobody, forced or not
            Cli.Result bad = Cli.run("rename", served, "vm", "bad/name", "--force");
            assertEquals(1, bad.exit());
            assertTrue(bad.err().startsWith("varve: volume name 'bad/name' contains '/'"), bad.err());
            assertArrayEquals(s1, snap.read(0, BLOCK));
            assertEquals("renamed vm to disk\n", Cli.ok("rename", served, "vm", "disk", "--force").out());
            assertTrue(snap.closedByServer(), "--force disconnects the client of the old name");
        }
        try (NbdClient snap = NbdClient.connect(port, "disk@s1")) {
            assertArrayEquals(s1, snap.read(0, BLOCK), "reconnected under the new name");
            Cli.Result r = Cli.run("rename", served, "disk@s1", "disk@one");
            assertEquals(1, r.exit(), r.toString());
            assertTrue(r.err().startsWith("varve: cannot rename disk@s1: NBD clients are connected to disk@s1 (1 client)"),
                    r.err());
            assertEquals("renamed disk@s1 to disk@one\n", Cli.ok("rename", served, "disk@s1", "disk@one", "--force").out());
            assertTrue(snap.closedByServer());
        }
        assertFalse(Cli.ok("list", served).out().contains("vm"), "no trace of the old names");

        // resize: growing leaves the client be (and says what it still sees); shrinking under it is refused
        byte[] head = Cli.ok("read", served, "disk", "--length", "4K").stdout();
        try (NbdClient c = NbdClient.connect(port, "disk")) {
            Cli.Result grow = Cli.ok("resize", served, "disk", "8M");
            assertEquals("resized disk: 4.0 MiB -> 8.0 MiB\n", grow.out());
            assertEquals("varve: note: 1 NBD client of disk still sees 4.0 MiB until it reconnects\n", grow.err());
            assertArrayEquals(head, c.read(0, BLOCK));
            Cli.Result shrink = Cli.run("resize", served, "disk", "2M");
            assertEquals(1, shrink.exit());
            assertEquals("varve: cannot shrink disk from 8388608 to 2097152 bytes: NBD clients are connected to disk"
                    + " (1 client); stop them first, or force it (--force), which disconnects them\n", shrink.err());
            assertEquals(1, Cli.run("resize", served, "disk", "1000", "--force").exit());
            assertArrayEquals(head, c.read(0, BLOCK), "a size the engine refuses disconnects nobody");

            // write and receive: not under the client either
            Cli.Result write = Cli.runWithInput(new byte[BLOCK], "write", served, "disk");
            assertEquals(1, write.exit());
            assertEquals("varve: cannot write to disk: NBD clients are connected to disk (1 client); stop them first,"
                    + " or force it (--force), which disconnects them\n", write.err());
            Cli.Result receive = Cli.run("receive", served, "disk", "-i", in.resolve("inc.stream"), "-F");
            assertEquals(1, receive.exit());
            assertEquals("varve: cannot receive into disk: NBD clients are connected to disk (1 client); stop them"
                    + " first\n", receive.err());
            assertArrayEquals(head, c.read(0, BLOCK), "nothing was written");

            // reading out goes on beside it
            Cli.ok("export", served, "disk@s2", tmp.resolve("s2.img"));
            assertEquals(4 << 20, Files.size(tmp.resolve("s2.img")));
            assertArrayEquals(Cli.ok("read", served, "disk@s2").stdout(), readAll(tmp.resolve("s2.img")));

            assertEquals("resized disk: 8.0 MiB -> 2.0 MiB\n", Cli.ok("resize", served, "disk", "2M", "--force").out());
            assertTrue(c.closedByServer());
        }
        try (NbdClient c = NbdClient.connect(port, "disk")) {
            byte[] ones = new byte[2 * BLOCK];
            Arrays.fill(ones, (byte) 1);
            Cli.Result w = Cli.runWithInput(ones, "write", served, "disk", "--offset", "4K", "--force");
            assertEquals(0, w.exit(), w.toString());
            assertEquals("wrote 8192 bytes to disk at offset 4096\n", w.out());
            assertTrue(c.closedByServer());
        }
        try (NbdClient c = NbdClient.connect(port, "disk")) {
            byte[] ones = new byte[BLOCK];
            Arrays.fill(ones, (byte) 1);
            assertArrayEquals(ones, c.read(2 * BLOCK, BLOCK), "what was written is what the client reads");
        }
        assertEquals(0, serving.stop(), serving.err());
        serving = null;
        assertEquals(0, Cli.run("fsck", served).exit());
    }

    private static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    private void write(Path store, String volume, long offset, byte[] data) throws IOException {
        Path f = tmp.resolve("chunk");
        Files.write(f, data);
        Cli.ok("write", store, volume, f, "--offset", offset);
    }

    private static byte[] readAll(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }
}
