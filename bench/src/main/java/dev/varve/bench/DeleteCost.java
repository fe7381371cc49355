package dev.varve.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What deleting a snapshot costs when it holds N MiB. Every contender gets the same history:
 * snapshot {@code s0} of an empty disk, N MiB written (region A), snapshot {@code s1}, N MiB
 * more written elsewhere (region B), flushed. Then {@code s1} is deleted and the deletion is
 * timed to its durable return. Varve drops a catalog entry (the space comes back later through
 * the collector, so that deferred cost is not in this figure but in {@code gc.write-amplification});
 * file-per-delta must merge s1's delta with its neighbour, and either direction moves N MiB;
 * qcow2 with an external chain runs {@code qemu-img commit} of the head overlay into s1's image
 * (N MiB); qcow2 internal snapshots drop s1's refcounts ({@code qemu-img snapshot -d}).
 */
final class DeleteCost implements Scenario {
    static final String NAME = "delete.snapshot.cost";
    private static final int MIB = 1 << 20;

    @Override
    public int weight() {
        return 12;
    }

    @Override
    public List<String> names() {
        return List.of(NAME);
    }

    @Override
    public void run(Bench b) throws Exception {
        long[] sizes = b.quick ? new long[] {8L << 20, 32L << 20} : new long[] {16L << 20, 64L << 20, 256L << 20, 1024L << 20};
        ByteBuffer data = Bench.randomData(MIB, Bench.SEED + 21);
        boolean first = true;
        for (long n : sizes) {
            long volume = Math.max(1L << 30, 4 * n); // room for the two regions of N
            if (!first && b.overBudget()) {
                b.budgetSkip(NAME + " from " + Bench.mib(n) + " on");
                break;
            }
            b.progress(NAME + ": snapshot holding " + Bench.mib(n));
            Map<String, Object> p = Bench.params("snapshotHolds", Bench.mib(n), "volume", Bench.mib(volume));
            List<String> sides = new ArrayList<>(List.of(Contender.VARVE, Contender.FILE_PER_DELTA));
            if (b.qemu) {
                sides.add(Qemu.QCOW2);
                sides.add(Qemu.QCOW2_INTERNAL);
            }
            // the contenders take turns within each repetition; only the first size warms up
            double[][] ms = Bench.interleaved(sides, first ? 2 : 0, (side, rep) -> switch (side) {
                case Qemu.QCOW2 -> qcow2External(b, n, volume);
                case Qemu.QCOW2_INTERNAL -> qcow2Internal(b, n, volume);
                default -> javaRep(b, side, n, volume, data);
            });
            Figure varve = null;
            for (int i = 0; i < sides.size(); i++) {
                Figure f = Figure.of(NAME, "ms", sides.get(i), p, ms[i], false, note(sides.get(i), n));
                if (i == 0) {
                    varve = b.add(f.against(b.find(DiskBaseline.FSYNC), "disk.fsync"));
                } else {
                    b.add(f.against(varve, "varve"));
                }
            }
            first = false;
        }
    }

    private static String note(String side, long n) {
        return switch (side) {
            case Contender.VARVE -> "destroySnapshot(s1) to its durable return; the blocks only s1 held come back later through"
                    + " the collector, whose cost is in gc.write-amplification, not here";
            case Contender.FILE_PER_DELTA -> "deleteSnapshot(s1): merge of s1's delta with its child (cheaper direction; both"
                    + " hold " + Bench.mib(n) + "), data and table forced";
            case Qemu.QCOW2 -> "chain s0 <- s1 (" + Bench.mib(n) + ") <- head (" + Bench.mib(n) + "); qemu-img commit of the head"
                    + " into s1's image (s1's content is gone, the head reads the same); includes qemu-img process start";
            default -> "one image with internal snapshots s0, s1; qemu-img snapshot -d s1 (refcount updates, no data copied);"
                    + " includes qemu-img process start";
        };
    }

    private static double javaRep(Bench b, String kind, long n, long volume, ByteBuffer data) throws IOException {
        Path dir = b.scratch("del-" + kind);
        try (Contender c = Contender.create(kind, dir.resolve("d"), volume)) {
            c.snapshot("s0");
            writeRegion(c, 0, n, data);
            c.snapshot("s1");
            writeRegion(c, volume / 2, n, data);
            c.flush();
            long t0 = System.nanoTime();
            c.deleteSnapshot("s1");
            return (System.nanoTime() - t0) / 1e6;
        } finally {
            Bench.deleteTree(dir);
        }
    }

    private static void writeRegion(BlockIo c, long at, long n, ByteBuffer data) throws IOException {
        for (long off = 0; off < n; off += MIB) {
            c.write(at + off, data.duplicate());
        }
    }

    private static List<String> region(long at, long n, int pattern) {
        List<String> cmds = new ArrayList<>();
        for (long off = 0; off < n; off += 64L << 20) {
            cmds.add("write -P 0x" + Integer.toHexString(pattern) + " " + (at + off) + " " + Math.min(64L << 20, n - off));
        }
        return cmds;
    }

    private static double qcow2External(Bench b, long n, long volume) throws IOException {
        Path dir = b.scratch("del-qcow2");
        try {
            Path s0 = dir.resolve("s0.qcow2");
            Path s1 = dir.resolve("s1.qcow2");
            Path head = dir.resolve("head.qcow2");
            Qemu.create(s0, volume);
            Qemu.createOverlay(s1, s0, volume);
            Qemu.io(s1, false, region(0, n, 0x61));
            Qemu.createOverlay(head, s1, volume);
            Qemu.io(head, false, region(volume / 2, n, 0x62));
            return Qemu.timed(Qemu.commit(head)) / 1e6;
        } finally {
            Bench.deleteTree(dir);
        }
    }

    private static double qcow2Internal(Bench b, long n, long volume) throws IOException {
        Path dir = b.scratch("del-qcow2i");
        try {
            Path img = dir.resolve("disk.qcow2");
            Qemu.create(img, volume);
            Qemu.run(Qemu.snapshotCreate(img, "s0"));
            Qemu.io(img, false, region(0, n, 0x61));
            Qemu.run(Qemu.snapshotCreate(img, "s1"));
            Qemu.io(img, false, region(volume / 2, n, 0x62));
            return Qemu.timed(Qemu.snapshotDelete(img, "s1")) / 1e6;
        } finally {
            Bench.deleteTree(dir);
        }
    }
}
