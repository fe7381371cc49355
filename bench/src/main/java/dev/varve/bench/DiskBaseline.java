package dev.varve.bench;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * The disk itself, measured first: sequential 1 MiB writes to a new file with one force at
 * the end, the same file read back after its pages were dropped from the cache, and the
 * latency of a 4 KiB write plus force (the floor under every durable operation).
 */
final class DiskBaseline implements Scenario {
    static final String WRITE = "disk.seq-write";
    static final String READ = "disk.seq-read";
    static final String FSYNC = "disk.fsync";

    @Override
    public int weight() {
        return 4;
    }

    @Override
    public List<String> names() {
        return List.of(WRITE, READ, FSYNC);
    }

    @Override
    public void run(Bench b) throws Exception {
        long size = b.quick ? 256L << 20 : 1L << 30;
        int chunk = 1 << 20;
        ByteBuffer data = Bench.randomData(chunk, Bench.SEED);
        Path dir = b.scratch("disk");
        Path f = dir.resolve("seq.raw");
        double[] w = new double[Bench.REPS];
        double[] r = new double[Bench.REPS];
        ByteBuffer dst = ByteBuffer.allocateDirect(chunk);
        for (int rep = -Bench.WARMUPS; rep < Bench.REPS; rep++) {
            Files.deleteIfExists(f);
            long t0 = System.nanoTime();
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                for (long at = 0; at < size; at += chunk) {
                    DeltaLayer.writeFully(ch, data.duplicate(), at);
                }
                ch.force(false);
            }
            long t1 = System.nanoTime();
            b.evict(List.of(f));
            long t2 = System.nanoTime();
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                for (long at = 0; at < size; at += chunk) {
                    dst.clear();
                    DeltaLayer.readFully(ch, dst, at);
                }
            }
            long t3 = System.nanoTime();
            if (rep >= 0) {
                w[rep] = size / ((t1 - t0) / 1e9) / 1e6;
                r[rep] = size / ((t3 - t2) / 1e9) / 1e6;
            }
        }
        Files.deleteIfExists(f);
        Map<String, Object> p = Bench.params("bytes", Bench.mib(size), "request", "1 MiB");
        b.diskWrite = b.add(Figure.of(WRITE, "MB/s", "disk", p, w, true,
                "new file, sequential 1 MiB FileChannel writes, one force(false) at the end, timed to its return"));
        b.diskRead = b.add(Figure.of(READ, "MB/s", "disk", p, r, true,
                b.canEvict ? "the same file after its pages were dropped from the page cache (cold), 1 MiB reads"
                        : "the same file, 1 MiB reads; the page cache could NOT be dropped here, so this is a cached read"));
        Histogram h = new Histogram(3);
        ByteBuffer block = Bench.randomData(4096, Bench.SEED + 1);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            int n = b.quick ? 200 : 1000;
            for (int i = -20; i < n; i++) {
                long t0 = System.nanoTime();
                DeltaLayer.writeFully(ch, block.duplicate(), (long) Math.max(i, 0) * 4096);
                ch.force(false);
                if (i >= 0) {
                    h.recordValue(System.nanoTime() - t0);
                }
            }
        }
        Files.deleteIfExists(f);
        b.add(Figure.ofLatency(FSYNC, "disk", Bench.params("request", "4 KiB write + force(false)"), h,
                "one 4 KiB positional write followed by force(false), repeated; every durable operation pays at least this"));
    }
}
