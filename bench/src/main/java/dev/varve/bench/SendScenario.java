package dev.varve.bench;

import dev.varve.engine.BlockDevice;
import dev.varve.engine.ByteRange;
import dev.varve.engine.Store;
import dev.varve.engine.StreamProgress;
import dev.varve.engine.Volume;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/**
 * {@code send.throughput}: a full send of a snapshot to a stream that counts and discards,
 * against reading the same snapshot with 1 MiB reads, both cold or both warm (target ≥ 0.8×).
 * {@code send.incremental.size}: bytes of an incremental stream ÷ the bytes that changed
 * (target ≤ 1.01 plus framing).
 */
final class SendScenario implements Scenario {
    static final String THROUGHPUT = "send.throughput";
    static final String INCREMENTAL = "send.incremental.size";
    private static final int MIB = 1 << 20;

    @Override
    public List<String> names() {
        return List.of(THROUGHPUT, INCREMENTAL);
    }

    @Override
    public int weight() {
        return 4;
    }

    /** Counts and discards. */
    static final class Counting extends OutputStream {
        long bytes;

        @Override
        public void write(int x) {
            bytes++;
        }

        @Override
        public void write(byte[] a, int off, int len) {
            bytes += len;
        }
    }

    /** A channel that counts and discards: what {@code varve send} writes to a pipe or file through. */
    static final class CountingChannel implements java.nio.channels.WritableByteChannel {
        long bytes;

        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            src.position(src.limit());
            bytes += n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    @Override
    public void run(Bench b) throws Exception {
        long size = b.quick ? 128L << 20 : 512L << 20;
        Path dir = b.scratch("send");
        ByteBuffer data = Bench.randomData(MIB, Bench.SEED + 11);
        try (Store s = Store.create(dir)) {
            Volume v = s.createVolume("v", size);
            for (long off = 0; off < size; off += MIB) {
                v.write(off, data.duplicate());
            }
            v.flush();
            s.snapshot("v", "A", Map.of());
            if (b.wants(THROUGHPUT)) {
                throughput(b, s, dir, size);
            }
            if (b.wants(INCREMENTAL)) {
                incremental(b, s, v, size, data);
            }
        }
        Bench.deleteTree(dir);
    }

    private void throughput(Bench b, Store s, Path dir, long size) throws Exception {
        ByteBuffer buf = ByteBuffer.allocateDirect(MIB);
        for (boolean cold : new boolean[] {false, true}) {
            double[][] v = Bench.interleaved(List.of("send", "read"), 1, (side, rep) -> {
                if (cold) {
                    List<Path> files;
                    try (Stream<Path> st = Files.walk(dir)) {
                        files = new ArrayList<>(st.filter(Files::isRegularFile).toList());
                    }
                    b.evict(files);
                }
                long t = System.nanoTime();
                if (side.equals("send")) {
                    CountingChannel c = new CountingChannel();
                    s.send("v@A", null, null, c, StreamProgress.NONE);
                    if (c.bytes < size) {
                        throw new IllegalStateException("send wrote " + c.bytes + " bytes for " + size + " of data");
                    }
                } else {
                    BlockDevice d = s.snapshotDevice("v", "A");
                    for (long off = 0; off < size; off += MIB) {
                        buf.clear();
                        d.read(off, buf);
                    }
                }
                return size / ((System.nanoTime() - t) / 1e9) / 1e6;
            });
            Map<String, Object> p = Bench.params("data", Bench.mib(size), "cache", cold ? "cold (store files evicted)" : "warm");
            Figure read = b.add(Figure.of(THROUGHPUT, "MB/s", "varve-read", p, v[1], true,
                    "the same snapshot read with 1 MiB reads through Store.snapshotDevice"));
            b.add(Figure.of(THROUGHPUT, "MB/s", Contender.VARVE, p, v[0], true,
                    "Store.send(v@A, no base) onto a channel that counts and discards (as varve send writes to a pipe or"
                            + " file); MB/s of volume data")
                    .against(read, "varve-read: 1 MiB reads of the same snapshot (target >= 0.8x)"));
        }
    }

    private void incremental(Bench b, Store s, Volume v, long size, ByteBuffer data) throws Exception {
        int[][] cases = {{16, 64 << 10}, {256, 4096}};
        String base = "A";
        int n = 0;
        for (int[] c : cases) {
            Random r = new Random(Bench.SEED + c[0]);
            long slots = size / c[1];
            for (int i = 0; i < c[0]; i++) {
                v.write((long) (r.nextDouble() * slots) * c[1], data.duplicate().limit(c[1]));
            }
            v.flush();
            String snap = "I" + (n++);
            s.snapshot("v", snap, Map.of());
            long changed = 0;
            for (ByteRange br : s.diff("v@" + base, "v@" + snap)) {
                changed += br.length();
            }
            Counting out = new Counting();
            s.send("v@" + snap, "v@" + base, out);
            double ratio = (double) out.bytes / changed;
            Map<String, Object> p = Bench.params("writes", c[0] + " x " + (c[1] >> 10) + " KiB", "changed bytes",
                    changed, "stream bytes", out.bytes);
            b.add(Figure.of(INCREMENTAL, "x", Contender.VARVE, p, new double[] {ratio}, false,
                    "incremental stream bytes / bytes Store.diff reports changed (target <= 1.01 plus framing)"));
            base = snap;
        }
    }
}
