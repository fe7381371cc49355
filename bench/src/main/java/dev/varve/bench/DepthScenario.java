package dev.varve.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Reads and memory as the snapshot chain grows. One disk per contender is filled, then grown
 * one snapshot at a time, with the same 64 KiB chunks overwritten between snapshots on every
 * contender; at each checkpoint depth it measures random 4 KiB reads over the whole disk
 * ({@code read4k.depth.N}) and the heap its block maps hold once opened ({@code map.memory}).
 * Reads are warm (the page cache holds the files, for every contender alike), so the figure is
 * the cost of finding a block, which is what depth changes. Two more Varve disks read in the
 * same rounds at every checkpoint: a control given the same overwrites without snapshots, and
 * a depth-0 reference filled as the others and left alone.
 */
final class DepthScenario implements Scenario {
    static final String READ = "read4k.depth";
    static final String MEMORY = "map.memory";
    static final int[] READ_DEPTHS = {0, 10, 100, 1000};
    static final int[] MEMORY_DEPTHS = {1, 100, 1000};
    private static final int BLOCK = 4096;
    private static final int CHUNK = 64 << 10;
    private static final long QEMU_STRIDE = 4096L * 7919;
    /** The contender name of the control disk: same overwrites, no snapshots. */
    static final String CONTROL = "varve-no-snapshots";
    /**
     * The contender name of the depth-0 reference: a Varve disk filled as the others and then
     * left alone, read in the same rounds at every checkpoint, so that depth N can be compared
     * with depth 0 without the minutes between the checkpoints in the way.
     */
    static final String REFERENCE = "varve-depth-0";

    @Override
    public int weight() {
        return 55;
    }

    @Override
    public List<String> names() {
        List<String> n = new ArrayList<>();
        for (int d : READ_DEPTHS) {
            n.add(READ + "." + d);
        }
        n.add(MEMORY);
        return n;
    }

    private long size(Bench b) {
        return b.quick ? 128L << 20 : 512L << 20;
    }

    private int chunksPerLayer(Bench b) {
        return chunksPerLayerOf(b);
    }

    private double seconds(Bench b) {
        return b.quick ? 0.1 : 0.5;
    }

    private List<Integer> checkpoints(Bench b, int maxDepth) {
        List<Integer> c = new ArrayList<>();
        for (int d : new int[] {0, 1, 10, 100, 1000}) {
            if (d <= maxDepth && (wantsRead(b, d) || wantsMemory(b, d))) {
                c.add(d);
            }
        }
        return c;
    }

    private static boolean wantsRead(Bench b, int d) {
        for (int r : READ_DEPTHS) {
            if (r == d) {
                return b.wants(READ + "." + d);
            }
        }
        return false;
    }

    private static boolean wantsMemory(Bench b, int d) {
        for (int m : MEMORY_DEPTHS) {
            if (m == d) {
                return b.wants(MEMORY);
            }
        }
        return false;
    }

    /** The chunks overwritten after snapshot {@code layer}: the same on every contender. */
    private static long[] chunksOf(int layer, long size, int k) {
        Random rnd = new Random(Bench.SEED * 31 + layer);
        long[] at = new long[k];
        for (int i = 0; i < k; i++) {
            at[i] = (long) rnd.nextInt((int) (size / CHUNK)) * CHUNK;
        }
        return at;
    }

    @Override
    public void run(Bench b) throws Exception {
        long size = size(b);
        int blocks = (int) (size / BLOCK);
        int[] picks = new int[1 << 16];
        Random rnd = new Random(Bench.SEED + 7);
        for (int i = 0; i < picks.length; i++) {
            picks[i] = rnd.nextInt(blocks);
        }
        ByteBuffer fill = Bench.randomData(1 << 20, Bench.SEED + 5);
        ByteBuffer chunk = Bench.randomData(CHUNK, Bench.SEED + 6);
        b.progress("read4k.depth / map.memory: " + Bench.mib(size) + " disk, " + chunksPerLayer(b)
                + " x 64 KiB overwritten per snapshot");

        javaContenders(b, size, picks, fill, chunk);
        if (b.qemu) {
            qcow2(b, size);
        } else {
            b.skip(READ + ".* (qcow2)", "qemu-img is not installed");
        }
    }

    /**
     * Varve and file-per-delta grown in lockstep; at each checkpoint their reads and the raw
     * file's (the ceiling: no snapshots, no map) take turns within each repetition.
     */
    private void javaContenders(Bench b, long size, int[] picks, ByteBuffer fill, ByteBuffer chunk) throws Exception {
        Path dir = b.scratch("depth");
        List<String> kinds = List.of(Contender.VARVE, Contender.FILE_PER_DELTA);
        List<Contender> cs = new ArrayList<>();
        RawFile raw = RawFile.preallocate(dir.resolve("disk.raw"), size, fill);
        // the control: a Varve disk given the same overwrites with no snapshot between them, so
        // what depth costs can be told from what the overwrites' fragmentation costs
        Contender control = null;
        Contender reference = null;
        try {
            for (String kind : kinds) {
                Contender c = Contender.create(kind, dir.resolve(kind), size);
                cs.add(c);
            }
            control = Contender.create(Contender.VARVE, dir.resolve("varve-control"), size);
            reference = Contender.create(Contender.VARVE, dir.resolve("varve-depth0"), size);
            List<Contender> filled = new ArrayList<>(cs);
            filled.add(control);
            filled.add(reference);
            for (Contender c : filled) {
                for (long at = 0; at < size; at += fill.capacity()) {
                    c.write(at, fill.duplicate());
                }
                c.flush();
                // the first checkpoint would otherwise measure the JIT at work
                readRate(c, picks, 0, b.quick ? 100_000 : 400_000);
            }
            int depth = 0;
            for (int cp : checkpoints(b, 1000)) {
                if (cp > 0 && b.overBudget()) {
                    b.budgetSkip("read4k.depth and map.memory from depth " + cp + " on (varve, file-per-delta)");
                    break;
                }
                long t0 = System.nanoTime();
                while (depth < cp) {
                    for (Contender c : cs) {
                        c.snapshot("d" + depth);
                        for (long at : chunksOf(depth, size, chunksPerLayer(b))) {
                            c.write(at, chunk.duplicate());
                        }
                    }
                    for (long at : chunksOf(depth, size, chunksPerLayer(b))) {
                        control.write(at, chunk.duplicate());
                    }
                    control.flush(); // where the others snapshot, as often
                    depth++;
                }
                for (Contender c : cs) {
                    c.flush();
                }
                control.flush();
                b.progress("varve and file-per-delta at depth " + depth + " (built in "
                        + String.format("%.1f", (System.nanoTime() - t0) / 1e9) + " s)");
                if (wantsRead(b, cp)) {
                    List<BlockIo> ios = new ArrayList<>(cs);
                    ios.add(0, raw);
                    ios.add(control);
                    ios.add(reference);
                    double[][] v = randomReads(ios, picks, seconds(b));
                    Figure r = b.add(Figure.of(READ + "." + cp, "ops/s", RawFile.NAME, readParams(size, cp, b), v[0], true,
                            "random 4 KiB reads of a preallocated file with no snapshots (warm), in the same rounds"));
                    Figure varve = null;
                    for (int i = 0; i < cs.size(); i++) {
                        Figure f = b.add(Figure.of(READ + "." + cp, "ops/s", cs.get(i).name(), readParams(size, cp, b),
                                v[i + 1], true, "random 4 KiB reads over the whole disk, queue depth 1, warm page cache")
                                .against(r, "raw"));
                        varve = cs.get(i).name().equals(Contender.VARVE) ? f : varve;
                    }
                    Figure c = b.add(Figure.of(READ + "." + cp, "ops/s", CONTROL, readParams(size, cp, b),
                            v[ios.size() - 2], true, "a Varve disk with the same overwrites, flushed where the others"
                            + " snapshot, and no snapshots: what the overwrites alone cost").against(r, "raw"));
                    Figure ref = b.add(Figure.of(READ + "." + cp, "ops/s", REFERENCE, readParams(size, cp, b),
                            v[ios.size() - 1], true, "a Varve disk filled as the others and never snapshotted or"
                            + " overwritten: depth 0, read in the same rounds as this depth").against(r, "raw"));
                    if (varve != null && cp > 0) {
                        b.notes.put(READ + "." + cp + ": varve / " + CONTROL + " (what depth costs beyond the overwrites)",
                                String.format(java.util.Locale.ROOT, "%.3fx", varve.median() / c.median()));
                        b.notes.put(READ + "." + cp + ": varve / " + REFERENCE + " (depth " + cp + " against depth 0, read"
                                + " in the same rounds)", String.format(java.util.Locale.ROOT, "%.3fx",
                                varve.median() / ref.median()));
                    }
                }
                if (wantsMemory(b, cp)) {
                    for (int i = 0; i < cs.size(); i++) {
                        cs.set(i, memory(b, kinds.get(i), cs.get(i), dir.resolve(kinds.get(i)), size, cp));
                    }
                }
            }
        } finally {
            for (Contender c : cs) {
                c.close();
            }
            if (control != null) {
                control.close();
            }
            if (reference != null) {
                reference.close();
            }
            raw.close();
            Bench.deleteTree(dir);
        }
    }

    private static int chunksPerLayerOf(Bench b) {
        return b.quick ? 2 : 8;
    }

    private static Map<String, Object> readParams(long size, int depth, Bench b) {
        return Bench.params("disk", Bench.mib(size), "depth", depth, "overwrittenPerSnapshot",
                chunksPerLayerOf(b) * 64 + " KiB");
    }

    /**
     * Heap held by an opened disk: settled heap with the disk closed, then opened and read end
     * to end once (so every map a read of the head needs is loaded), settled heap again.
     */
    private Contender memory(Bench b, String kind, Contender c, Path dir, long size, int depth) throws IOException {
        double[] mib = new double[Bench.REPS];
        long entries = -1;
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        Contender open = c;
        for (int rep = 0; rep < Bench.REPS; rep++) {
            open.close();
            open = null;
            long before = Bench.settledHeap();
            open = Contender.open(kind, dir);
            for (long at = 0; at < size; at += buf.capacity()) {
                buf.clear();
                open.read(at, buf);
            }
            long after = Bench.settledHeap();
            mib[rep] = (after - before) / (double) (1 << 20);
            if (open instanceof Contender.DeltaDisk d) {
                entries = d.fpd().tableEntries();
            }
        }
        String how = "heap used after System.gc() with the disk open and read end to end, minus the same with it closed"
                + " (MemoryMXBean)" + (entries >= 0 ? "; " + entries + " block-table entries over " + (depth + 1) + " layers"
                : "; Varve loads tree nodes on demand into a cache bounded at 64 MiB, only the head's tree is read");
        b.add(Figure.of(MEMORY, "MiB", kind, Bench.params("disk", Bench.mib(size), "depth", depth), mib, false, how));
        return open;
    }

    /** {@code n} random 4 KiB reads starting at {@code picks[from]}; reads/s. */
    static double readRate(BlockIo io, int[] picks, int from, int n) throws IOException {
        ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
        int cursor = from & (picks.length - 1);
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            dst.clear();
            io.read((long) picks[cursor] * BLOCK, dst);
            cursor = (cursor + 1) & (picks.length - 1);
        }
        return n / ((System.nanoTime() - t0) / 1e9);
    }

    /**
     * Repetitions of random 4 KiB reads, about {@code seconds} each, the contenders taking turns
     * within each repetition (every contender reads the same blocks); reads/s by contender.
     */
    static double[][] randomReads(List<? extends BlockIo> ios, int[] picks, double seconds) throws Exception {
        int[] n = new int[ios.size()];
        for (int i = 0; i < ios.size(); i++) {
            n[i] = (int) Math.max(500, Math.min(5_000_000, readRate(ios.get(i), picks, 0, 4000) * seconds));
        }
        return Bench.interleaved(ios, Bench.WARMUPS, (io, rep) -> readRate(io, picks, rep * 7919, n[ios.indexOf(io)]));
    }

    // ------------------------------------------------------------------ qcow2

    /**
     * qemu-img bench reads of each image, about {@code seconds(b)} per run, the images taking
     * turns within each repetition; reads/s by image.
     */
    private double[][] qemuReads(Bench b, List<Path> imgs) throws Exception {
        int[] count = new int[imgs.size()];
        for (int i = 0; i < imgs.size(); i++) {
            double s = Qemu.bench(imgs.get(i), format(imgs.get(i)), false, 4000, BLOCK, QEMU_STRIDE, 0);
            count[i] = (int) Math.max(500, Math.min(5_000_000, 4000 / s * seconds(b)));
        }
        return Bench.interleaved(imgs, Bench.WARMUPS, (img, rep) -> {
            int n = count[imgs.indexOf(img)];
            return n / Qemu.bench(img, format(img), false, n, BLOCK, QEMU_STRIDE, 0);
        });
    }

    private static String format(Path img) {
        return img.toString().endsWith(".raw") ? "raw" : "qcow2";
    }

    private void qcow2(Bench b, long size) throws Exception {
        Path dir = b.scratch("depth-qcow2");
        Path rawImg = dir.resolve("disk.raw");
        RawFile.preallocate(rawImg, size, Bench.randomData(1 << 20, Bench.SEED + 5)).close();
        int maxDepth = b.quick ? 100 : 1000;
        for (int d : READ_DEPTHS) {
            if (d > maxDepth && b.wants(READ + "." + d)) {
                b.skip(READ + "." + d + " (qcow2)", "quick mode builds qcow2 chains only to depth " + maxDepth
                        + " (each layer costs two qemu processes)");
            }
        }
        Path top = dir.resolve("l0.qcow2");
        Qemu.create(top, size);
        List<String> fill = new ArrayList<>();
        for (long at = 0; at < size; at += 64L << 20) {
            fill.add("write -P 0x11 " + at + " " + Math.min(64L << 20, size - at));
        }
        Qemu.io(top, false, fill);
        int depth = 0;
        for (int cp : checkpoints(b, maxDepth)) {
            if (!wantsRead(b, cp)) {
                continue;
            }
            if (b.overBudget()) {
                b.budgetSkip("read4k.depth from depth " + cp + " on (qcow2)");
                break;
            }
            long t0 = System.nanoTime();
            while (depth < cp) {
                Path next = dir.resolve("l" + (depth + 1) + ".qcow2");
                Qemu.createOverlay(next, top, size);
                List<String> cmds = new ArrayList<>();
                for (long at : chunksOf(depth, size, chunksPerLayer(b))) {
                    cmds.add("write -P 0x" + Integer.toHexString(0x20 + depth % 200) + " " + at + " " + CHUNK);
                }
                // whole 64 KiB clusters need nothing from below, so the chain is not opened
                Qemu.io(next, true, cmds);
                top = next;
                depth++;
            }
            b.progress("qcow2 at depth " + depth + " (built in " + String.format("%.1f", (System.nanoTime() - t0) / 1e9) + " s)");
            double[][] v = qemuReads(b, List.of(rawImg, top));
            Figure qemuRaw = b.add(Figure.of(READ + "." + cp, "ops/s", Qemu.QEMU_RAW, readParams(size, cp, b), v[0], true,
                    "qemu-img bench -f raw -s 4k -d 1 -t writeback on a preallocated raw image (warm), in the same rounds:"
                            + " QEMU's own ceiling"));
            b.add(Figure.of(READ + "." + cp, "ops/s", Qemu.QCOW2, readParams(size, cp, b), v[1], true,
                    "qemu-img bench -s 4k -d 1 -t writeback, prime stride over the image (warm), through a backing chain of "
                            + cp + " overlays; process start excluded").against(qemuRaw, "qemu-raw"));
        }
        Bench.deleteTree(dir);
    }
}
