package dev.varve.bench;

import dev.varve.engine.Store;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.HdrHistogram.Histogram;

/**
 * Latency of snapshot, revert, clone and destroy, against the volume's size (thin, 1 GiB to
 * 1 TiB, the same data written across it), against how much data it holds (1 TiB thin, written
 * as 4 KiB blocks at random, one snapshot; figures carry {@code axis=written}, and
 * {@code -Dvarve.bench.ops=written} runs only that axis) and against how many snapshots it
 * already has.
 * Every operation is timed to its durable return. Before each snapshot and revert one 4 KiB
 * block is written (untimed), so there is always something to freeze or drop. The baseline is
 * {@code disk.fsync}: no durable operation can beat one write and force.
 *
 * <p>A combined point puts the axes together on Varve: a small disk (1 GiB, 1 MiB written, one
 * snapshot) and a big one (1 TiB, 8 GiB written at random, 10,000 snapshots), open at once and
 * measured in turns, the big one's figures given as ratios to the small one's. Its figures carry
 * {@code axis=combined}. {@code -Dvarve.bench.ops=combined} runs only that point.
 */
final class OpLatency implements Scenario {
    static final String SNAPSHOT = "snapshot.latency";
    static final String REVERT = "revert.latency";
    static final String CLONE = "clone.latency";
    static final String DESTROY = "destroy.latency";
    static final String SNAPSHOT_BYTES = "snapshot.bytes";
    private static final int BLOCK = 4096;
    private static final int CHUNK = 64 << 10;
    private static final int WARM = 3;
    /** Writes between flushes while a combined-point disk is built. */
    private static final int FLUSH_EVERY = 256;
    private static final String WITH_COMMIT = "op and commit";
    private static final String COMMIT_ONLY = "commit only";
    private static final String OP_ONLY = "op only";

    @Override
    public int weight() {
        return 35;
    }

    @Override
    public List<String> names() {
        return List.of(SNAPSHOT, REVERT, CLONE, DESTROY, SNAPSHOT_BYTES);
    }

    private int reps(Bench b) {
        return b.quick ? 11 : 25;
    }

    private long dataBytes(Bench b) {
        return b.quick ? 16L << 20 : 64L << 20;
    }

    @Override
    public void run(Bench b) throws Exception {
        Figure fsync = b.find(DiskBaseline.FSYNC);
        List<String> kinds = List.of(Contender.VARVE, Contender.FILE_PER_DELTA);
        // a throwaway round first, so that the first figure does not time the JIT
        withContenders(b, kinds, "ops-warm", new long[] {1L << 30}, 4L << 20, cs -> measure(null, cs, fsync, "warm"));
        if ("combined".equals(System.getProperty("varve.bench.ops"))) {
            combined(b, fsync);
            return;
        }
        if ("written".equals(System.getProperty("varve.bench.ops"))) {
            byWritten(b, kinds, fsync);
            return;
        }
        long[] sizes = b.quick ? new long[] {1L << 30, 32L << 30, 1L << 40}
                : new long[] {1L << 30, 16L << 30, 256L << 30, 1L << 40};
        // every size of every contender open at once, taking turns, so no size gets a quieter minute
        withContenders(b, kinds, "ops", sizes, dataBytes(b), cs -> measure(b, cs, fsync, "s"));
        if (b.qemu) {
            for (long size : sizes) {
                if (b.overBudget()) {
                    b.budgetSkip("snapshot/revert/destroy latency of qcow2 internal snapshots from " + Bench.mib(size) + " on");
                    break;
                }
                qcow2Internal(b, size, fsync);
            }
        }
        int[] counts = b.quick ? new int[] {1, 10, 100, 1000} : new int[] {1, 10, 100, 1000, 10000};
        withContenders(b, kinds, "count", new long[] {1L << 30}, dataBytes(b), cs -> byCount(b, cs, counts, fsync));
        if (b.qemu) {
            qcow2ByCount(b, b.quick ? new int[] {1, 10, 100} : new int[] {1, 10, 100, 1000}, fsync);
        }
        byWritten(b, kinds, fsync);
        if (b.overBudget()) {
            b.budgetSkip("snapshot/revert/clone/destroy latency, combined small and big case (varve)");
        } else {
            combined(b, fsync);
        }
    }

    /** One disk under test: the contender, its size, and the parameters its figures carry. */
    private record Case(Contender c, long size, Map<String, Object> params) {
        Case with(Map<String, Object> p) {
            return new Case(c, size, p);
        }
    }

    @FunctionalInterface
    private interface Body {
        void run(List<Case> cs) throws IOException;
    }

    /** New disks of each size with {@code data} spread over them, one per kind and size, for the body. */
    private void withContenders(Bench b, List<String> kinds, String name, long[] sizes, long data, Body body)
            throws IOException {
        Path dir = b.scratch(name);
        List<Case> cs = new ArrayList<>();
        try {
            for (long size : sizes) {
                for (String k : kinds) {
                    Contender c = Contender.create(k, dir.resolve(k + "-" + Long.numberOfTrailingZeros(size)), size);
                    cs.add(new Case(c, size, Bench.params("volume", Bench.mib(size), "written", Bench.mib(data),
                            "snapshots", 0, "axis", "size")));
                    spread(c, size, data);
                }
            }
            body.run(cs);
        } finally {
            for (Case c : cs) {
                c.c().close();
            }
            Bench.deleteTree(dir);
        }
    }

    /** Writes {@code bytes} as 64 KiB chunks at random places across the whole volume. */
    private static void spread(BlockIo c, long size, long bytes) throws IOException {
        ByteBuffer chunk = Bench.randomData(CHUNK, Bench.SEED + 11);
        Random rnd = new Random(Bench.SEED + 12);
        long chunks = size / CHUNK;
        for (long done = 0; done < bytes; done += CHUNK) {
            c.write((Math.floorMod(rnd.nextLong(), chunks)) * CHUNK, chunk.duplicate());
        }
        c.flush();
    }

    private static void touch(BlockIo c, Random rnd, long size, ByteBuffer block) throws IOException {
        c.write(Math.floorMod(rnd.nextLong(), size / BLOCK) * BLOCK, block.duplicate());
    }

    /** Latency histograms of one contender, by operation. */
    private static final class Times {
        final Histogram snap = new Histogram(3);
        final Histogram revert = new Histogram(3);
        final Histogram clone = new Histogram(3);
        final Histogram destroySnap = new Histogram(3);
        final Histogram destroyClone = new Histogram(3);
    }

    /**
     * The four operations on each contender in its current state, the contenders taking turns
     * within each repetition; tags keep names unique. Every snapshot it takes it destroys again
     * (untimed), so the snapshot count is what it was. With no bench ({@code b == null}) it only
     * warms up. Every figure is a ratio to disk.fsync.
     */
    private void measure(Bench b, List<Case> cs, Figure fsync, String tag) throws IOException {
        measure(b, cs, fsync, tag, false, "");
    }

    /**
     * {@link #measure(Bench, List, Figure, String)}, with {@code tail} added to every note; with
     * {@code bySmallest} only the first case of each contender (the cases come smallest first)
     * is a ratio to disk.fsync, every later one a ratio to that first case's same op, so that a
     * flat axis reads as 1.0x. A Varve disk whose collector is paused says so in its notes.
     */
    private void measure(Bench b, List<Case> cs, Figure fsync, String tag, boolean bySmallest, String tail)
            throws IOException {
        int n = b == null ? 20 : reps(b);
        ByteBuffer block = Bench.randomData(BLOCK, Bench.SEED + 13);
        Random rnd = new Random(Bench.SEED + 14);
        List<Times> times = new ArrayList<>();
        for (int k = 0; k < cs.size(); k++) {
            times.add(new Times());
        }
        List<String> taken = new ArrayList<>();
        for (int i = -WARM; i < n; i++) {
            String s = tag + "-snap" + (i + WARM);
            taken.add(s);
            for (int k = 0; k < cs.size(); k++) {
                touch(cs.get(k).c(), rnd, cs.get(k).size(), block);
                long t0 = System.nanoTime();
                cs.get(k).c().snapshot(s);
                record(times.get(k).snap, i, System.nanoTime() - t0);
            }
        }
        String last = taken.get(taken.size() - 1);
        for (int i = -WARM; i < n; i++) {
            for (int k = 0; k < cs.size(); k++) {
                touch(cs.get(k).c(), rnd, cs.get(k).size(), block);
                long t0 = System.nanoTime();
                cs.get(k).c().revert(last);
                record(times.get(k).revert, i, System.nanoTime() - t0);
            }
        }
        for (int i = -WARM; i < n; i++) {
            String name = tag + "-clone" + (i + WARM);
            for (int k = 0; k < cs.size(); k++) {
                long t0 = System.nanoTime();
                cs.get(k).c().cloneDisk(last, name);
                record(times.get(k).clone, i, System.nanoTime() - t0);
                t0 = System.nanoTime();
                cs.get(k).c().destroyClone(name);
                record(times.get(k).destroyClone, i, System.nanoTime() - t0);
            }
        }
        for (int i = -WARM; i < n; i++) {
            String s = tag + "-gone" + (i + WARM);
            for (int k = 0; k < cs.size(); k++) {
                Contender c = cs.get(k).c();
                long size = cs.get(k).size();
                touch(c, rnd, size, block);
                c.snapshot(s);
                touch(c, rnd, size, block);
                long t0 = System.nanoTime();
                c.deleteSnapshot(s);
                record(times.get(k).destroySnap, i, System.nanoTime() - t0);
            }
        }
        for (Case c : cs) {
            // newest first, so each delete leaves the rest of the chain as it was
            for (int j = taken.size() - 1; j >= 0; j--) {
                c.c().deleteSnapshot(taken.get(j));
            }
        }
        if (b == null) {
            return;
        }
        // the first figure of each contender, op and what, when later ones are ratios to it
        Map<String, Figure> firsts = new java.util.HashMap<>();
        for (int k = 0; k < cs.size(); k++) {
            String kind = cs.get(k).c().name();
            Map<String, Object> p = cs.get(k).params();
            Times t = times.get(k);
            String end = tail + (cs.get(k).c() instanceof Contender.VarveDisk vd && vd.store().collectorPaused()
                    ? "; background collector paused while timed" : "");
            if (b.wants(SNAPSHOT)) {
                report(b, Figure.ofLatency(SNAPSHOT, kind, p, t.snap, "snapshot of the volume, one block written before each "
                        + "(untimed)" + end), fsync, bySmallest, firsts);
            }
            if (b.wants(REVERT)) {
                report(b, Figure.ofLatency(REVERT, kind, p, t.revert,
                        "revert to the newest snapshot, one block written before each (untimed)" + end), fsync, bySmallest, firsts);
            }
            if (b.wants(CLONE)) {
                report(b, Figure.ofLatency(CLONE, kind, p, t.clone, "clone of the newest snapshot into a new writable volume"
                        + end), fsync, bySmallest, firsts);
            }
            if (b.wants(DESTROY)) {
                report(b, Figure.ofLatency(DESTROY, kind, with(p, "what", "snapshot"), t.destroySnap,
                        "destroy a snapshot with one block written on each side of it (file-per-delta merges one block)" + end),
                        fsync, bySmallest, firsts);
                report(b, Figure.ofLatency(DESTROY, kind, with(p, "what", "clone"), t.destroyClone,
                        "destroy a clone that was never written" + end), fsync, bySmallest, firsts);
            }
        }
    }

    /**
     * Adds {@code f} as a ratio to disk.fsync or, with {@code bySmallest}, to the first figure
     * added before it for the same contender, name and {@code what}, if there is one.
     */
    private static void report(Bench b, Figure f, Figure fsync, boolean bySmallest, Map<String, Figure> firsts) {
        String key = f.contender() + " " + f.name() + " " + f.params().get("what");
        Figure base = bySmallest ? firsts.get(key) : null;
        Figure r = base == null ? f.against(fsync, "disk.fsync")
                : f.against(base, "smallest case (" + base.params().get("written") + " written)");
        if (bySmallest) {
            firsts.putIfAbsent(key, r);
        }
        b.add(r);
    }

    private static void record(Histogram h, int i, long ns) {
        if (i >= 0) {
            h.recordValue(Math.max(1, ns));
        }
    }

    private static Map<String, Object> with(Map<String, Object> p, String k, Object v) {
        Map<String, Object> m = new java.util.LinkedHashMap<>(p);
        m.put(k, v);
        return m;
    }

    /** Grows the snapshot count of every contender through the checkpoints, measuring at each. */
    private void byCount(Bench b, List<Case> cs, int[] counts, Figure fsync) throws IOException {
        long size = 1L << 30;
        ByteBuffer block = Bench.randomData(BLOCK, Bench.SEED + 15);
        Random rnd = new Random(Bench.SEED + 16);
        // the disks were just written, and the scratch files of the size axis just deleted (the
        // file system, mounted with discard, may go on trimming them for seconds): untimed
        // rounds for a few seconds let that settle, or the first checkpoint times the trim
        long settleUntil = System.nanoTime() + 4_000_000_000L;
        for (int round = 0; round < 20 && System.nanoTime() < settleUntil; round++) {
            measure(null, cs, fsync, "settle" + round);
        }
        int have = 0;
        for (int target : counts) {
            if (target > 1 && b.overBudget()) {
                b.budgetSkip("snapshot/revert/clone/destroy latency at " + target + " snapshots and more (varve, file-per-delta)");
                break;
            }
            long t0 = System.nanoTime();
            while (have < target) {
                for (Case c : cs) {
                    touch(c.c(), rnd, size, block);
                    c.c().snapshot("n" + have);
                }
                have++;
            }
            b.progress("varve and file-per-delta have " + have + " snapshots (grown in "
                    + String.format("%.1f", (System.nanoTime() - t0) / 1e9) + " s)");
            List<Case> at = new ArrayList<>();
            for (Case c : cs) {
                at.add(c.with(Bench.params("volume", Bench.mib(size), "written", Bench.mib(dataBytes(b)), "snapshots", target,
                        "axis", "count")));
            }
            measure(b, at, fsync, "at" + target);
        }
    }

    // ------------------------------------------------------------------ the data-written axis

    /**
     * The data-written axis: per contender, one thin 1 TiB volume for each amount (64 MiB, 1 GiB
     * and 8 GiB; --quick 16 and 256 MiB), written as 4 KiB blocks at random aligned places with
     * a flush every 256 writes, so that its map is as fragmented as random writes make it, then
     * one snapshot. All of them stay open and take turns within each repetition, so that noise
     * hits all alike; Varve's background collector is paused on them while timed. Each figure
     * is a ratio to the same contender's smallest amount (that one to disk.fsync), so that flat
     * reads as 1.0x.
     */
    private void byWritten(Bench b, List<String> kinds, Figure fsync) throws IOException {
        long size = 1L << 40;
        long[] amounts = b.quick ? new long[] {16L << 20, 256L << 20} : new long[] {64L << 20, 1L << 30, 8L << 30};
        Path dir = b.scratch("ops-written");
        List<Case> cs = new ArrayList<>();
        int complete = 0;
        try {
            for (int i = 0; i < amounts.length; i++) {
                long written = amounts[i];
                String what = "snapshot/revert/clone/destroy latency, data-written axis from " + Bench.mib(written)
                        + " written on (" + String.join(", ", kinds) + ")";
                if (b.overBudget()) {
                    b.budgetSkip(what);
                    break;
                }
                Map<String, Object> params = Bench.params("volume", Bench.mib(size), "written", Bench.mib(written),
                        "snapshots", 1, "axis", "written");
                boolean built = true;
                for (String k : kinds) {
                    Contender c = Contender.create(k, dir.resolve(k + "-" + Long.numberOfTrailingZeros(written)), size);
                    cs.add(new Case(c, size, params));
                    String label = "written axis, " + k + " " + Bench.mib(written);
                    // the same seed for every contender: the same blocks at the same places
                    built = build(b, c, size, label, "ops " + label + " disk (" + Bench.mib(size) + ") built", written, 1,
                            Bench.SEED + 31 + 2 * i);
                    if (!built) {
                        break;
                    }
                }
                if (!built) {
                    b.budgetSkip(what + "; ran out while building the " + Bench.mib(written) + " disks");
                    break;
                }
                complete = cs.size();
            }
            if (complete == 0) {
                return;
            }
            List<Case> at = cs.subList(0, complete);
            // the ops are timed alone: the collector would mark on its own schedule after the builds
            for (Case c : at) {
                if (c.c() instanceof Contender.VarveDisk vd) {
                    vd.store().pauseCollector();
                }
            }
            // the disks were just written: untimed rounds for a few seconds let the file system and
            // the page cache settle (and let a collector pass under way finish), as byCount does
            long settleUntil = System.nanoTime() + 4_000_000_000L;
            for (int round = 0; round < 20 && System.nanoTime() < settleUntil; round++) {
                measure(null, at, fsync, "settle" + round);
            }
            measure(b, at, fsync, "w", true, "; the volume (1 TiB thin) holds the data written as 4 KiB blocks at random "
                    + "places, then one snapshot");
        } finally {
            for (Case c : cs) {
                c.c().close();
            }
            Bench.deleteTree(dir);
        }
    }

    // ------------------------------------------------------------------ the combined point

    /** One disk of the combined point: its contender and parameters, and its newest snapshot. */
    private record Point(Case at, String newest) {
        Contender c() {
            return at.c();
        }
    }

    @FunctionalInterface
    private interface Step {
        void run(Point p) throws IOException;
    }

    /**
     * One operation on one disk, timed three ways: with the commit of the block written before
     * it (the op's durable return, as on the other axes), then, with another block written, the
     * flush that commits it alone, and the op alone right after that flush.
     */
    private static final class Split {
        final Histogram whole = new Histogram(3);
        final Histogram commit = new Histogram(3);
        final Histogram op = new Histogram(3);
    }

    private static final class SplitTimes {
        final Split snap = new Split();
        final Split revert = new Split();
        final Split destroySnap = new Split();
        final Histogram clone = new Histogram(3);
        final Histogram destroyClone = new Histogram(3);
    }

    /**
     * The combined point: a small Varve disk (1 GiB, 1 MiB written, one snapshot) and a
     * big one (1 TiB, 8 GiB written at random 4 KiB places, 10,000 snapshots; --quick scales the
     * big one down to 256 MiB and 1,000), both open, taking turns in every repetition so that
     * background load hits both alike. The big disk's figures are ratios to the small one's.
     */
    private void combined(Bench b, Figure fsync) throws IOException {
        long bigWritten = b.quick ? 256L << 20 : 8L << 30;
        int bigSnapshots = b.quick ? 1_000 : 10_000;
        Path dir = b.scratch("ops-combined");
        List<Point> ps = new ArrayList<>();
        try {
            long[][] shapes = {{1L << 30, 1L << 20, 1}, {1L << 40, bigWritten, bigSnapshots}};
            for (int k = 0; k < shapes.length; k++) {
                long size = shapes[k][0];
                long written = shapes[k][1];
                int snapshots = (int) shapes[k][2];
                String label = k == 0 ? "small" : "big";
                Map<String, Object> params = Bench.params("case", label, "volume", Bench.mib(size), "written",
                        Bench.mib(written), "snapshots", snapshots, "axis", "combined");
                if (k > 0 && b.quick) {
                    params.put("scaled", "for --quick (issue: 8 GiB, 10,000 snapshots)");
                }
                Contender c = Contender.create(Contender.VARVE, dir.resolve(label), size);
                Point p = new Point(new Case(c, size, params), "keep" + (snapshots - 1));
                ps.add(p);
                if (!build(b, c, size, "combined " + label, "ops combined point, " + label + " disk (" + Bench.mib(size)
                        + ") built", written, snapshots, Bench.SEED + 21 + 2 * k)) {
                    b.budgetSkip("snapshot/revert/clone/destroy latency, combined small and big case (varve; ran out while "
                            + "building the " + label + " disk)");
                    return;
                }
            }
            b.skip("snapshot/revert/clone/destroy latency, combined small and big case (file-per-delta)",
                    "only varve is built big: file-per-delta would need another " + Bench.mib(bigWritten) + " of random "
                            + String.format(Locale.ROOT, "writes and %,d delta files; its count axis shows how it grows "
                            + "with snapshots", bigSnapshots));
            // every block the big disk was written with is still held by some snapshot, so the
            // background collector has nothing to gain, but its trigger (churn) fires after the
            // build and its mark would walk every tree of 10,000 snapshots while the ops are timed:
            // paused here on both disks alike (gc.foreground-impact measures the collector's cost)
            for (Point p : ps) {
                if (p.c() instanceof Contender.VarveDisk vd) {
                    vd.store().pauseCollector();
                }
            }
            // the big disk was just written: untimed rounds let the file system, the page cache and
            // the JIT settle; in-process, the big disk's first second of ops runs up to a quarter
            // slower than the rest, so the rounds go on for a few seconds, not a few milliseconds
            long settleUntil = System.nanoTime() + (b.quick ? 2_000_000_000L : 10_000_000_000L);
            do {
                combinedTimes(ps, b.quick ? 3 : 10);
            } while (System.nanoTime() < settleUntil);
            // the ops take well under a millisecond: many repetitions cost little and steady the medians
            List<SplitTimes> ts = combinedTimes(ps, b.quick ? 51 : 201);
            combinedReport(b, ps, ts, fsync);
            if (b.wants(SNAPSHOT_BYTES)) {
                snapshotBytes(b, ps, b.quick ? 21 : 51);
            }
        } finally {
            for (Point p : ps) {
                p.c().close();
            }
            Bench.deleteTree(dir);
        }
    }

    /**
     * Writes {@code bytes} as 4 KiB blocks at random aligned places over the whole volume, with a
     * flush every 256 writes, and takes the snapshots evenly along the way, the last one after
     * the last write, so that each holds its own version of the map, as snapshots taken over a
     * VM's life do. Progress is shown as {@code label}'s, and the build time goes into the notes
     * under {@code noteKey}. Returns false when the time budget ran out first.
     */
    private static boolean build(Bench b, Contender c, long size, String label, String noteKey, long bytes, int snapshots,
                                 long seed) throws IOException {
        ByteBuffer data = Bench.randomData(1 << 20, seed);
        Random rnd = new Random(seed + 1);
        long writes = bytes / BLOCK;
        long blocks = size / BLOCK;
        int taken = 0;
        long t0 = System.nanoTime();
        long shown = t0;
        for (long i = 0; i < writes; i++) {
            int at = (int) (i % ((1 << 20) / BLOCK)) * BLOCK;
            c.write(Math.floorMod(rnd.nextLong(), blocks) * BLOCK, data.slice(at, BLOCK));
            long due = (i + 1) * snapshots / writes;
            if (taken < due) {
                // a snapshot commits the writes before it, so it stands in for that flush
                while (taken < due) {
                    c.snapshot("keep" + taken++);
                }
            } else if ((i + 1) % FLUSH_EVERY == 0) {
                c.flush();
            }
            if ((i & 0xFFFF) == 0xFFFF) {
                if (b.overBudget()) {
                    return false;
                }
                long now = System.nanoTime();
                if (now - shown > 15_000_000_000L) {
                    b.progress(String.format(Locale.ROOT, "%s disk: %s of %s written, %,d snapshots", label,
                            Bench.mib((i + 1) * BLOCK), Bench.mib(bytes), taken));
                    shown = now;
                }
            }
        }
        c.flush();
        double secs = (System.nanoTime() - t0) / 1e9;
        String built = String.format(Locale.ROOT, "%s written at random and %,d snapshot%s in %.1f s (%,.0f writes/s)",
                Bench.mib(bytes), taken, taken == 1 ? "" : "s", secs, writes / secs);
        b.progress(label + " disk (" + Bench.mib(size) + "): " + built);
        b.notes.put(noteKey, built);
        return true;
    }

    /**
     * Bytes one snapshot appends to the log ({@code Store.bytesAppended}) on each disk of the
     * combined point, n times: once with the head committed just before (the snapshot's own
     * records: the catalog's changed paths and the commit record), and once with one block
     * written and flushed before it, whose map path the snapshot's commit then writes too.
     */
    private static void snapshotBytes(Bench b, List<Point> ps, int n) throws IOException {
        ByteBuffer block = Bench.randomData(BLOCK, Bench.SEED + 27);
        Random rnd = new Random(Bench.SEED + 28);
        for (boolean written : new boolean[] {false, true}) {
            Figure small = null;
            for (Point p : ps) {
                if (!(p.c() instanceof Contender.VarveDisk vd)) {
                    continue;
                }
                Store s = vd.store();
                double[] bytes = new double[n];
                for (int i = 0; i < n; i++) {
                    touch(p.c(), rnd, p.at().size(), block);
                    if (written) {
                        p.c().flush();
                    } else {
                        s.commit();
                    }
                    long before = s.bytesAppended();
                    p.c().snapshot("counted");
                    bytes[i] = s.bytesAppended() - before;
                    p.c().deleteSnapshot("counted");
                }
                Map<String, Object> params = new java.util.LinkedHashMap<>(p.at().params());
                params.put("before", written ? "one block written and flushed" : "head committed");
                Figure f = Figure.of(SNAPSHOT_BYTES, "B", Contender.VARVE, params, bytes, false, (written
                        ? "bytes one snapshot appends after one 4 KiB block was written and flushed: its own records and"
                        + " the written block's map path, which its commit writes"
                        : "bytes one snapshot appends with the head committed just before: the catalog's changed paths"
                        + " and the commit record") + "; the fill written ahead of the metadata log, a step at a time,"
                        + " counts in the sample that crosses a step");
                small = small == null ? b.add(f) : small;
                if (f != small) {
                    b.add(f.against(small, "small case"));
                }
            }
        }
    }

    /** The four operations on every disk of the combined point, n times each after a warm-up. */
    private static List<SplitTimes> combinedTimes(List<Point> ps, int n) throws IOException {
        ByteBuffer block = Bench.randomData(BLOCK, Bench.SEED + 25);
        Random rnd = new Random(Bench.SEED + 26);
        List<SplitTimes> ts = new ArrayList<>();
        for (int k = 0; k < ps.size(); k++) {
            ts.add(new SplitTimes());
        }
        Step touch = p -> touch(p.c(), rnd, p.at().size(), block);
        Step none = p -> { };
        // each snapshot timed is destroyed again (untimed), so the disks keep their snapshot count
        splitRounds(ps, ts, n, t -> t.snap, touch, p -> p.c().snapshot("timed"), p -> p.c().deleteSnapshot("timed"));
        splitRounds(ps, ts, n, t -> t.revert, touch, p -> p.c().revert(p.newest()), none);
        for (int i = -WARM; i < n; i++) {
            for (int j = 0; j < ps.size(); j++) {
                int k = turn(i, j, ps.size());
                Contender c = ps.get(k).c();
                long t0 = System.nanoTime();
                c.cloneDisk(ps.get(k).newest(), "clone");
                record(ts.get(k).clone, i, System.nanoTime() - t0);
                t0 = System.nanoTime();
                c.destroyClone("clone");
                record(ts.get(k).destroyClone, i, System.nanoTime() - t0);
            }
        }
        Step setup = p -> {
            touch.run(p);
            p.c().snapshot("gone");
            touch.run(p);
        };
        splitRounds(ps, ts, n, t -> t.destroySnap, setup, p -> p.c().deleteSnapshot("gone"), none);
        return ts;
    }

    /** Which disk goes {@code j}-th in repetition {@code i}: the first one alternates, so neither always follows the other. */
    private static int turn(int i, int j, int disks) {
        return (i & 1) == 0 ? j : disks - 1 - j;
    }

    /**
     * Times {@code op} on every disk in turn, the three ways of {@link Split}. The public API has
     * no seam inside an op's commit (one commit writes the dirty map, the catalog change and
     * forces once), so the commit part is a flush of the same kind of block, timed apart.
     */
    private static void splitRounds(List<Point> ps, List<SplitTimes> ts, int n,
                                    Function<SplitTimes, Split> part, Step setup, Step op, Step after)
            throws IOException {
        for (int i = -WARM; i < n; i++) {
            for (int j = 0; j < ps.size(); j++) {
                int k = turn(i, j, ps.size());
                Point p = ps.get(k);
                Split s = part.apply(ts.get(k));
                setup.run(p);
                long t0 = System.nanoTime();
                op.run(p);
                record(s.whole, i, System.nanoTime() - t0);
                after.run(p);
                setup.run(p);
                t0 = System.nanoTime();
                p.c().flush();
                long t1 = System.nanoTime();
                op.run(p);
                long t2 = System.nanoTime();
                record(s.commit, i, t1 - t0);
                record(s.op, i, t2 - t1);
                after.run(p);
            }
        }
    }

    /** The first disk's figures against disk.fsync, every other disk's against the first's. */
    private static void combinedReport(Bench b, List<Point> ps, List<SplitTimes> ts, Figure fsync) {
        Map<String, Object> first = ps.get(0).at().params();
        String small = "small case (" + first.get("volume") + ", " + first.get("written") + " written, "
                + first.get("snapshots") + " snapshot" + (((Number) first.get("snapshots")).intValue() == 1 ? "" : "s") + ")";
        if (b.wants(SNAPSHOT)) {
            split(b, ps, ts, t -> t.snap, SNAPSHOT, Map.of(), fsync, small, "snapshot of the volume (then destroyed, "
                    + "untimed, so the snapshot count stays)");
        }
        if (b.wants(REVERT)) {
            split(b, ps, ts, t -> t.revert, REVERT, Map.of(), fsync, small, "revert to the newest snapshot");
        }
        if (b.wants(CLONE)) {
            pair(b, ps, ts, t -> t.clone, CLONE, Map.of(), fsync, small,
                    "clone of the newest snapshot into a new writable volume; nothing is written before it, so it "
                            + "commits only its own change");
        }
        if (b.wants(DESTROY)) {
            split(b, ps, ts, t -> t.destroySnap, DESTROY, Map.of("what", "snapshot"), fsync, small,
                    "destroy a snapshot with one block written on each side of it");
            pair(b, ps, ts, t -> t.destroyClone, DESTROY, Map.of("what", "clone"), fsync, small,
                    "destroy a clone that was never written; it commits only its own change");
        }
    }

    private static void split(Bench b, List<Point> ps, List<SplitTimes> ts, Function<SplitTimes, Split> part,
                              String name, Map<String, Object> extra, Figure fsync, String small, String what) {
        pair(b, ps, ts, t -> part.apply(t).whole, name, with(extra, "timed", WITH_COMMIT), fsync, small,
                what + "; one block written before it (untimed), which the op's commit takes along");
        pair(b, ps, ts, t -> part.apply(t).commit, name, with(extra, "timed", COMMIT_ONLY), fsync, small,
                "flush of one block written where the op would find it: the commit part, timed apart from the op "
                        + "(the API has no seam inside the op's own commit)");
        pair(b, ps, ts, t -> part.apply(t).op, name, with(extra, "timed", OP_ONLY), fsync, small,
                what + ", right after that flush: its own change and commit, nothing else left to commit");
    }

    private static void pair(Bench b, List<Point> ps, List<SplitTimes> ts, Function<SplitTimes, Histogram> h,
                             String name, Map<String, Object> extra, Figure fsync, String small, String note) {
        Figure base = null;
        for (int k = 0; k < ps.size(); k++) {
            Map<String, Object> p = new java.util.LinkedHashMap<>(ps.get(k).at().params());
            p.putAll(extra);
            Figure f = Figure.ofLatency(name, Contender.VARVE, p, h.apply(ts.get(k)), note
                    + "; background collector paused on both disks while timed");
            f = base == null ? f.against(fsync, "disk.fsync") : f.against(base, small);
            b.add(f);
            if (base == null) {
                base = f;
            }
        }
    }

    /** An image of {@code size} with the same spread of data as the Java contenders get. */
    private Path qcow2Image(Bench b, long size) throws IOException {
        Path dir = b.scratch("ops-qcow2");
        Path img = dir.resolve("disk.qcow2");
        Qemu.create(img, size);
        Random rnd = new Random(Bench.SEED + 12);
        List<String> cmds = new ArrayList<>();
        long chunks = size / CHUNK;
        for (long done = 0; done < dataBytes(b); done += CHUNK) {
            cmds.add("write -P 0x33 " + Math.floorMod(rnd.nextLong(), chunks) * CHUNK + " " + CHUNK);
        }
        for (int i = 0; i < cmds.size(); i += 256) {
            Qemu.io(img, false, cmds.subList(i, Math.min(cmds.size(), i + 256)));
        }
        return img;
    }

    /** qcow2 internal snapshots (snapshot -c / -a / -d), each a qemu-img run; process start noted. */
    private void qcow2Internal(Bench b, long size, Figure fsync) throws IOException {
        Path img = qcow2Image(b, size);
        qcow2Measure(b, img, size, Bench.params("volume", Bench.mib(size), "written", Bench.mib(dataBytes(b)),
                "snapshots", 0, "axis", "size"), fsync, "s");
        Bench.deleteTree(img.getParent());
    }

    /** Grows an image's internal snapshot count through the checkpoints (no writes between, to save processes). */
    private void qcow2ByCount(Bench b, int[] counts, Figure fsync) throws IOException {
        long size = 1L << 30;
        Path img = qcow2Image(b, size);
        int have = 0;
        for (int target : counts) {
            if (target > 1 && b.overBudget()) {
                b.budgetSkip("snapshot/revert/destroy latency at " + target + " snapshots and more (qcow2-internal)");
                break;
            }
            long t0 = System.nanoTime();
            while (have < target) {
                Qemu.run(Qemu.snapshotCreate(img, "n" + have));
                have++;
            }
            b.progress("qcow2 has " + have + " internal snapshots (grown in "
                    + String.format("%.1f", (System.nanoTime() - t0) / 1e9) + " s)");
            have += qcow2Measure(b, img, size, Bench.params("volume", Bench.mib(size), "written", Bench.mib(dataBytes(b)),
                    "snapshots", target, "axis", "count"), fsync, "at" + target);
        }
        Bench.deleteTree(img.getParent());
    }

    /** Measures snapshot -c, -a (newest) and -d on the image; returns how many snapshots it left behind. */
    private int qcow2Measure(Bench b, Path img, long size, Map<String, Object> p, Figure fsync, String tag) throws IOException {
        int n = b.quick ? 5 : 9;
        Random rnd = new Random(Bench.SEED + 17);
        Histogram snap = new Histogram(3);
        Histogram revert = new Histogram(3);
        Histogram destroy = new Histogram(3);
        String last = null;
        for (int i = -1; i < n; i++) {
            Qemu.io(img, false, List.of("write -P 0x44 " + Math.floorMod(rnd.nextLong(), size / BLOCK) * BLOCK + " 4k"));
            last = tag + "-s" + (i + 1);
            record(snap, i, Qemu.timed(Qemu.snapshotCreate(img, last)));
        }
        for (int i = -1; i < n; i++) {
            Qemu.io(img, false, List.of("write -P 0x45 " + Math.floorMod(rnd.nextLong(), size / BLOCK) * BLOCK + " 4k"));
            record(revert, i, Qemu.timed(Qemu.snapshotApply(img, last)));
        }
        for (int i = -1; i < n; i++) {
            record(destroy, i, Qemu.timed(Qemu.snapshotDelete(img, tag + "-s" + (i + 1))));
        }
        double start = Qemu.processStartMillis(img, 5);
        String note = "; includes qemu-img process start and image open, measured as "
                + String.format("%.1f", start) + " ms for 'qemu-img snapshot -l' on the same image";
        if (b.wants(SNAPSHOT)) {
            b.add(Figure.ofLatency(SNAPSHOT, Qemu.QCOW2_INTERNAL, p, snap, "qemu-img snapshot -c" + note).against(fsync, "disk.fsync"));
        }
        if (b.wants(REVERT)) {
            b.add(Figure.ofLatency(REVERT, Qemu.QCOW2_INTERNAL, p, revert, "qemu-img snapshot -a (newest)" + note)
                    .against(fsync, "disk.fsync"));
        }
        if (b.wants(DESTROY)) {
            b.add(Figure.ofLatency(DESTROY, Qemu.QCOW2_INTERNAL, with(p, "what", "snapshot"), destroy,
                    "qemu-img snapshot -d" + note).against(fsync, "disk.fsync"));
        }
        b.notes.put("qemu-img process start (" + Bench.mib(size) + " image, " + p.get("snapshots") + " snapshots)",
                String.format("%.1f ms", start));
        return 0;
    }
}
