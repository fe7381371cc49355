package dev.varve.nbd;

import static dev.varve.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random and mutated handshakes and request sequences from a hand-made client: at least
 * 100,000 sequences ({@code -Dvarve.soak=N} multiplies them). The server must never throw an
 * uncaught exception, never hang (every connection ends within a timeout once the client stops
 * sending), keep serving a well-behaved client throughout, give back every buffer, answer
 * clean connections with a well-formed reply stream and no EIO, and leave a store fsck finds
 * clean. The seed is printed; {@code -Dvarve.fuzz.seed=S} replays a run.
 */
class FuzzTest {
    private static final int SEQUENCES = 100_000 * Integer.getInteger("varve.soak", 1);
    private static final int MAX_REQUEST = 1 << 20;
    private static final long VOL_SIZE = 8 << 20;
    private static final long READER_TIMEOUT_SECONDS = 60;
    private static final String[] EXPORTS = {"vol", "vol", "vol", "data", "vol@s", "", "nope"};
    private static final Set<Integer> KNOWN_ERRORS = Set.of(EPERM, EINVAL, ENOSPC, ENOTSUP, ESHUTDOWN);

    @TempDir
    java.nio.file.Path tmp;

    private final byte[] noise = new byte[MAX_REQUEST + 4096];
    private final AtomicLong chunksChecked = new AtomicLong();
    private final AtomicLongArray errnos = new AtomicLongArray(128);

    @Test
    void randomAndMutatedSequencesNeverHurtTheServer() throws Exception {
        long seed = Long.getLong("varve.fuzz.seed", System.nanoTime());
        System.out.println("FuzzTest seed " + seed + " (replay with -Dvarve.fuzz.seed=" + seed + "), " + SEQUENCES
                + " sequences");
        Random rnd = new Random(seed);
        rnd.nextBytes(noise);
        ServerOptions o = ServerOptions.defaults().withMaxRequestBytes(MAX_REQUEST).withMaxConnections(32)
                .withMaxInFlight(4).withBufferBudgetBytes(16 << 20).withHandshakeTimeout(Duration.ofSeconds(20));
        ExecutorService readers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fuzz-reader");
            t.setDaemon(true);
            return t;
        });
        try (Served s = Served.start(tmp, VOL_SIZE, o)) {
            s.store.createVolume("data", 1 << 20, 512);
            s.store.createVolume("probe", 1 << 20);
            s.store.snapshot("vol", "s", Map.of());
            int budget = s.server.buffers().availableKib();
            long sequences = 0;
            int connections = 0;
            while (sequences < SEQUENCES) {
                long connSeed = rnd.nextLong();
                try {
                    sequences += connection(s.port(), connSeed, readers);
                } catch (AssertionError | Exception e) {
                    throw new AssertionError("connection with seed " + connSeed + " (run seed " + seed + "): " + e, e);
                }
                connections++;
                if (connections % 250 == 0) {
                    probe(s.port(), rnd);
                }
            }
            probe(s.port(), rnd);
            for (int i = 0; i < 500 && s.server.stats().active() > 0; i++) {
                Thread.sleep(20);
            }
            assertEquals(0, s.server.stats().active(), "every fuzz connection ended");
            assertEquals(budget, s.server.buffers().availableKib(), "every payload buffer came back");
            NbdServer.Stats st = s.server.stats();
            System.out.println("FuzzTest: " + sequences + " sequences on " + connections + " connections; "
                    + chunksChecked.get() + " replies checked; server " + st + "; errors " + errnoSummary());
            assertTrue(sequences >= SEQUENCES);
        } finally {
            readers.shutdownNow();
        }
    }

    private String errnoSummary() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < errnos.length(); i++) {
            if (errnos.get(i) > 0) {
                b.append(i).append('=').append(errnos.get(i)).append(' ');
            }
        }
        return b.toString().trim();
    }

    /** A well-behaved client: writes, flushes with FUA and reads back on its own volume. */
    private void probe(int port, Random rnd) throws IOException {
        try (RawClient c = new RawClient(port).greet()) {
            // (the fuzz connections before it are all ended, and at most a few still count
            // against the connection limit of 32)
            assertEquals(REP_ACK, c.go("probe", rnd.nextBoolean()).type());
            byte[] data = new byte[1 + rnd.nextInt(65536)];
            rnd.nextBytes(data);
            long at = rnd.nextInt((1 << 20) - data.length);
            assertEquals(0, c.command(CMD_FLAG_FUA, CMD_WRITE, at, data.length, data, 0));
            c.request(0, CMD_READ, 2, at, data.length, null);
            List<RawClient.Chunk> reply = c.readAll(data.length);
            byte[] got = reply.get(0).simple() ? reply.get(0).payload() : ProtocolTest.readStructured(reply, at, data.length);
            assertArrayEquals(data, got, "the probe reads back what it wrote");
        }
    }

    // ------------------------------------------------------------------ one fuzz connection

    /** What the client negotiated, as far as it can tell from what it sent. */
    private record Plan(boolean clean, boolean structured, List<Integer> options) {
    }

    /** Runs one connection; returns how many sequences were sent in full. */
    private int connection(int port, long connSeed, ExecutorService readers) throws Exception {
        Random r = new Random(connSeed);
        ByteArrayOutputStream hs = new ByteArrayOutputStream();
        Plan plan = handshake(r, new DataOutputStream(hs));
        byte[] handshake = hs.toByteArray();
        if (!plan.clean) {
            mutate(r, handshake);
            if (r.nextInt(4) == 0) {
                handshake = java.util.Arrays.copyOf(handshake, r.nextInt(handshake.length + 1));
            }
        }
        try (Socket sock = new Socket()) {
            sock.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
            sock.setSoTimeout((int) TimeUnit.SECONDS.toMillis(READER_TIMEOUT_SECONDS));
            sock.setTcpNoDelay(true);
            InputStream in = sock.getInputStream();
            Future<?> reader = readers.submit(() -> {
                read(in, plan);
                return null;
            });
            OutputStream out = sock.getOutputStream();
            int sent = 0;
            int sequences = plan.clean ? 1 + r.nextInt(80) : r.nextInt(4);
            boolean open = send(out, handshake);
            if (open && !plan.clean) {
                sent++;
            }
            long size = VOL_SIZE;
            // the last sequence may break the framing; the ones before stay in step with the server
            boolean breakLast = r.nextInt(10) < 3;
            for (int i = 0; i < sequences && open; i++) {
                ByteArrayOutputStream seq = new ByteArrayOutputStream();
                int n = 1 + r.nextInt(5);
                boolean breaking = breakLast && i == sequences - 1;
                for (int k = 0; k < n; k++) {
                    byte[] req = request(r, size);
                    if (breaking && k == n - 1) {
                        req = breakRequest(r, req);
                    } else if (r.nextInt(100) < 10) {
                        mutateInStep(r, req);
                    }
                    seq.write(req);
                }
                open = send(out, seq.toByteArray());
                if (open) {
                    sent++;
                }
            }
            int ending = r.nextInt(10);
            if (open && ending < 4) {
                send(out, header(0, CMD_DISC, 0, 0, 0));
            }
            if (ending == 9) {
                // drop without a word, possibly mid-request
                sock.setSoLinger(true, 0);
                return sent;
            }
            try {
                sock.shutdownOutput();
            } catch (IOException e) {
                // the server closed first
            }
            try {
                reader.get(READER_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("the server did not end the connection within " + READER_TIMEOUT_SECONDS + " s");
            }
            return sent;
        }
    }

    private static boolean send(OutputStream out, byte[] b) {
        try {
            out.write(b);
            out.flush();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private Plan handshake(Random r, DataOutputStream d) throws IOException {
        boolean clean = r.nextInt(100) >= 15;
        List<Integer> options = new ArrayList<>();
        d.writeInt(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES);
        String export = EXPORTS[r.nextInt(clean ? 5 : EXPORTS.length)];
        if (r.nextInt(4) == 0) {
            option(d, OPT_LIST, new byte[0], options);
        }
        if (r.nextInt(4) == 0) {
            option(d, OPT_INFO, RawClient.goData(export, INFO_NAME, INFO_DESCRIPTION), options);
        }
        if (!clean) {
            for (int i = r.nextInt(4); i > 0; i--) {
                byte[] junk = new byte[r.nextInt(40)];
                r.nextBytes(junk);
                int[] kinds = {OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS, OPT_INFO, OPT_GO,
                    OPT_STRUCTURED_REPLY, OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT, 11, 12, r.nextInt()};
                option(d, kinds[r.nextInt(kinds.length)], junk, options);
            }
        }
        boolean structured = r.nextInt(10) < 7;
        if (structured) {
            option(d, OPT_STRUCTURED_REPLY, new byte[0], options);
            if (r.nextInt(5) > 0) {
                option(d, OPT_SET_META_CONTEXT, RawClient.metaData(export, BASE_ALLOCATION, "qemu:dirty-bitmap:x"), options);
            }
        }
        if (!clean && r.nextInt(3) == 0) {
            option(d, OPT_EXPORT_NAME, export.getBytes(StandardCharsets.UTF_8), options);
        } else {
            option(d, OPT_GO, RawClient.goData(export, INFO_BLOCK_SIZE), options);
        }
        return new Plan(clean, structured, options);
    }

    private static void option(DataOutputStream d, int option, byte[] data, List<Integer> options) throws IOException {
        d.writeLong(IHAVEOPT);
        d.writeInt(option);
        d.writeInt(data.length);
        d.write(data);
        options.add(option);
    }

    /** A request that is valid more often than not, with boundary values mixed in. */
    private byte[] request(Random r, long size) {
        int p = r.nextInt(100);
        int type;
        if (p < 35) {
            type = CMD_READ;
        } else if (p < 52) {
            type = CMD_WRITE;
        } else if (p < 56) {
            type = CMD_FLUSH;
        } else if (p < 66) {
            type = CMD_TRIM;
        } else if (p < 76) {
            type = CMD_WRITE_ZEROES;
        } else if (p < 95) {
            type = CMD_BLOCK_STATUS;
        } else {
            type = new int[] {CMD_CACHE, 8, 9, 200, 0xffff}[r.nextInt(5)];
        }
        int flags = 0;
        if (r.nextInt(100) < 2) {
            flags |= CMD_FLAG_FUA;
        }
        if (type == CMD_READ && r.nextInt(10) == 0) {
            flags |= CMD_FLAG_DF;
        }
        if (type == CMD_BLOCK_STATUS && r.nextBoolean()) {
            flags |= CMD_FLAG_REQ_ONE;
        }
        if (type == CMD_WRITE_ZEROES) {
            flags |= r.nextInt(4) == 0 ? CMD_FLAG_NO_HOLE : 0;
            flags |= r.nextInt(4) == 0 ? CMD_FLAG_FAST_ZERO : 0;
        }
        if (r.nextInt(50) == 0) {
            flags = r.nextInt(1 << 16);
        }
        long length = switch (r.nextInt(20)) {
            case 0 -> 0;
            case 1 -> MAX_REQUEST;
            case 2 -> MAX_REQUEST + 1L;
            case 3 -> 0xffffffffL;
            case 4 -> 4096L * (1 + r.nextInt(16));
            case 5 -> r.nextInt(256 << 10);
            default -> 1 + (long) Math.min(65536, Math.abs(r.nextGaussian()) * 6000);
        };
        if (type == CMD_FLUSH && r.nextInt(4) > 0) {
            length = 0;
        }
        long offset = switch (r.nextInt(16)) {
            case 0 -> size - length;
            case 1 -> size;
            case 2 -> size + 1;
            case 3 -> -1L;
            case 4 -> Long.MIN_VALUE;
            case 5 -> size - length + 1;
            default -> length >= size ? 0 : (long) (r.nextDouble() * (size - length));
        };
        if (type == CMD_FLUSH && r.nextInt(4) > 0) {
            offset = 0;
        }
        if (type == CMD_WRITE && length > MAX_REQUEST) {
            // a payload over the limit ends the connection: that belongs in breakRequest
            length = r.nextInt(8192);
        }
        byte[] head = header(flags, type, r.nextLong(), offset, length);
        if (type != CMD_WRITE || length > MAX_REQUEST) {
            return head;
        }
        byte[] req = new byte[head.length + (int) length];
        System.arraycopy(head, 0, req, 0, head.length);
        System.arraycopy(noise, r.nextInt(4096), req, head.length, (int) length);
        return req;
    }

    private static byte[] header(int flags, int type, long cookie, long offset, long length) {
        ByteBuffer b = ByteBuffer.allocate(REQUEST_BYTES);
        b.putInt(REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(cookie).putLong(offset)
                .putInt((int) length);
        return b.array();
    }

    /**
     * Mutates a request without breaking the framing: flags, cookie and offset may become
     * anything; the type and length change only where no payload is involved.
     */
    private static void mutateInStep(Random r, byte[] req) {
        ByteBuffer b = ByteBuffer.wrap(req);
        boolean write = b.getShort(6) == CMD_WRITE;
        long[] values = {0, -1, 1, VOL_SIZE, VOL_SIZE - 1, 1L << 31, 1L << 32, MAX_REQUEST + 1L, Long.MAX_VALUE};
        long v = values[r.nextInt(values.length)];
        switch (r.nextInt(write ? 4 : 6)) {
            case 0 -> b.putShort(4, (short) (r.nextBoolean() ? v : 1 << r.nextInt(16)));
            case 1 -> req[8 + r.nextInt(8)] ^= (byte) (1 << r.nextInt(8));
            case 2 -> b.putLong(16, v);
            case 3 -> req[16 + r.nextInt(8)] ^= (byte) (1 << r.nextInt(8));
            case 4 -> b.putInt(24, (int) v);
            default -> {
                int type = r.nextInt(12);
                b.putShort(6, (short) (type == CMD_WRITE || type == CMD_DISC ? CMD_READ : type));
            }
        }
    }

    /** Mutates a request so that the server loses the framing (or might). */
    private byte[] breakRequest(Random r, byte[] req) {
        switch (r.nextInt(6)) {
            case 5 -> {
                byte[] head = header(0, CMD_WRITE, 1, 0, MAX_REQUEST + 1L + r.nextInt(1 << 30));
                return java.util.Arrays.copyOf(head, head.length + r.nextInt(4096));
            }
            case 0 -> {
                mutate(r, req);
                return req;
            }
            case 1 -> {
                return java.util.Arrays.copyOf(req, r.nextInt(req.length + 1));
            }
            case 2 -> {
                byte[] longer = java.util.Arrays.copyOf(req, req.length + 1 + r.nextInt(40));
                System.arraycopy(noise, r.nextInt(4096), longer, req.length, longer.length - req.length);
                return longer;
            }
            case 3 -> {
                byte[] junk = new byte[r.nextInt(64)];
                r.nextBytes(junk);
                return junk;
            }
            default -> {
                req[r.nextInt(4)] ^= (byte) (1 << r.nextInt(8));
                return req;
            }
        }
    }

    /** Flips a few bits anywhere. */
    private static void mutate(Random r, byte[] b) {
        if (b.length == 0) {
            return;
        }
        for (int i = 1 + r.nextInt(3); i > 0; i--) {
            b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
        }
    }

    // ------------------------------------------------------------------ what comes back

    /**
     * Reads until the server closes. A clean structured connection's stream is parsed and
     * checked in full; any other is drained.
     */
    private void read(InputStream raw, Plan plan) throws IOException {
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(raw, 1 << 16));
        try {
            if (!plan.clean) {
                drain(in);
                return;
            }
            assertEquals(NBDMAGIC, in.readLong());
            assertEquals(IHAVEOPT, in.readLong());
            in.readUnsignedShort();
            boolean transmission = false;
            for (int option : plan.options) {
                while (true) {
                    assertEquals(REPLY_MAGIC, in.readLong(), "option reply magic");
                    assertEquals(option, in.readInt(), "option reply echoes the option");
                    int type = in.readInt();
                    int len = in.readInt();
                    assertTrue(len >= 0 && len <= 65536, "option reply length " + len);
                    in.readFully(new byte[len]);
                    chunksChecked.incrementAndGet();
                    if (type == REP_ACK || (type & 0x80000000) != 0) {
                        transmission = option == OPT_GO && type == REP_ACK;
                        break;
                    }
                    assertTrue(type == REP_SERVER || type == REP_INFO || type == REP_META_CONTEXT, "reply type " + type);
                }
            }
            if (!transmission || !plan.structured) {
                drain(in);
                return;
            }
            while (true) {
                int magic;
                try {
                    magic = in.readInt();
                } catch (EOFException e) {
                    return;
                }
                if (magic == SIMPLE_REPLY_MAGIC) {
                    count(in.readInt());
                    in.readLong();
                } else {
                    assertEquals(STRUCTURED_REPLY_MAGIC, magic, "reply magic");
                    int flags = in.readUnsignedShort();
                    int type = in.readUnsignedShort();
                    in.readLong();
                    long len = Integer.toUnsignedLong(in.readInt());
                    assertTrue((flags & ~REPLY_FLAG_DONE) == 0, "chunk flags " + flags);
                    assertTrue(len <= MAX_REQUEST + 8L, "chunk length " + len);
                    byte[] p = new byte[(int) len];
                    in.readFully(p);
                    ByteBuffer b = ByteBuffer.wrap(p);
                    switch (type) {
                        case REPLY_TYPE_NONE -> assertEquals(0, len);
                        case REPLY_TYPE_OFFSET_DATA -> assertTrue(len > 8, "data chunk without data");
                        case REPLY_TYPE_OFFSET_HOLE -> {
                            assertEquals(12, len);
                            assertTrue(b.getInt(8) != 0, "empty hole");
                        }
                        case REPLY_TYPE_BLOCK_STATUS -> {
                            assertTrue(len >= 12 && (len - 4) % 8 == 0, "block status length " + len);
                            assertEquals(Handshake.BASE_ALLOCATION_ID, b.getInt(0));
                            for (int at = 4; at < len; at += 8) {
                                assertTrue(b.getInt(at) != 0, "empty extent");
                                int st = b.getInt(at + 4);
                                assertTrue(st == 0 || st == (STATE_HOLE | STATE_ZERO), "extent state " + st);
                            }
                        }
                        case REPLY_TYPE_ERROR -> {
                            assertTrue(len >= 6 && b.getShort(4) + 6 == len, "error chunk length " + len);
                            count(b.getInt(0));
                        }
                        default -> throw new AssertionError("chunk type " + type);
                    }
                    chunksChecked.incrementAndGet();
                }
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("no reply and no end of stream within " + READER_TIMEOUT_SECONDS + " s");
        } catch (java.net.SocketException | EOFException e) {
            // reset or cut short by the server: an orderly end for a broken stream
        }
    }

    private void count(int errno) {
        if (errno != 0) {
            assertTrue(KNOWN_ERRORS.contains(errno), "error " + errno + " (EIO means the engine failed)");
            errnos.incrementAndGet(Math.min(errno, errnos.length() - 1));
        }
    }

    private static void drain(InputStream in) throws IOException {
        byte[] b = new byte[1 << 16];
        while (in.read(b) >= 0) {
            // discard
        }
    }
}
