package dev.varve.cli;

import static dev.varve.nbd.NbdProtocol.CMD_READ;
import static dev.varve.nbd.NbdProtocol.FLAG_C_FIXED_NEWSTYLE;
import static dev.varve.nbd.NbdProtocol.FLAG_C_NO_ZEROES;
import static dev.varve.nbd.NbdProtocol.IHAVEOPT;
import static dev.varve.nbd.NbdProtocol.NBDMAGIC;
import static dev.varve.nbd.NbdProtocol.OPT_GO;
import static dev.varve.nbd.NbdProtocol.REPLY_MAGIC;
import static dev.varve.nbd.NbdProtocol.REP_ACK;
import static dev.varve.nbd.NbdProtocol.REQUEST_MAGIC;
import static dev.varve.nbd.NbdProtocol.SIMPLE_REPLY_MAGIC;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code varve serve} in a thread of this JVM, and the other commands reaching the store
 * through it (its control socket) while an NBD client is connected.
 */
class ServeCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BLOCK = 4096;
    private static final Pattern LISTENING = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)");

    @TempDir
    Path tmp;
    Path store;
    Serving serving;

    @BeforeEach
    void init() {
        store = tmp.resolve("store");
        Cli.ok("init", store);
        Cli.ok("create", store, "vm", "--size", "4M");
        Cli.runWithInput(filled(100 * BLOCK, 0xa), "write", store, "vm");
    }

    @AfterEach
    void stop() throws Exception {
        if (serving != null) {
            serving.stop();
        }
    }

    @Test
    void commandsGoThroughTheRunningServer() throws Exception {
        serving = Serving.start(store, "--port", "0");
        String startup = serving.out();
        assertTrue(startup.contains("serving " + store + " (volumes read-write, snapshots read-only)"), startup);
        assertTrue(startup.contains("nbd://127.0.0.1:" + serving.port + "/vm"), startup);
        assertTrue(startup.contains("exports: vm\n"), startup);

        Cli.Result snap = Cli.ok("snapshot", store, "vm@live", "--set", "why=test");
        assertTrue(snap.out().matches("took snapshot vm@live \\(generation \\d+\\)\n"), snap.out());
        try (NbdClient vm = NbdClient.connect(serving.port, "vm")) {
            assertArrayEquals(filled(BLOCK, 0xa), vm.read(0, BLOCK));

            // the numbers are the server's, in the output the direct path prints
            JsonNode list = JSON.readTree(Cli.ok("list", store, "--json").out());
            assertEquals(100 * BLOCK, list.at("/volumes/0/referenced").asLong());
            assertEquals(0, list.at("/volumes/0/exclusive").asLong());
            assertEquals("vm@live", list.at("/snapshots/0/name").asText());
            assertEquals("test", list.at("/snapshots/0/properties/why").asText());
            assertTrue(Cli.ok("list", store).out().startsWith("VOLUME "));
            assertTrue(Cli.ok("list", store, "--tree").out().contains("vm@live"));
            JsonNode info = JSON.readTree(Cli.ok("info", store, "--json").out());
            assertEquals(1, info.get("snapshotCount").asInt());
            assertEquals(store.toString(), info.get("directory").asText());
            assertTrue(info.get("liveBytes").asLong() >= 100 * BLOCK, info.toString());

            // a revert under a connected client is refused, and says how to force it
            Cli.Result refused = Cli.run("revert", store, "vm@live");
            assertEquals(1, refused.exit(), refused.toString());
            assertTrue(refused.err().startsWith("varve: cannot revert vm to live: NBD clients are connected to vm"
                    + " (1 client)"), refused.err());
            assertTrue(refused.err().contains("--force"), refused.err());
            assertArrayEquals(filled(BLOCK, 0xa), vm.read(0, BLOCK), "the client goes on");

            Cli.Result forced = Cli.ok("revert", store, "vm@live", "--force", "--keep-current", "before");
            assertEquals("reverted vm to vm@live; its state before is snapshot vm@before\n", forced.out());
            assertTrue(vm.closedByServer(), "--force disconnects the client");
        }

        // the collector: paused and resumed in the server, a collection run there
        assertEquals("paused the background collector of " + store + "; 'varve gc " + store
                + " --resume' starts it again\n", Cli.ok("gc", store, "--pause").out());
        assertEquals("the background collector of " + store + " was already paused\n",
                Cli.ok("gc", store, "--pause").out());
        assertEquals("resumed the background collector of " + store + "\n", Cli.ok("gc", store, "--resume").out());
        JsonNode gc = JSON.readTree(Cli.ok("gc", store, "--json", "--victim-utilization", "0.9").out());
        assertTrue(gc.get("segmentsAfter").asInt() >= 1, gc.toString());
        assertTrue(Cli.ok("gc", store).out().startsWith("reclaimed   "));

        // create, clone, destroy: the direct path's words
        assertEquals("created volume scratch: 1.0 MiB, 4096-byte blocks, thin (nothing allocated until written)\n",
                Cli.ok("create", store, "scratch", "--size", "1M").out());
        assertEquals("cloned vm@live as volume vm2\n", Cli.ok("clone", store, "vm@live", "vm2").out());
        assertEquals("took group snapshot g: vm@g, vm2@g\n", Cli.ok("snapshot", store, "--group", "g", "vm", "vm2").out());
        assertEquals("reverted the volumes of group g\n", Cli.ok("revert", store, "--group", "g").out());
        try (NbdClient reader = NbdClient.connect(serving.port, "vm@before")) {
            Cli.Result busy = Cli.run("destroy", store, "vm@before");
            assertEquals(1, busy.exit(), busy.toString());
            assertTrue(busy.err().contains("NBD clients are connected to vm@before") && busy.err().contains("--force"),
                    busy.err());
            assertEquals("destroyed snapshot vm@before\n", Cli.ok("destroy", store, "vm@before", "--force").out());
            assertTrue(reader.closedByServer());
        }
        assertEquals("destroyed volume scratch\n", Cli.ok("destroy", store, "scratch").out());
        assertEquals("destroyed volume vm2 and its 1 snapshot(s)\n", Cli.ok("destroy", store, "vm2", "-r").out());
        Cli.Result missing = Cli.run("destroy", store, "nope");
        assertEquals(1, missing.exit());
        assertTrue(missing.err().startsWith("varve: no volume named 'nope'"), missing.err());

        // fsck checks a store no process has open: it says what to stop
        Cli.Result fsck = Cli.run("fsck", store);
        assertEquals(8, fsck.exit(), fsck.toString());
        assertTrue(fsck.err().contains(store + " is open in another Varve process (process "), fsck.err());
        assertTrue(fsck.err().contains("stop the server"), fsck.err());
        Cli.Result second = Cli.run("serve", store, "--port", "0");
        assertEquals(1, second.exit());
        assertTrue(second.err().startsWith("varve: " + store + " is already served by a running 'varve serve'"),
                second.err());

        String servedList = Cli.ok("list", store, "--json").out();
        assertEquals(0, serving.stop(), serving.err());
        assertTrue(serving.err().contains("varve serve: stopped; " + store + " closed cleanly"), serving.err());
        serving = null;

        // the same listing without the server, and the store is clean
        assertEquals(servedList, Cli.ok("list", store, "--json").out());
        assertEquals(0, Cli.run("fsck", store).exit());
        Cli.Result pause = Cli.run("gc", store, "--pause");
        assertEquals(1, pause.exit());
        assertEquals("varve: no server is running; the background collector only runs while the store is open"
                + " (in 'varve serve')\n", pause.err());
    }

    @Test
    void aUnixSocketAloneAndReadOnlyExports() throws Exception {
        Path sock = tmp.resolve("nbd.sock");
        serving = Serving.start(store, "--socket", sock, "--read-only");
        String startup = serving.out();
        assertTrue(startup.contains("serving " + store + " read-only"), startup);
        assertTrue(startup.contains("listening on " + sock + ", e.g. nbd+unix:///vm?socket=" + sock), startup);
        assertFalse(startup.contains("127.0.0.1"), "no TCP with --socket alone: " + startup);
        // read-only exports, yet the store takes live snapshots
        Cli.ok("snapshot", store, "vm@s");
        assertEquals(0, serving.stop(), serving.err());
        serving = null;
        assertTrue(Cli.ok("list", store).out().contains("vm@s"));
    }

    @Test
    void bindingBeyondLoopbackWarns() throws Exception {
        serving = Serving.start(store, "--bind", "0.0.0.0", "--port", "0");
        assertTrue(serving.out().contains("listening on 0.0.0.0:"), serving.out());
        String err = serving.err();
        assertTrue(err.contains("WARNING: serving on 0.0.0.0, not loopback: NBD has no authentication and no"
                + " encryption"), err);
        assertTrue(err.contains("can read and overwrite every volume in " + store), err);
        assertEquals(0, serving.stop(), serving.err());
        serving = null;

        // loopback is quiet
        serving = Serving.start(store, "--port", "0");
        assertFalse(serving.err().contains("WARNING"), serving.err());
    }

    @Test
    void aBadPortIsAUsageError() {
        Cli.Result r = Cli.run("serve", store, "--port", "70000");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("--port 70000 is not a TCP port"), r.err());
    }

    private static byte[] filled(int n, int v) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) v);
        return b;
    }

    /** {@code varve serve} running in a thread, with its streams captured; interrupting it stops it. */
    static final class Serving {
        final Thread thread;
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int[] exit = {-1};
        int port = -1;

        private Serving(Object... args) {
            String[] words = Arrays.stream(args).map(Object::toString).toArray(String[]::new);
            PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
            PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
            thread = new Thread(() -> exit[0] = Main.run(words, new ByteArrayInputStream(new byte[0]), o, e),
                    "varve-serve-test");
        }

        static Serving start(Path store, Object... options) throws InterruptedException {
            Object[] args = new Object[options.length + 2];
            args[0] = "serve";
            args[1] = store;
            System.arraycopy(options, 0, args, 2, options.length);
            Serving s = new Serving(args);
            s.thread.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            // the last start-up line: after it the thread waits in join()
            while (!s.out().contains("stops it") && !s.out().contains("stops the server")) {
                if (!s.thread.isAlive() || System.nanoTime() > deadline) {
                    throw new AssertionError("varve serve did not start\n" + s.out() + s.err());
                }
                Thread.sleep(10);
            }
            Matcher m = LISTENING.matcher(s.out());
            if (m.find()) {
                s.port = Integer.parseInt(m.group(1));
            }
            return s;
        }

        String out() {
            return out.toString(StandardCharsets.UTF_8);
        }

        String err() {
            return err.toString(StandardCharsets.UTF_8);
        }

        int stop() throws InterruptedException {
            thread.interrupt();
            thread.join(30_000);
            assertFalse(thread.isAlive(), "varve serve did not stop");
            return exit[0];
        }
    }

    /** Just enough NBD to hold an export open: fixed newstyle handshake, GO, READ. */
    static final class NbdClient implements AutoCloseable {
        private final Socket socket;
        private final DataInputStream in;
        private final DataOutputStream out;

        private NbdClient(Socket socket) throws IOException {
            this.socket = socket;
            socket.setSoTimeout(20_000);
            in = new DataInputStream(new java.io.BufferedInputStream(socket.getInputStream()));
            out = new DataOutputStream(new java.io.BufferedOutputStream(socket.getOutputStream()));
        }

        static NbdClient connect(int port, String export) throws IOException {
            Socket s = new Socket();
            s.connect(new InetSocketAddress("127.0.0.1", port), 20_000);
            NbdClient c = new NbdClient(s);
            assertEquals(NBDMAGIC, c.in.readLong());
            assertEquals(IHAVEOPT, c.in.readLong());
            c.in.readUnsignedShort();
            c.out.writeInt(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES);
            byte[] name = export.getBytes(StandardCharsets.UTF_8);
            c.out.writeLong(IHAVEOPT);
            c.out.writeInt(OPT_GO);
            c.out.writeInt(4 + name.length + 2);
            c.out.writeInt(name.length);
            c.out.write(name);
            c.out.writeShort(0);
            c.out.flush();
            while (true) {
                assertEquals(REPLY_MAGIC, c.in.readLong());
                c.in.readInt();
                int type = c.in.readInt();
                byte[] data = new byte[c.in.readInt()];
                c.in.readFully(data);
                if (type == REP_ACK) {
                    return c;
                }
                if ((type & 0x80000000) != 0) {
                    throw new IOException("GO " + export + " refused: " + new String(data, StandardCharsets.UTF_8));
                }
            }
        }

        byte[] read(long offset, int length) throws IOException {
            out.writeInt(REQUEST_MAGIC);
            out.writeShort(0);
            out.writeShort(CMD_READ);
            out.writeLong(1);
            out.writeLong(offset);
            out.writeInt(length);
            out.flush();
            assertEquals(SIMPLE_REPLY_MAGIC, in.readInt());
            assertEquals(0, in.readInt(), "read error");
            assertEquals(1, in.readLong());
            byte[] b = new byte[length];
            in.readFully(b);
            return b;
        }

        /** True when the server has closed the connection. */
        boolean closedByServer() throws IOException {
            try {
                return in.read() < 0;
            } catch (EOFException | SocketException e) {
                return true;
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
