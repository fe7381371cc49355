package dev.varve.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.HdrHistogram.Histogram;

/**
 * Latency of snapshot, revert, clone and destroy, against the volume's size (thin, 1 GiB to
 * 1 TiB, the same data written across it) and against how many snapshots it already has.
 * Every operation is timed to its durable return. Before each snapshot and revert one 4 KiB
 * block is written (untimed), so there is always something to freeze or drop. The baseline is
 * {@code disk.fsync}: no durable operation can beat one write and force.
 */
final class OpLatency implements Scenario {
    static final String SNAPSHOT = "snapshot.latency";
    static final String REVERT = "revert.latency";
    static final String CLONE = "clone.latency";
    static final String DESTROY = "destroy.latency";
    private static final int BLOCK = 4096;
    private static final int CHUNK = 64 << 10;
    private static final int WARM = 3;

    @Override
    public int weight() {
        return 35;
    }

    @Override
    public List<String> names() {
        return List.of(SNAPSHOT, REVERT, CLONE, DESTROY);
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
     * warms up.
     */
    private void measure(Bench b, List<Case> cs, Figure fsync, String tag) throws IOException {
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
        for (int k = 0; k < cs.size(); k++) {
            String kind = cs.get(k).c().name();
            Map<String, Object> p = cs.get(k).params();
            Times t = times.get(k);
            if (b.wants(SNAPSHOT)) {
                b.add(Figure.ofLatency(SNAPSHOT, kind, p, t.snap, "snapshot of the volume, one block written before each (untimed)")
                        .against(fsync, "disk.fsync"));
            }
            if (b.wants(REVERT)) {
                b.add(Figure.ofLatency(REVERT, kind, p, t.revert,
                        "revert to the newest snapshot, one block written before each (untimed)").against(fsync, "disk.fsync"));
            }
            if (b.wants(CLONE)) {
                b.add(Figure.ofLatency(CLONE, kind, p, t.clone, "clone of the newest snapshot into a new writable volume")
                        .against(fsync, "disk.fsync"));
            }
            if (b.wants(DESTROY)) {
                b.add(Figure.ofLatency(DESTROY, kind, with(p, "what", "snapshot"), t.destroySnap,
                        "destroy a snapshot with one block written on each side of it (file-per-delta merges one block)")
                        .against(fsync, "disk.fsync"));
                b.add(Figure.ofLatency(DESTROY, kind, with(p, "what", "clone"), t.destroyClone,
                        "destroy a clone that was never written").against(fsync, "disk.fsync"));
            }
        }
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
