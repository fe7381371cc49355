package dev.varve.nbd;

import static dev.varve.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
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
 * 100,000 sequences ({@code -Dvarve.soak=true} runs 100 times as many, {@code -Dvarve.soak=N}
 * N times), the first half one connection at a time, the rest from {@value #CONCURRENT}
 * clients at once. The server must never let an exception or Error escape (its own threads
 * count them as internal errors; any other thread's reach the default handler this test
 * installs), never hang (every connection ends within a timeout once the client stops
 * sending), keep serving a well-behaved client throughout, give back every buffer, and leave a
 * store fsck finds clean. A clean connection's reply stream, simple or structured, is parsed and
 * matched to the requests by cookie: each is answered once, in well-formed chunks that stay
 * inside what was asked, with no EIO; when the client did not break the framing, every request
 * is answered before the server closes. The seed is printed; {@code -Dvarve.fuzz.seed=S}
 * replays the sequential half, and a failure names the seed of its connection.
 */
class FuzzTest {
    private static final int SEQUENCES = 100_000 * soakFactor();
    private static final int CONCURRENT = 4;
    private static final int MAX_REQUEST = 1 << 20;
    private static final long VOL_SIZE = 8 << 20;
    private static final long READER_TIMEOUT_SECONDS = 60;
    private static final String[] EXPORTS = {"vol", "vol", "vol", "data", "vol@s", "", "nope"};
    private static final Set<Integer> KNOWN_ERRORS = Set.of(EPERM, EINVAL, ENOSPC, ENOTSUP, ESHUTDOWN);
    /** The most descriptors a BLOCK_STATUS reply may carry (64 KiB). */
    private static final int MAX_STATUS_DESCRIPTORS = 8191;

    @TempDir
    java.nio.file.Path tmp;

    private final byte[] noise = new byte[MAX_REQUEST + 4096];
    private final AtomicLong chunksChecked = new AtomicLong();
    private final AtomicLong repliesMatched = new AtomicLong();
    private final AtomicLongArray errnos = new AtomicLongArray(128);
    private final AtomicLong sequences = new AtomicLong();
    private final AtomicLong connections = new AtomicLong();
    private final Object probeLock = new Object();

    /** {@code -Dvarve.soak=true} is 100, {@code -Dvarve.soak=N} is N (as property-tests reads it). */
    static int soakFactor() {
        String s = System.getProperty("varve.soak");
        if (s == null || s.isBlank() || s.equals("false")) {
            return 1;
        }
        if (s.equals("true")) {
            return 100;
        }
        try {
            return Math.max(1, Integer.parseInt(s.trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("varve.soak must be true, false or a whole number, got '" + s + "'");
        }
    }

    @Test
    void soakTrueMeansAHundredTimes() {
        String before = System.getProperty("varve.soak");
        try {
            System.setProperty("varve.soak", "true");
            assertEquals(100, soakFactor());
            System.setProperty("varve.soak", "3");
            assertEquals(3, soakFactor());
            System.setProperty("varve.soak", "false");
            assertEquals(1, soakFactor());
            System.setProperty("varve.soak", "lots");
            assertThrows(IllegalArgumentException.class, FuzzTest::soakFactor);
        } finally {
            if (before == null) {
                System.clearProperty("varve.soak");
            } else {
                System.setProperty("varve.soak", before);
            }
        }
    }

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
        ExecutorService clients = Executors.newFixedThreadPool(CONCURRENT, r -> {
            Thread t = new Thread(r, "fuzz-client");
            t.setDaemon(true);
            return t;
        });
        List<String> uncaught = new CopyOnWriteArrayList<>();
        Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> uncaught.add(t.getName() + ": " + e));
        try (Served s = Served.start(tmp, VOL_SIZE, o)) {
            s.store.createVolume("data", 1 << 20, 512);
            s.store.createVolume("probe", 1 << 20);
            s.store.snapshot("vol", "s", Map.of());
            int budget = s.server.buffers().availableKib();

            // one connection at a time: the run seed replays this half exactly
            while (sequences.get() < SEQUENCES / 2) {
                fuzzOne(s.port(), rnd.nextLong(), seed, readers, rnd);
            }
            // then several clients at once, each connection on a seed from the same generator
            List<Future<?>> running = new ArrayList<>();
            for (int i = 0; i < CONCURRENT; i++) {
                running.add(clients.submit(() -> {
                    while (sequences.get() < SEQUENCES) {
                        long connSeed;
                        synchronized (rnd) {
                            connSeed = rnd.nextLong();
                        }
                        fuzzOne(s.port(), connSeed, seed, readers, rnd);
                    }
                    return null;
                }));
            }
            for (Future<?> f : running) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    throw e.getCause() instanceof AssertionError a ? a : new AssertionError(e.getCause());
                }
            }
            probe(s.port(), rnd);
            for (int i = 0; i < 500 && s.server.stats().active() > 0; i++) {
                Thread.sleep(20);
            }
            NbdServer.Stats st = s.server.stats();
            System.out.println("FuzzTest: " + sequences.get() + " sequences on " + connections.get() + " connections; "
                    + repliesMatched.get() + " replies matched to their requests, " + chunksChecked.get()
                    + " chunks and option replies checked; server " + st + "; errors " + errnoSummary());
            assertEquals(0, st.active(), "every fuzz connection ended");
            assertEquals(budget, s.server.buffers().availableKib(), "every payload buffer came back");
            assertEquals(0, st.internalErrors(), "internal errors (exceptions or Errors in server threads): " + s.log);
            assertEquals(List.of(), uncaught, "exceptions that reached the default handler");
            assertTrue(sequences.get() >= SEQUENCES);
            assertTrue(repliesMatched.get() > SEQUENCES / 2, "replies were checked, not only drained");
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(previous);
            clients.shutdownNow();
            readers.shutdownNow();
        }
    }

    /** One fuzz connection, and now and then a well-behaved one. */
    private void fuzzOne(int port, long connSeed, long runSeed, ExecutorService readers, Random rnd) {
        try {
            sequences.addAndGet(connection(port, connSeed, readers));
        } catch (AssertionError | Exception e) {
            throw new AssertionError("connection with seed " + connSeed + " (run seed " + runSeed + "): " + e, e);
        }
        if (connections.incrementAndGet() % 250 == 0) {
            synchronized (probeLock) {
                try {
                    long probeSeed;
                    synchronized (rnd) {
                        probeSeed = rnd.nextLong();
                    }
                    probe(port, new Random(probeSeed));
                } catch (IOException e) {
                    throw new AssertionError("the well-behaved client failed (run seed " + runSeed + "): " + e, e);
                }
            }
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

    /** How the reader left a connection's reply stream. */
    private enum Outcome {
        /** a mutated handshake: the stream was drained unchecked */
        DRAINED,
        /** a clean handshake that did not end in transmission */
        NOT_SERVED,
        /** every reply checked, up to an orderly end of stream */
        CHECKED,
        /** a reply to a request the client did not record (after it broke the framing) */
        OUT_OF_STEP,
        /** reset or cut short mid-reply */
        CUT
    }

    /** The requests a connection sent in step with the server, by cookie, to match replies to. */
    private static final class Sent {
        private static final int TYPE = 0;
        private static final int FLAGS = 1;
        private static final int OFFSET = 2;
        private static final int LENGTH = 3;
        /** bytes a READ's chunks covered so far, or -1 after an error chunk */
        private static final int COVERED = 4;

        final Map<Long, long[]> open = new ConcurrentHashMap<>();
        /** the last sequence breaks the framing: replies after it may match nothing */
        final boolean breaks;
        volatile boolean everythingSent = true;

        Sent(boolean breaks) {
            this.breaks = breaks;
        }

        /** Records a request before it is sent, first making its cookie unique among those open. */
        void record(byte[] req) {
            ByteBuffer b = ByteBuffer.wrap(req);
            long cookie = b.getLong(8);
            while (open.containsKey(cookie)) {
                cookie++;
            }
            b.putLong(8, cookie);
            open.put(cookie, new long[] {Short.toUnsignedInt(b.getShort(6)), Short.toUnsignedInt(b.getShort(4)),
                b.getLong(16), Integer.toUnsignedLong(b.getInt(24)), 0});
        }
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
        // the last sequence may break the framing; the ones before stay in step with the server
        boolean breakLast = r.nextInt(10) < 3;
        Sent requests = new Sent(breakLast);
        try (Socket sock = new Socket()) {
            sock.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
            sock.setSoTimeout((int) TimeUnit.SECONDS.toMillis(READER_TIMEOUT_SECONDS));
            sock.setTcpNoDelay(true);
            InputStream in = sock.getInputStream();
            Future<Outcome> reader = readers.submit(() -> read(in, plan, requests));
            OutputStream out = sock.getOutputStream();
            int sent = 0;
            int sequences = plan.clean ? 1 + r.nextInt(80) : r.nextInt(4);
            boolean open = send(out, handshake);
            if (open && !plan.clean) {
                sent++;
            }
            long size = VOL_SIZE;
            for (int i = 0; i < sequences && open; i++) {
                ByteArrayOutputStream seq = new ByteArrayOutputStream();
                int n = 1 + r.nextInt(5);
                boolean breaking = breakLast && i == sequences - 1;
                for (int k = 0; k < n; k++) {
                    byte[] req = request(r, size);
                    if (breaking && k == n - 1) {
                        req = breakRequest(r, req);
                    } else {
                        if (r.nextInt(100) < 10) {
                            mutateInStep(r, req);
                        }
                        requests.record(req);
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
                open = send(out, header(0, CMD_DISC, 0, 0, 0));
            }
            requests.everythingSent = open;
            boolean abrupt = ending == 9;
            if (abrupt) {
                // drop without a word, possibly mid-request
                sock.setSoLinger(true, 0);
                sock.close();
            } else {
                try {
                    sock.shutdownOutput();
                } catch (IOException e) {
                    // the server closed first
                }
            }
            Outcome outcome;
            try {
                outcome = reader.get(READER_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("the server did not end the connection within " + READER_TIMEOUT_SECONDS + " s");
            }
            if (plan.clean && !abrupt) {
                assertTrue(outcome != Outcome.NOT_SERVED, "a clean handshake did not reach transmission");
                if (!breakLast && requests.everythingSent) {
                    assertEquals(Outcome.CHECKED, outcome, "the reply stream of a connection in step");
                    assertEquals(Map.of(), requests.open, "requests the server never answered before it closed");
                }
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
     * Reads until the server closes. A connection with a clean handshake has its stream parsed
     * and every reply matched to its request; one with a mutated handshake is drained.
     */
    private Outcome read(InputStream raw, Plan plan, Sent sent) throws IOException {
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(raw, 1 << 16));
        try {
            if (!plan.clean) {
                drain(in);
                return Outcome.DRAINED;
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
            if (!transmission) {
                drain(in);
                return Outcome.NOT_SERVED;
            }
            while (true) {
                int magic;
                try {
                    magic = in.readInt();
                } catch (EOFException e) {
                    return Outcome.CHECKED;
                }
                if (magic == SIMPLE_REPLY_MAGIC) {
                    int error = in.readInt();
                    long cookie = in.readLong();
                    long[] req = sent.open.remove(cookie);
                    if (req == null) {
                        return outOfStep(in, sent, "a simple reply to cookie " + cookie);
                    }
                    int type = (int) req[Sent.TYPE];
                    assertFalse(plan.structured && type == CMD_READ, "a simple reply to a READ with structured replies on");
                    count(error);
                    if (error == 0) {
                        assertTrue(type == CMD_READ || type == CMD_WRITE || type == CMD_FLUSH || type == CMD_TRIM
                                || type == CMD_WRITE_ZEROES, commandName(type) + " succeeded");
                        if (type == CMD_READ) {
                            assertTrue(req[Sent.LENGTH] <= MAX_REQUEST, "READ of " + req[Sent.LENGTH] + " bytes succeeded");
                            in.skipNBytes(req[Sent.LENGTH]);
                        }
                    }
                    repliesMatched.incrementAndGet();
                    continue;
                }
                assertEquals(STRUCTURED_REPLY_MAGIC, magic, "reply magic");
                assertTrue(plan.structured, "a structured chunk without structured replies negotiated");
                int flags = in.readUnsignedShort();
                int type = in.readUnsignedShort();
                long cookie = in.readLong();
                long len = Integer.toUnsignedLong(in.readInt());
                assertTrue((flags & ~REPLY_FLAG_DONE) == 0, "chunk flags " + flags);
                assertTrue(len <= MAX_REQUEST + 8L, "chunk length " + len);
                byte[] p = new byte[(int) len];
                in.readFully(p);
                long[] req = sent.open.get(cookie);
                if (req == null) {
                    return outOfStep(in, sent, "a chunk for cookie " + cookie);
                }
                chunk(type, flags, ByteBuffer.wrap(p), req);
                chunksChecked.incrementAndGet();
                if ((flags & REPLY_FLAG_DONE) != 0) {
                    sent.open.remove(cookie);
                    repliesMatched.incrementAndGet();
                    if (req[Sent.TYPE] == CMD_READ && req[Sent.COVERED] >= 0) {
                        assertEquals(req[Sent.LENGTH], req[Sent.COVERED], "the READ reply's chunks cover the request");
                    }
                }
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("no reply and no end of stream within " + READER_TIMEOUT_SECONDS + " s");
        } catch (java.net.SocketException | EOFException e) {
            // reset or cut short by the server: an orderly end for a broken stream
            return Outcome.CUT;
        }
    }

    /** Checks one structured chunk against the request it answers. */
    private void chunk(int type, int flags, ByteBuffer b, long[] req) {
        int len = b.capacity();
        long from = req[Sent.OFFSET];
        long to = from + req[Sent.LENGTH];
        switch (type) {
            case REPLY_TYPE_NONE -> {
                assertEquals(0, len);
                assertEquals(CMD_READ, req[Sent.TYPE], "a NONE chunk answers a READ");
                assertTrue((flags & REPLY_FLAG_DONE) != 0, "a NONE chunk ends its reply");
            }
            case REPLY_TYPE_OFFSET_DATA, REPLY_TYPE_OFFSET_HOLE -> {
                assertEquals(CMD_READ, req[Sent.TYPE], "data and holes answer a READ");
                long at = b.getLong(0);
                long n;
                if (type == REPLY_TYPE_OFFSET_DATA) {
                    assertTrue(len > 8, "data chunk without data");
                    n = len - 8;
                } else {
                    assertEquals(12, len);
                    n = Integer.toUnsignedLong(b.getInt(8));
                    assertTrue(n != 0, "empty hole");
                }
                assertTrue(at >= from && at + n <= to, "chunk [" + at + ", +" + n + ") outside the READ [" + from
                        + ", " + to + ")");
                if (req[Sent.COVERED] >= 0) {
                    req[Sent.COVERED] += n;
                }
            }
            case REPLY_TYPE_BLOCK_STATUS -> {
                assertEquals(CMD_BLOCK_STATUS, req[Sent.TYPE], "block status answers BLOCK_STATUS");
                assertTrue(len >= 12 && (len - 4) % 8 == 0, "block status length " + len);
                assertEquals(Handshake.BASE_ALLOCATION_ID, b.getInt(0));
                int descriptors = (len - 4) / 8;
                assertTrue(descriptors <= MAX_STATUS_DESCRIPTORS, descriptors + " descriptors");
                if ((req[Sent.FLAGS] & CMD_FLAG_REQ_ONE) != 0) {
                    assertEquals(1, descriptors, "REQ_ONE");
                }
                long covered = 0;
                for (int at = 4; at < len; at += 8) {
                    assertTrue(b.getInt(at) != 0, "empty extent");
                    covered += Integer.toUnsignedLong(b.getInt(at));
                    int st = b.getInt(at + 4);
                    assertTrue(st == 0 || st == (STATE_HOLE | STATE_ZERO), "extent state " + st);
                }
                assertTrue(covered <= req[Sent.LENGTH], "extents of " + covered + " bytes for a request of "
                        + req[Sent.LENGTH]);
            }
            case REPLY_TYPE_ERROR -> {
                assertTrue(len >= 6 && b.getShort(4) + 6 == len, "error chunk length " + len);
                count(b.getInt(0));
                req[Sent.COVERED] = -1;
            }
            default -> throw new AssertionError("chunk type " + type);
        }
    }

    /** After a reply to no recorded request: fine once the framing was broken on purpose. */
    private static Outcome outOfStep(InputStream in, Sent sent, String what) throws IOException {
        assertTrue(sent.breaks, what + ", which the client never sent, on a connection in step");
        drain(in);
        return Outcome.OUT_OF_STEP;
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
