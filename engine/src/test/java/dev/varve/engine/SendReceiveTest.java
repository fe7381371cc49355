package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.stream.CorruptStreamException;
import dev.varve.engine.stream.ResumeToken;
import dev.varve.engine.stream.StreamException;
import dev.varve.engine.stream.StreamLayout;
import dev.varve.engine.stream.StreamMismatchException;
import dev.varve.engine.stream.TruncatedStreamException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SendReceiveTest {
    private static final int BS = 4096;
    private static final long SIZE = 8L << 20;

    @TempDir
    Path dir;
    long seed;
    Random rnd;

    @BeforeEach
    void seed() {
        seed = System.nanoTime();
        rnd = new Random(seed);
        System.out.println("SendReceiveTest seed " + seed);
    }

    private static StoreOptions smallSegments() {
        return StoreOptions.defaults().withSegmentSize(1 << 20);
    }

    /** Random block-aligned writes and trims, plus a few unaligned writes. */
    private void churn(Volume v, int ops) throws IOException {
        churn(v, ops, rnd);
    }

    private static void churn(Volume v, int ops, Random rnd) throws IOException {
        byte[] buf = new byte[32 * BS];
        long blocks = v.size() / BS;
        for (int i = 0; i < ops; i++) {
            int kind = rnd.nextInt(10);
            if (kind < 7) {
                int n = 1 + rnd.nextInt(rnd.nextInt(8) == 0 ? 32 : 3);
                long b = (long) (rnd.nextDouble() * (blocks - n));
                rnd.nextBytes(buf);
                v.write(b * BS, buf, 0, n * BS);
            } else if (kind < 9) {
                long b = (long) (rnd.nextDouble() * (blocks - 8));
                v.trim(b * BS, (1 + rnd.nextInt(8)) * (long) BS);
            } else {
                long off = (long) (rnd.nextDouble() * (v.size() - 10_000));
                rnd.nextBytes(buf);
                v.write(off, buf, 0, 1 + rnd.nextInt(10_000));
            }
        }
    }

    private static byte[] send(Store s, String snap, String base) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SendResult r = s.send(snap, base, out);
        assertEquals(out.size(), r.streamBytes());
        return out.toByteArray();
    }

    private static ReceiveResult receive(Store s, byte[] stream, String volume) throws IOException {
        return s.receive(new ByteArrayInputStream(stream), volume);
    }

    /** Bytes and allocation of a device, as one checksum plus the run list. */
    private static String fingerprint(BlockDevice d) throws IOException {
        CRC32C crc = new CRC32C();
        ByteBuffer b = ByteBuffer.allocate(1 << 20);
        for (long off = 0; off < d.size(); off += b.capacity()) {
            b.clear().limit((int) Math.min(b.capacity(), d.size() - off));
            d.read(off, b);
            b.flip();
            crc.update(b);
        }
        StringBuilder runs = new StringBuilder();
        d.mapAllocation(0, d.size(), (off, len, alloc) -> {
            if (alloc) {
                runs.append(off).append('+').append(len).append(' ');
            }
        });
        return d.size() + " " + Long.toHexString(crc.getValue()) + " " + runs;
    }

    private static void assertSameDevice(BlockDevice expect, BlockDevice got) throws IOException {
        assertEquals(expect.size(), got.size(), got.name());
        byte[] a = new byte[1 << 20];
        byte[] b = new byte[1 << 20];
        for (long off = 0; off < expect.size(); off += a.length) {
            int n = (int) Math.min(a.length, expect.size() - off);
            expect.read(off, a, 0, n);
            got.read(off, b, 0, n);
            assertArrayEquals(a, b, got.name() + " differs from " + expect.name() + " in [" + off + ", " + (off + n) + ")");
        }
        assertEquals(fingerprint(expect), fingerprint(got), "holes stay holes: " + got.name());
    }

    /** Everything a client can see of a store: volumes, snapshots, properties, and every device's bytes. */
    private static String state(Store s) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (VolumeInfo v : s.volumes()) {
            BlockDevice d = v.name().startsWith(StreamLayout.PARTIAL_PREFIX) ? s.partialVolume(v.name()) : s.device(v.name());
            sb.append(v).append('\n').append(fingerprint(d)).append('\n');
        }
        for (SnapshotInfo i : s.snapshots()) {
            sb.append(i).append('\n').append(fingerprint(s.device(i.fullName()))).append('\n');
        }
        return sb.toString();
    }

    @Test
    void replicateAFullSendAnd20IncrementalsAndSomeDifferentials() throws Exception {
        try (Store a = Store.create(dir.resolve("a"), smallSegments());
             Store b = Store.create(dir.resolve("b"), smallSegments())) {
            Volume v = a.createVolume("vm", SIZE);
            churn(v, 300);
            a.snapshot("vm", "s0", Map.of("vm.config", "cpus=2"));
            ReceiveResult full = receive(b, send(a, "vm@s0", null), "vm");
            assertFalse(full.incremental());
            assertEquals("vm@s0", full.snapshot().fullName());
            assertEquals("cpus=2", full.snapshot().properties().get("vm.config"));
            assertEquals(a.snapshotGuid("vm@s0"), b.snapshotGuid("vm@s0"));
            assertSameDevice(a.device("vm@s0"), b.device("vm@s0"));
            assertSameDevice(a.device("vm@s0"), b.device("vm"));

            for (int i = 1; i <= 20; i++) {
                churn(v, 5 + rnd.nextInt(60));
                if (i == 7) {
                    v.resize(SIZE + (1 << 20)); // the volume grew
                } else if (i == 13) {
                    v.resize(SIZE - (1 << 20)); // and shrank
                }
                a.snapshot("vm", "s" + i, Map.of("round", String.valueOf(i)));
                if (i % 6 == 0) {
                    a.gc(0.9); // compaction moves data under the snapshots: identities and diffs must not care
                }
                // every fifth is a differential from s0 (or from three back); the rest incremental
                String base = i % 5 == 0 ? (i % 10 == 0 ? "vm@s0" : "vm@s" + (i - 3)) : "vm@s" + (i - 1);
                List<ByteRange> changed = a.diff(base, "vm@s" + i);
                long end = a.device("vm@s" + i).size(); // past its end the receiver only resizes
                long changedBytes = changed.stream().mapToLong(r -> Math.max(0, Math.min(r.end(), end) - r.offset())).sum();
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                SendResult sent = a.send("vm@s" + i, base, out);
                assertEquals(changedBytes, sent.dataBytes() + sent.holeBytes(), "an incremental carries the diff");
                long framing = sent.streamBytes() - sent.dataBytes();
                long header = headerFrameBytes(out.toByteArray());
                long fixed = header + StreamLayout.FRAME_OVERHEAD + StreamLayout.END_PAYLOAD_BYTES;
                assertTrue(sent.streamBytes() <= changedBytes * 1.01 + fixed,
                        "stream " + sent.streamBytes() + " bytes for " + changedBytes + " changed (framing " + framing
                                + "), seed " + seed);

                ReceiveResult r = receive(b, out.toByteArray(), "vm");
                assertTrue(r.incremental());
                assertEquals(base, r.base());
                assertEquals("vm@s" + i, r.snapshot().fullName());
                assertEquals(String.valueOf(i), r.snapshot().properties().get("round"));
                assertSameDevice(a.device("vm@s" + i), b.device("vm@s" + i));
                assertSameDevice(a.device("vm@s" + i), b.device("vm"));
                if (i % 4 == 0) {
                    b.gc(0.9);
                }
            }
            // every snapshot, byte for byte, and the same identities
            for (int i = 0; i <= 20; i++) {
                assertSameDevice(a.device("vm@s" + i), b.device("vm@s" + i));
                assertEquals(a.snapshotGuid("vm@s" + i), b.snapshotGuid("vm@s" + i));
            }
            assertEquals(21, b.snapshots("vm").size());
            assertEquals("vm@s20", b.volumeInfo("vm").position());
            // diffs between the received snapshots (parents set from the stream, trees built on
            // their bases), and between the sent ones (compacted), agree with the walk of both trees
            int oneTree = 0;
            for (Store st : new Store[] {a, b}) {
                for (int i = 0; i <= 20; i++) {
                    for (int j = 0; j <= 20; j++) {
                        Diff.Result d = Diff.between(st, "vm@s" + i, "vm@s" + j);
                        Diff.Result both = Diff.between(st, "vm@s" + i, "vm@s" + j, true);
                        assertEquals(both.ranges(), d.ranges(), "s" + i + " against s" + j + ", seed " + seed);
                        oneTree += d.nodesRead() < both.nodesRead() ? 1 : 0;
                    }
                }
            }
            System.out.println("replicated diffs read from one tree: " + oneTree);
            // a received snapshot is sent on with the same identity: a third store gets the chain from b
            try (Store c = Store.create(dir.resolve("c"))) {
                receive(c, send(b, "vm@s18", null), "copy");
                receive(c, send(b, "vm@s20", "vm@s18"), "copy");
                assertSameDevice(a.device("vm@s20"), c.device("copy@s20"));
            }
        }
    }

    /** Snapshots taken, diffed and sent while a writer keeps writing and the collector keeps compacting. */
    @Test
    void aSendOntoAChannelIsTheSameStreamByteForByte() throws Exception {
        try (Store a = Store.create(dir.resolve("a"), smallSegments());
             Store b = Store.create(dir.resolve("b"), smallSegments())) {
            Volume v = a.createVolume("vm", SIZE);
            churn(v, 200);
            a.snapshot("vm", "s0", Map.of());
            churn(v, 40);
            a.snapshot("vm", "s1", Map.of());
            for (String base : new String[] {null, "vm@s0"}) {
                ByteArrayOutputStream viaStream = new ByteArrayOutputStream();
                a.send("vm@s1", base, viaStream);
                ByteArrayOutputStream viaChannel = new ByteArrayOutputStream();
                SendResult r = a.send("vm@s1", base, null, java.nio.channels.Channels.newChannel(viaChannel),
                        StreamProgress.NONE);
                assertArrayEquals(viaStream.toByteArray(), viaChannel.toByteArray(), "from " + base + ", seed " + seed);
                assertEquals(viaChannel.size(), r.streamBytes());
            }
            ByteArrayOutputStream full = new ByteArrayOutputStream();
            a.send("vm@s1", null, null, java.nio.channels.Channels.newChannel(full), StreamProgress.NONE);
            receive(b, full.toByteArray(), "vm");
            assertSameDevice(a.device("vm@s1"), b.device("vm@s1"));
        }
    }

    @Test
    void sendWhileTheStoreIsWrittenAndCompacted() throws Exception {
        try (Store a = Store.create(dir.resolve("a"), smallSegments());
             Store b = Store.create(dir.resolve("b"), smallSegments())) {
            Volume v = a.createVolume("vm", SIZE);
            churn(v, 200);
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
            Random r = new Random(seed + 1);
            Thread writer = new Thread(() -> {
                try {
                    for (int i = 0; !stop.get(); i++) {
                        churn(v, 20, r);
                        if (i % 5 == 0) {
                            a.gc(0.9);
                        }
                    }
                } catch (Throwable t) {
                    failed.set(t);
                }
            });
            writer.start();
            try {
                for (int i = 0; i < 8; i++) {
                    Thread.sleep(20);
                    a.snapshot("vm", "s" + i, null);
                    String base = i == 0 ? null : "vm@s" + (i - 1);
                    if (base != null) {
                        List<ByteRange> d = a.diff(base, "vm@s" + i);
                        a.gc(0.9);
                        // exactly the same ranges: the compactor moves each written run once, so a slice
                        // one tree holds and the whole extent another holds still share their bytes
                        assertEquals(d, a.diff(base, "vm@s" + i), "moving data changes no diff (seed " + seed + ")");
                    }
                    receive(b, send(a, "vm@s" + i, base), "vm");
                }
            } finally {
                stop.set(true);
                writer.join();
            }
            if (failed.get() != null) {
                throw new AssertionError("the writer failed (seed " + seed + ")", failed.get());
            }
            for (int i = 0; i < 8; i++) {
                assertSameDevice(a.device("vm@s" + i), b.device("vm@s" + i));
            }
        }
    }

    /** The length of the BEGIN frame at the start of a stream. */
    private static long headerFrameBytes(byte[] stream) {
        ByteBuffer b = ByteBuffer.wrap(stream).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        return StreamLayout.FRAME_OVERHEAD + (b.getInt(StreamLayout.LENGTH_OFFSET) & 0xFFFF_FFFFL);
    }

    /** A receiving store with history, and a stream (full or incremental) for it. */
    private record Pair(Store sender, Store receiver, byte[] incremental, byte[] full) {
    }

    private Pair pair(Store a, Store b) throws IOException {
        Volume v = a.createVolume("vm", SIZE);
        churn(v, 200);
        a.snapshot("vm", "s0", null);
        receive(b, send(a, "vm@s0", null), "vm");
        churn(v, 100);
        a.snapshot("vm", "s1", null);
        return new Pair(a, b, send(a, "vm@s1", "vm@s0"), send(a, "vm@s1", null));
    }

    @Test
    void corruptedStreamsAreRefusedAndTheReceiverIsUnchanged() throws Exception {
        try (Store a = Store.create(dir.resolve("a")); Store b = Store.create(dir.resolve("b"))) {
            Pair p = pair(a, b);
            String before = state(b);
            for (int t = 0; t < 40; t++) {
                byte[] s = (t % 2 == 0 ? p.incremental() : p.full()).clone();
                int flips = 1 + rnd.nextInt(3);
                for (int f = 0; f < flips; f++) {
                    int at = t < 4 ? rnd.nextInt(200) : rnd.nextInt(s.length); // the header too
                    s[at] ^= (byte) (1 + rnd.nextInt(255));
                }
                String name = t % 2 == 0 ? "vm" : "other";
                IOException e = assertThrows(IOException.class, () -> receive(b, s, name), "seed " + seed);
                assertTrue(e instanceof StreamException, "refused as a bad stream, not " + e + " (seed " + seed + ")");
                assertEquals(before, state(b), "the receiver is unchanged after " + e.getMessage() + " (seed " + seed + ")");
            }
            receive(b, p.incremental(), "vm"); // the intact stream still applies
            assertSameDevice(a.device("vm@s1"), b.device("vm@s1"));
        }
    }

    @Test
    void truncatedStreamsAreRefusedAndTheReceiverIsUnchanged() throws Exception {
        try (Store a = Store.create(dir.resolve("a")); Store b = Store.create(dir.resolve("b"))) {
            Pair p = pair(a, b);
            String before = state(b);
            List<Integer> cuts = new ArrayList<>(List.of(0, 1, 15, 16, 100, p.incremental().length - 1,
                    p.incremental().length - StreamLayout.FRAME_OVERHEAD - StreamLayout.END_PAYLOAD_BYTES));
            for (int t = 0; t < 25; t++) {
                cuts.add(rnd.nextInt(p.incremental().length));
            }
            for (int cut : cuts) {
                byte[] s = Arrays.copyOf(p.incremental(), cut);
                StreamException e = assertThrows(StreamException.class, () -> receive(b, s, "vm"), "cut at " + cut);
                assertTrue(e instanceof TruncatedStreamException || cut < 16, cut + ": " + e);
                assertEquals(before, state(b), "cut at " + cut);
            }
            // the same for a full stream into a new volume
            byte[] s = Arrays.copyOf(p.full(), p.full().length / 2);
            assertThrows(TruncatedStreamException.class, () -> receive(b, s, "new"));
            assertEquals(before, state(b));
        }
    }

    @Test
    void mismatchedStreamsAreRefusedWithAClearError() throws Exception {
        try (Store a = Store.create(dir.resolve("a")); Store b = Store.create(dir.resolve("b"))) {
            Pair p = pair(a, b);
            churn(a.volume("vm"), 20);
            a.snapshot("vm", "s2", null);
            String before = state(b);
            // an incremental whose base the receiver lacks
            StreamMismatchException m = assertThrows(StreamMismatchException.class,
                    () -> receive(b, send(a, "vm@s2", "vm@s1"), "vm"));
            assertTrue(m.getMessage().contains("vm@s1") && m.getMessage().contains("s0"), m.getMessage());
            // an incremental into a volume without that base
            b.createVolume("empty", SIZE);
            before = state(b);
            assertThrows(StreamMismatchException.class, () -> receive(b, p.incremental(), "empty"));
            assertThrows(NoSuchVolumeException.class, () -> receive(b, p.incremental(), "nowhere"));
            // a full stream onto an existing volume
            assertThrows(NameExistsException.class, () -> receive(b, p.full(), "vm"));
            // not a stream at all
            CorruptStreamException c = assertThrows(CorruptStreamException.class,
                    () -> receive(b, "hello, world, this is not a stream".getBytes(), "vm"));
            assertTrue(c.getMessage().contains("not a Varve send stream"), c.getMessage());
            assertEquals(before, state(b));
            // a received snapshot cannot be received twice
            receive(b, p.incremental(), "vm");
            b.revert("vm", "s0", null);
            NameExistsException twice = assertThrows(NameExistsException.class, () -> receive(b, p.incremental(), "vm"));
            assertTrue(twice.getMessage().contains("received before"), twice.getMessage());
            // send refuses a volume head and a base that is the snapshot itself
            assertThrows(IllegalArgumentException.class, () -> a.send("vm", null, new ByteArrayOutputStream()));
            assertThrows(IllegalArgumentException.class, () -> a.send("vm@s1", "s1", new ByteArrayOutputStream()));
        }
    }

    @Test
    void aHeadWithChangesIsRefusedUnlessForced() throws Exception {
        try (Store a = Store.create(dir.resolve("a")); Store b = Store.create(dir.resolve("b"))) {
            Pair p = pair(a, b);
            b.volume("vm").write(0, new byte[BS], 0, BS);
            String before = state(b);
            StreamMismatchException e = assertThrows(StreamMismatchException.class,
                    () -> receive(b, p.incremental(), "vm"));
            assertTrue(e.getMessage().contains("-F"), e.getMessage());
            assertEquals(before, state(b));
            ReceiveResult r = b.receive(new ByteArrayInputStream(p.incremental()), "vm",
                    ReceiveOptions.defaults().withForce(true));
            assertEquals("vm@s1", r.snapshot().fullName());
            assertSameDevice(a.device("vm@s1"), b.device("vm"));
        }
    }

    @Test
    void laterSnapshotsStayWhenAnOlderBaseIsUsed() throws Exception {
        try (Store a = Store.create(dir.resolve("a")); Store b = Store.create(dir.resolve("b"))) {
            Pair p = pair(a, b);
            receive(b, p.incremental(), "vm");
            churn(a.volume("vm"), 30);
            a.snapshot("vm", "s2", null);
            // a differential from s0, while b's head stands on s1 (which holds all of it)
            ReceiveResult r = receive(b, send(a, "vm@s2", "vm@s0"), "vm");
            assertEquals("vm@s0", r.base());
            assertEquals("vm@s1", r.snapshot().parent(), "hung under the sender's parent, which b has");
            assertEquals(3, b.snapshots("vm").size());
            assertSameDevice(a.device("vm@s2"), b.device("vm"));
            assertSameDevice(a.device("vm@s1"), b.device("vm@s1"));
        }
    }

    /**
     * A send holds the snapshot it reads and its base: destroying either, or their volume, is
     * refused until the stream ends (the sender blocks on a stream that waits), and allowed after.
     */
    @Test
    void whatASendReadsCannotBeDestroyedUntilItEnds() throws Exception {
        try (Store a = Store.create(dir.resolve("a"))) {
            Volume v = a.createVolume("vm", 4L << 20);
            byte[] data = new byte[1 << 20];
            rnd.nextBytes(data);
            v.write(0, data, 0, data.length);
            a.snapshot("vm", "s0", null);
            v.write(2L << 20, data, 0, data.length);
            a.snapshot("vm", "s1", null);
            java.util.concurrent.CountDownLatch writing = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            ByteArrayOutputStream sink = new ByteArrayOutputStream();
            java.io.OutputStream slow = new java.io.OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    writing.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        throw new java.io.InterruptedIOException();
                    }
                    sink.write(b, off, len);
                }
            };
            java.util.concurrent.CompletableFuture<SendResult> send = java.util.concurrent.CompletableFuture
                    .supplyAsync(() -> {
                        try {
                            return a.send("vm@s1", "vm@s0", slow);
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
            assertTrue(writing.await(30, java.util.concurrent.TimeUnit.SECONDS), "the send started writing");
            SnapshotBusyException busy = assertThrows(SnapshotBusyException.class,
                    () -> a.destroySnapshot("vm", "s1"));
            assertTrue(busy.getMessage().contains("vm@s1") && busy.getMessage().contains("being sent"),
                    busy.getMessage());
            assertThrows(SnapshotBusyException.class, () -> a.destroySnapshot("vm", "s0"));
            assertThrows(SnapshotBusyException.class, () -> a.destroyVolume("vm", true));
            assertEquals(2, a.snapshots("vm").size(), "nothing was destroyed");
            release.countDown();
            SendResult r = send.get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(sink.size(), r.streamBytes());
            a.destroySnapshot("vm", "s0");
            a.destroyVolume("vm", true);
            assertEquals(List.of(), a.volumes());
        }
    }

    @Test
    void anInterruptedResumableReceiveResumesWhereItStopped() throws Exception {
        try (Store a = Store.create(dir.resolve("a")); Store b = Store.create(dir.resolve("b"))) {
            Pair p = pair(a, b);
            for (byte[] stream : List.of(p.incremental(), p.full())) {
                String volume = stream == p.full() ? "copy" : "vm";
                String base = stream == p.full() ? null : "vm@s0";
                String before = state(b);
                int cut = stream.length / 3 + rnd.nextInt(stream.length / 3);
                ReceiveOptions resumable = ReceiveOptions.defaults().withResumable(true);
                assertThrows(TruncatedStreamException.class, () -> b.receive(
                        new ByteArrayInputStream(Arrays.copyOf(stream, cut)), volume, resumable));
                ResumeToken token = b.receiveResumeToken(volume);
                assertNotNull(token, "a resumable receive keeps its partial volume");
                // which no one may open and write to: the resumed stream would continue from it
                NoSuchVolumeException hidden = assertThrows(NoSuchVolumeException.class,
                        () -> b.volume(StreamLayout.PARTIAL_PREFIX + volume));
                assertTrue(hidden.getMessage().contains("--resume"), hidden.getMessage());
                assertThrows(NoSuchVolumeException.class, () -> b.device(StreamLayout.PARTIAL_PREFIX + volume));
                assertThrows(NoSuchVolumeException.class, () -> b.resizeVolume(StreamLayout.PARTIAL_PREFIX + volume,
                        64L << 20));
                // nor snapshot, revert, rename or destroy it, nor give another volume its name
                String partial = StreamLayout.PARTIAL_PREFIX + volume;
                String held = state(b);
                assertThrows(NoSuchVolumeException.class, () -> b.snapshot(partial, "x", null));
                assertThrows(NoSuchVolumeException.class, () -> b.snapshotGroup("g", List.of("vm", partial), null));
                assertThrows(NoSuchVolumeException.class, () -> b.revert(partial, "x", null));
                assertThrows(NoSuchVolumeException.class, () -> b.renameVolume(partial, "mine"));
                NoSuchVolumeException gone = assertThrows(NoSuchVolumeException.class,
                        () -> b.destroyVolume(partial, true));
                assertTrue(gone.getMessage().contains("--abort"), gone.getMessage());
                assertThrows(InvalidNameException.class, () -> b.createVolume(partial + "2", 1 << 20));
                assertThrows(InvalidNameException.class, () -> b.clone("vm", "s0", partial + "2"));
                assertThrows(InvalidNameException.class, () -> b.renameVolume("vm", partial + "2"));
                assertEquals(held, state(b), "the refused calls changed nothing");
                assertTrue(token.offset() > 0, token.toString());
                assertEquals(token, ResumeToken.parse(token.toString()));
                // a whole stream is refused while the partial is pending
                assertThrows(StreamMismatchException.class, () -> receive(b, stream, volume));

                ByteArrayOutputStream rest = new ByteArrayOutputStream();
                SendResult r = a.send("vm@s1", base, ResumeToken.parse(token.toString()), rest, StreamProgress.NONE);
                assertTrue(r.streamBytes() < stream.length, "the resumed stream skips what was received");
                // a resumed stream needs --resume, and is refused (the partial kept) when corrupt
                assertThrows(StreamMismatchException.class, () -> receive(b, rest.toByteArray(), volume));
                byte[] bad = rest.toByteArray().clone();
                bad[bad.length - 10] ^= 1;
                assertThrows(CorruptStreamException.class, () -> b.receive(new ByteArrayInputStream(bad), volume,
                        ReceiveOptions.defaults().withResume(true)));
                assertNotNull(b.receiveResumeToken(volume));

                ReceiveResult done = b.receive(new ByteArrayInputStream(rest.toByteArray()), volume,
                        ReceiveOptions.defaults().withResume(true));
                assertTrue(done.resumed());
                assertNull(b.receiveResumeToken(volume));
                assertSameDevice(a.device("vm@s1"), b.device(volume + "@s1"));
                assertSameDevice(a.device("vm@s1"), b.device(volume));
                assertEquals(Map.of(), b.volumeInfo(volume).properties(), "no resume token is left behind");
                assertFalse(state(b).contains(StreamLayout.PARTIAL_PREFIX));
                assertFalse(before.equals(state(b)));
            }
        }
    }

    @Test
    void aResumeTokenSurvivesReopen() throws Exception {
        Path bp = dir.resolve("b");
        byte[] full;
        try (Store a = Store.create(dir.resolve("a")); Store b = Store.create(bp)) {
            Volume v = a.createVolume("vm", SIZE);
            churn(v, 300);
            a.snapshot("vm", "s0", null);
            full = send(a, "vm@s0", null);
            assertThrows(TruncatedStreamException.class, () -> b.receive(new ByteArrayInputStream(
                    Arrays.copyOf(full, full.length * 2 / 3)), "vm", ReceiveOptions.defaults().withResumable(true)));
        }
        try (Store a = Store.open(dir.resolve("a")); Store b = Store.open(bp)) {
            ResumeToken token = b.receiveResumeToken("vm");
            assertNotNull(token);
            ByteArrayOutputStream rest = new ByteArrayOutputStream();
            a.send("vm@s0", null, token, rest, StreamProgress.NONE);
            b.receive(new ByteArrayInputStream(rest.toByteArray()), "vm", ReceiveOptions.defaults().withResume(true));
            assertSameDevice(a.device("vm@s0"), b.device("vm@s0"));
        }
    }

    @Test
    void anInterruptedReceiveCanBeAborted() throws Exception {
        try (Store a = Store.create(dir.resolve("a")); Store b = Store.create(dir.resolve("b"))) {
            Pair p = pair(a, b);
            String before = state(b);
            assertThrows(TruncatedStreamException.class, () -> b.receive(new ByteArrayInputStream(
                    Arrays.copyOf(p.incremental(), p.incremental().length / 2)), "vm",
                    ReceiveOptions.defaults().withResumable(true)));
            assertFalse(before.equals(state(b)));
            b.abortReceive("vm");
            assertEquals(before, state(b));
            assertThrows(NoSuchVolumeException.class, () -> b.abortReceive("vm"));
            receive(b, p.incremental(), "vm");
            assertSameDevice(a.device("vm@s1"), b.device("vm"));
        }
    }

    @Test
    void aReceivedStoreSurvivesReopen() throws Exception {
        Path bp = dir.resolve("b");
        try (Store a = Store.create(dir.resolve("a")); Store b = Store.create(bp)) {
            pair(a, b);
        }
        try (Store a = Store.open(dir.resolve("a")); Store b = Store.open(bp)) {
            assertSameDevice(a.device("vm@s0"), b.device("vm@s0"));
            receive(b, send(a, "vm@s1", "vm@s0"), "vm");
        }
        try (Store a = Store.open(dir.resolve("a")); Store b = Store.open(bp)) {
            assertSameDevice(a.device("vm@s1"), b.device("vm@s1"));
            assertEquals(a.snapshotGuid("vm@s1"), b.snapshotGuid("vm@s1"));
        }
    }
}
