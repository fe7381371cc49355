package dev.varve.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Plain I/O on a disk with no snapshot history: sequential 1 MiB writes and cold reads,
 * random 4 KiB writes, and random writes right after a snapshot against the same writes again.
 * The raw preallocated file is the ceiling for the Java contenders; a raw image through the same
 * {@code qemu-img bench} is qcow2's. Within each repetition every contender runs in turn.
 */
final class IoScenarios implements Scenario {
    static final String WRITE4K = "write4k.random";
    static final String SEQ_WRITE = "seq1m.write";
    static final String SEQ_READ = "seq1m.read";
    static final String AFTER_SNAPSHOT = "write4k.after-snapshot";
    private static final int BLOCK = 4096;
    private static final int MIB = 1 << 20;
    /** A prime stride, so qemu-img bench's wrapping walk visits every block of a power-of-two image. */
    private static final long QEMU_STRIDE = 4096L * 7919;

    @Override
    public int weight() {
        return 28;
    }

    @Override
    public List<String> names() {
        return List.of(WRITE4K, SEQ_WRITE, SEQ_READ, AFTER_SNAPSHOT);
    }

    @Override
    public void run(Bench b) throws Exception {
        if (b.wants(SEQ_WRITE) || b.wants(SEQ_READ)) {
            sequential(b);
        }
        if (b.wants(WRITE4K) || b.wants(AFTER_SNAPSHOT)) {
            if (b.overBudget()) {
                b.budgetSkip(WRITE4K + ", " + AFTER_SNAPSHOT);
                return;
            }
            random(b);
        }
    }

    // ------------------------------------------------------------------ seq1m

    /** One contender of the sequential test: one repetition gives {write MB/s, read MB/s}. */
    private interface SeqSide {
        double[] rep() throws IOException;
    }

    private void sequential(Bench b) throws Exception {
        long size = b.quick ? 128L << 20 : 512L << 20;
        int count = (int) (size / MIB);
        ByteBuffer chunk = Bench.randomData(MIB, Bench.SEED + 2);
        Map<String, Object> p = Bench.params("bytes", Bench.mib(size), "request", "1 MiB", "flush", "once at the end");
        b.progress("seq1m: " + Bench.mib(size) + " per repetition");
        Path dir = b.scratch("seq");
        Map<String, SeqSide> sides = new LinkedHashMap<>();
        RawFile raw = RawFile.preallocate(dir.resolve("disk.raw"), size, chunk);
        try {
            sides.put(RawFile.NAME, () -> seqRep(b, raw, size, chunk));
            Path appendPath = dir.resolve("append.raw");
            sides.put(RawFile.APPEND, () -> {
                // a new, empty file each repetition, as each repetition's new Varve store
                try (RawFile a = RawFile.append(appendPath)) {
                    return seqRep(b, a, size, chunk);
                } finally {
                    Bench.deleteDurably(appendPath);
                }
            });
            for (String kind : List.of(Contender.VARVE, Contender.FILE_PER_DELTA)) {
                Path d = dir.resolve(kind);
                sides.put(kind, () -> {
                    // a new, empty disk each repetition: what an import into a new volume does
                    try (Contender c = Contender.create(kind, d, size)) {
                        return seqRep(b, c, size, chunk);
                    } finally {
                        Bench.deleteDurably(d);
                    }
                });
            }
            if (b.qemu) {
                Path rawImg = dir.resolve("qemu.raw");
                RawFile.preallocate(rawImg, size, chunk).close();
                sides.put(Qemu.QEMU_RAW, () -> qemuSeqRep(b, rawImg, "raw", size, count));
                Path img = dir.resolve("disk.qcow2");
                sides.put(Qemu.QCOW2, () -> {
                    Files.deleteIfExists(img);
                    Qemu.create(img, size);
                    return qemuSeqRep(b, img, "qcow2", size, count);
                });
            }
            List<String> names = new ArrayList<>(sides.keySet());
            double[][][] v = new double[names.size()][2][Bench.REPS];
            for (int rep = -Bench.WARMUPS; rep < Bench.REPS; rep++) {
                for (int i = 0; i < names.size(); i++) {
                    double[] wr = sides.get(names.get(i)).rep();
                    if (rep >= 0) {
                        v[i][0][rep] = wr[0];
                        v[i][1][rep] = wr[1];
                    }
                }
            }
            Figure rawW = null;
            Figure rawR = null;
            Figure appendW = null;
            Figure qemuW = null;
            Figure qemuR = null;
            for (int i = 0; i < names.size(); i++) {
                String n = names.get(i);
                Figure w = Figure.of(SEQ_WRITE, "MB/s", n, p, v[i][0], true, seqNote(n, true));
                Figure r = Figure.of(SEQ_READ, "MB/s", n, p, v[i][1], true, seqNote(n, false));
                switch (n) {
                    case RawFile.NAME -> {
                        rawW = b.add(w.against(b.diskWrite, "disk.seq-write"));
                        rawR = b.add(r.against(b.diskRead, "disk.seq-read"));
                    }
                    case RawFile.APPEND -> {
                        appendW = b.add(w.against(rawW, "raw"));
                        b.add(r.against(rawR, "raw"));
                    }
                    case Qemu.QEMU_RAW -> {
                        qemuW = b.add(w.against(rawW, "raw"));
                        qemuR = b.add(r.against(rawR, "raw"));
                    }
                    case Qemu.QCOW2 -> {
                        b.add(w.against(qemuW, "qemu-raw"));
                        b.add(r.against(qemuR, "qemu-raw"));
                    }
                    default -> {
                        // writes against the engine's stated baseline, a plain FileChannel writing
                        // a new file front to back; the preallocated raw file is in the table too
                        b.add(w.against(appendW, "append"));
                        b.add(r.against(rawR, "raw"));
                    }
                }
            }
        } finally {
            raw.close();
            Bench.deleteTree(dir);
        }
    }

    private static String seqNote(String contender, boolean write) {
        return switch (contender) {
            case RawFile.NAME -> write ? "overwrite of a preallocated file, force(false) at the end" : "cold read (page cache dropped)";
            case RawFile.APPEND -> write ? "a new, empty file written front to back each repetition, force(false) at the end"
                    : "cold read of that file (page cache dropped)";
            case Qemu.QEMU_RAW -> write ? "qemu-img bench -f raw -w -s 1M over a preallocated raw image, flush after the last"
                    + " request, -t writeback" : "qemu-img bench -f raw -s 1M, cold, -t writeback";
            case Qemu.QCOW2 -> write ? "qemu-img bench -w -s 1M on a new image, flush after the last request, -t writeback"
                    : "qemu-img bench -s 1M, cold, -t writeback";
            default -> write ? "a new, empty disk each repetition; flush() at the end"
                    : "cold read (page cache of its files dropped), maps in memory";
        };
    }

    /** Writes {@code size} sequentially, flushes, drops the cache, reads it back: {MB/s, MB/s}. */
    private static double[] seqRep(Bench b, BlockIo io, long size, ByteBuffer chunk) throws IOException {
        ByteBuffer dst = ByteBuffer.allocateDirect(MIB);
        long t0 = System.nanoTime();
        for (long at = 0; at < size; at += MIB) {
            io.write(at, chunk.duplicate());
        }
        io.flush();
        long t1 = System.nanoTime();
        b.evict(io.files());
        long t2 = System.nanoTime();
        for (long at = 0; at < size; at += MIB) {
            dst.clear();
            io.read(at, dst);
        }
        long t3 = System.nanoTime();
        return new double[] {size / ((t1 - t0) / 1e9) / 1e6, size / ((t3 - t2) / 1e9) / 1e6};
    }

    private static double[] qemuSeqRep(Bench b, Path img, String format, long size, int count) throws IOException {
        double ws = Qemu.bench(img, format, true, count, MIB, MIB, count);
        b.evict(List.of(img));
        double rs = Qemu.bench(img, format, false, count, MIB, MIB, 0);
        return new double[] {size / ws / 1e6, size / rs / 1e6};
    }

    // ------------------------------------------------------------------ write4k

    private void random(Bench b) throws Exception {
        long size = b.quick ? 128L << 20 : 1L << 30;
        int blocks = (int) (size / BLOCK);
        ByteBuffer chunk = Bench.randomData(MIB, Bench.SEED + 3);
        ByteBuffer block = Bench.randomData(BLOCK, Bench.SEED + 4);
        int[][] modes = b.quick ? new int[][] {{256, 4096}, {1, 100}} : new int[][] {{256, 32768}, {1, 1500}};
        b.progress("write4k.random over " + Bench.mib(size) + ", flush every 256 writes and after every write");
        Path dir = b.scratch("w4k");
        List<BlockIo> ios = new ArrayList<>();
        try {
            ios.add(RawFile.preallocate(dir.resolve("disk.raw"), size, chunk));
            for (String kind : List.of(Contender.VARVE, Contender.FILE_PER_DELTA)) {
                Contender c = Contender.create(kind, dir.resolve(kind), size);
                ios.add(c);
                for (long at = 0; at < size; at += MIB) {
                    c.write(at, chunk.duplicate());
                }
                c.flush();
            }
            Path rawImg = null;
            Path img = null;
            if (b.qemu) {
                rawImg = dir.resolve("qemu.raw");
                RawFile.preallocate(rawImg, size, chunk).close();
                img = dir.resolve("disk.qcow2");
                Qemu.create(img, size);
                List<String> fill = new ArrayList<>();
                for (long at = 0; at < size; at += 64L << 20) {
                    fill.add("write -P 0x5a " + at + " " + Math.min(64L << 20, size - at));
                }
                Qemu.io(img, false, fill);
            }
            if (b.wants(WRITE4K)) {
                for (int[] m : modes) {
                    Map<String, Object> p = Bench.params("region", Bench.mib(size), "flushEvery", m[0]);
                    List<Object> sides = new ArrayList<>(ios);
                    if (b.qemu) {
                        sides.add(rawImg);
                        sides.add(img);
                    }
                    Appending appending = new Appending(dir.resolve("append.raw"));
                    sides.add(appending);
                    double[][] v = Bench.interleaved(sides, Bench.WARMUPS, (side, rep) -> side instanceof BlockIo io
                            ? randomWrites(io, blocks, block, m[0], m[1], rep)
                            : side instanceof Appending a ? appendWrites(a.path(), block, m[0], m[1])
                            : m[1] / Qemu.bench((Path) side, side.toString().endsWith(".raw") ? "raw" : "qcow2", true, m[1],
                                    BLOCK, QEMU_STRIDE, m[0]));
                    Figure raw = b.add(Figure.of(WRITE4K, "ops/s", RawFile.NAME, p, v[0], true,
                            "preallocated file overwritten in place at random 4 KiB offsets, force(false) per flush"));
                    Figure append = b.add(Figure.of(WRITE4K, "ops/s", RawFile.APPEND, p, v[sides.size() - 1], true,
                            "the same 4 KiB writes appended to a new, empty file front to back, force(false) per flush"
                                    + " (the engine's stated baseline)").against(raw, "raw"));
                    for (int i = 1; i < ios.size(); i++) {
                        b.add(Figure.of(WRITE4K, "ops/s", ios.get(i).name(), p, v[i], true,
                                "every block written once before; random 4 KiB overwrites at queue depth 1, flush() per flush")
                                .against(append, "append"));
                    }
                    if (b.qemu) {
                        Figure qr = b.add(Figure.of(WRITE4K, "ops/s", Qemu.QEMU_RAW, p, v[ios.size()], true,
                                "qemu-img bench -f raw -w -s 4k --flush-interval, prime stride over a preallocated raw image,"
                                        + " -t writeback").against(raw, "raw"));
                        b.add(Figure.of(WRITE4K, "ops/s", Qemu.QCOW2, p, v[ios.size() + 1], true,
                                "qemu-img bench -w -s 4k --flush-interval, prime stride over the filled image, -t writeback")
                                .against(qr, "qemu-raw"));
                    }
                }
            }
            if (b.wants(AFTER_SNAPSHOT)) {
                afterSnapshot(b, List.of((Contender) ios.get(1), (Contender) ios.get(2)), blocks, block,
                        b.quick ? 2048 : 16384, size);
            }
        } finally {
            for (BlockIo io : ios) {
                io.close();
            }
            Bench.deleteTree(dir);
        }
    }

    /** The append baseline of {@code write4k.random}: a new file at {@code path} each repetition. */
    private record Appending(Path path) {
    }

    /** {@code n} 4 KiB writes appended to a new file, forced every {@code flushEvery} and at the end; ops/s. */
    private static double appendWrites(Path path, ByteBuffer block, int flushEvery, int n) throws IOException {
        try (RawFile a = RawFile.append(path)) {
            long t0 = System.nanoTime();
            for (int i = 1; i <= n; i++) {
                a.write((long) (i - 1) * BLOCK, block.duplicate());
                if (i % flushEvery == 0) {
                    a.flush();
                }
            }
            a.flush();
            return n / ((System.nanoTime() - t0) / 1e9);
        } finally {
            Bench.deleteDurably(path);
        }
    }

    /** {@code n} random 4 KiB writes, flushing every {@code flushEvery} and at the end; ops/s. */
    private static double randomWrites(BlockIo io, int blocks, ByteBuffer block, int flushEvery, int n, int rep)
            throws IOException {
        Random rnd = new Random(Bench.SEED + 100 + rep);
        long t0 = System.nanoTime();
        for (int i = 1; i <= n; i++) {
            io.write((long) rnd.nextInt(blocks) * BLOCK, block.duplicate());
            if (i % flushEvery == 0) {
                io.flush();
            }
        }
        io.flush();
        return n / ((System.nanoTime() - t0) / 1e9);
    }

    /**
     * Each repetition takes a snapshot, then writes {@code n} distinct random blocks (the first
     * write to each since the snapshot), then the same blocks again in another order.
     */
    private static void afterSnapshot(Bench b, List<Contender> cs, int blocks, ByteBuffer block, int n, long size)
            throws Exception {
        int flushEvery = 256;
        double[][] again = new double[cs.size()][Bench.REPS];
        double[][] first = Bench.interleaved(cs, Bench.WARMUPS, (c, rep) -> {
            Random rnd = new Random(Bench.SEED + 200 + rep);
            int[] pick = distinct(rnd, blocks, n);
            c.snapshot("after-" + (rep + Bench.WARMUPS));
            double f = timedWrites(c, pick, block, flushEvery);
            shuffle(pick, rnd);
            double s = timedWrites(c, pick, block, flushEvery);
            if (rep >= 0) {
                again[cs.indexOf(c)][rep] = s;
            }
            return f;
        });
        Map<String, Object> p = Bench.params("region", Bench.mib(size), "writes", n, "flushEvery", flushEvery);
        for (int i = 0; i < cs.size(); i++) {
            Figure steady = Figure.of(AFTER_SNAPSHOT, "ops/s", cs.get(i).name(), with(p, "pass", "steady"), again[i], true,
                    "the same blocks written a second time after the snapshot");
            b.add(Figure.of(AFTER_SNAPSHOT, "ops/s", cs.get(i).name(), with(p, "pass", "first after snapshot"), first[i], true,
                    "first write to each of n distinct random blocks after a snapshot").against(steady, "steady state"));
            b.add(steady);
        }
    }

    private static Map<String, Object> with(Map<String, Object> p, String k, Object v) {
        Map<String, Object> m = new LinkedHashMap<>(p);
        m.put(k, v);
        return m;
    }

    private static double timedWrites(BlockIo io, int[] pick, ByteBuffer block, int flushEvery) throws IOException {
        long t0 = System.nanoTime();
        for (int i = 0; i < pick.length; i++) {
            io.write((long) pick[i] * BLOCK, block.duplicate());
            if ((i + 1) % flushEvery == 0) {
                io.flush();
            }
        }
        io.flush();
        return pick.length / ((System.nanoTime() - t0) / 1e9);
    }

    static int[] distinct(Random rnd, int range, int n) {
        int[] all = new int[range];
        for (int i = 0; i < range; i++) {
            all[i] = i;
        }
        for (int i = 0; i < n; i++) {
            int j = i + rnd.nextInt(range - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        return Arrays.copyOf(all, n);
    }

    static void shuffle(int[] a, Random rnd) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
