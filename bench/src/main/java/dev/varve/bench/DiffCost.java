package dev.varve.bench;

import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/**
 * {@code diff.cost}: the time of {@code Store.diff(A, B)} between two snapshots 1 MiB apart
 * (16 random 64 KiB writes), on a volume with W of data written at random 64 KiB-aligned
 * offsets before A, for a small and a large W. Issue 9: the cost follows the change, so
 * large ÷ small should be at most 1.5×. Warm (node cache filled by a warm-up) and cold (store
 * reopened, its files dropped from the page cache). The small store is kept while the larger
 * ones are measured, and each large store's cold diffs take turns with the small one's, so
 * the cold ratio compares reads made seconds apart on the same disk, not minutes.
 */
final class DiffCost implements Scenario {
    static final String NAME = "diff.cost";
    private static final int MIB = 1 << 20;
    private static final int CHUNK = 64 << 10;

    @Override
    public List<String> names() {
        return List.of(NAME);
    }

    @Override
    public int weight() {
        return 6;
    }

    /** Warm diffs run before the timed ones. */
    private static final int WARM_WARMUPS = 500;

    /** Cold diffs of the small store and a large one, taken in turns. */
    private static final int COLD_TURNS = 11;

    @Override
    public void run(Bench b) throws Exception {
        // the point is 64 GiB written against 1 GiB; 8 GiB shows the shape between
        long[] sizes = b.quick ? new long[] {256L << 20, 1L << 30} : new long[] {1L << 30, 8L << 30, 64L << 30};
        Figure smallWarm = null;
        Path smallDir = null;
        ByteBuffer data = Bench.randomData(MIB, Bench.SEED + 9);
        try {
            for (long w : sizes) {
                if (w > sizes[0] && b.overBudget()) {
                    b.budgetSkip(NAME + " from " + Bench.mib(w) + " written on");
                    break;
                }
                Path probe = b.scratch("diff-probe");
                long free = Files.getFileStore(probe).getUsableSpace();
                Bench.deleteTree(probe);
                if (free < w + w / 16) {
                    b.skip(NAME + " at " + Bench.mib(w) + " written", "the scratch disk has " + Bench.mib(free)
                            + " free; this point needs about " + Bench.mib(w + w / 16));
                    break;
                }
                Path dir = b.scratch("diff-" + (w >> 20));
                build(b, dir, w, data);
                Map<String, Object> p = Bench.params("written", Bench.mib(w), "volume", Bench.mib(2 * w), "change",
                        "16 x 64 KiB");
                double[] warm = new double[Bench.REPS];
                long ranges = 0;
                try (Store s = Store.open(dir)) {
                    // a warm diff takes tens of microseconds: enough of them first that the JIT has
                    // compiled the walk, or the first store measured pays for it
                    for (int rep = -WARM_WARMUPS; rep < Bench.REPS; rep++) {
                        long t = System.nanoTime();
                        ranges = s.diff("v@A", "v@B").size();
                        double ms = (System.nanoTime() - t) / 1e6;
                        if (rep >= 0) {
                            warm[rep] = ms;
                        }
                    }
                }
                String note = "Store.diff(v@A, v@B), " + ranges + " ranges; W written as 1 MiB writes at random 64 KiB-aligned offsets";
                Figure fw = Figure.of(NAME, "ms", Contender.VARVE, with(p, "cache", "warm"), warm, false, note);
                if (smallDir == null) {
                    smallDir = dir;
                    smallWarm = b.add(fw);
                    double[] cold = new double[COLD_TURNS];
                    for (int rep = 0; rep < COLD_TURNS; rep++) {
                        cold[rep] = coldDiff(b, dir);
                    }
                    b.add(Figure.of(NAME, "ms", Contender.VARVE, with(p, "cache", "cold (reopened, files evicted)"), cold,
                            false, note + "; " + coldReads.get(dir) + " tree-node reads (I/Os) a cold diff"));
                    continue;
                }
                String base = NAME + " at " + Bench.mib(sizes[0]) + " written (issue 9 target <= 1.5x)";
                b.add(fw.against(smallWarm, base));
                // cold reads swing with the disk from one minute to the next: the small store is
                // read again in turns with this one, and the ratio is taken between those turns
                double[] small = new double[COLD_TURNS];
                double[] large = new double[COLD_TURNS];
                for (int rep = 0; rep < COLD_TURNS; rep++) {
                    boolean smallFirst = (rep & 1) == 0;
                    if (smallFirst) {
                        small[rep] = coldDiff(b, smallDir);
                    }
                    large[rep] = coldDiff(b, dir);
                    if (!smallFirst) {
                        small[rep] = coldDiff(b, smallDir);
                    }
                }
                String turns = "cold (reopened, files evicted), in turns with " + Bench.mib(w) + " written";
                Map<String, Object> sp = Bench.params("written", Bench.mib(sizes[0]), "volume", Bench.mib(2 * sizes[0]),
                        "change", "16 x 64 KiB", "cache", turns);
                Figure pairedSmall = b.add(Figure.of(NAME, "ms", Contender.VARVE, sp, small, false,
                        "the small store's cold diff, timed in turns with the large one's"));
                b.add(Figure.of(NAME, "ms", Contender.VARVE, with(p, "cache", turns), large, false,
                        note + "; " + coldReads.get(dir) + " tree-node reads (I/Os) a cold diff, against "
                                + coldReads.get(smallDir) + " at " + Bench.mib(sizes[0]))
                        .against(pairedSmall, base + ", timed in the same turns"));
                b.notes.put(NAME + " cold, tree-node reads (I/Os) of one diff", coldReads.get(smallDir) + " at "
                        + Bench.mib(sizes[0]) + " written, " + coldReads.get(dir) + " at " + Bench.mib(w));
                Bench.deleteTree(dir);
            }
        } finally {
            if (smallDir != null) {
                Bench.deleteTree(smallDir);
            }
        }
    }

    private static Map<String, Object> with(Map<String, Object> p, String key, Object value) {
        Map<String, Object> m = new java.util.LinkedHashMap<>(p);
        m.put(key, value);
        return m;
    }

    /**
     * A store of {@code w} written as 1 MiB writes at random 64 KiB-aligned places in a volume of
     * twice that, snapshot A, 16 random 64 KiB writes, snapshot B.
     */
    private static void build(Bench b, Path dir, long w, ByteBuffer data) throws java.io.IOException {
        long volSize = 2 * w;
        long t0 = System.nanoTime();
        try (Store s = Store.create(dir)) {
            Volume v = s.createVolume("v", volSize);
            Random r = new Random(Bench.SEED + w);
            long slots = (volSize - MIB) / CHUNK;
            for (long i = 0; i < w / MIB; i++) {
                long off = (long) (r.nextDouble() * slots) * CHUNK;
                v.write(off, data.duplicate());
            }
            v.flush();
            s.snapshot("v", "A", Map.of());
            ByteBuffer small = data.duplicate().limit(CHUNK);
            long chunks = volSize / CHUNK;
            for (int i = 0; i < 16; i++) {
                v.write((long) (r.nextDouble() * chunks) * CHUNK, small.duplicate());
            }
            v.flush();
            s.snapshot("v", "B", Map.of());
        }
        b.progress(String.format("diff.cost: wrote %s in %.1f s", Bench.mib(w), (System.nanoTime() - t0) / 1e9));
    }

    /** One diff of a store reopened with its files out of the page cache, in milliseconds. */
    private double coldDiff(Bench b, Path dir) throws java.io.IOException {
        List<Path> files;
        try (Stream<Path> st = Files.walk(dir)) {
            files = new ArrayList<>(st.filter(Files::isRegularFile).toList());
        }
        b.evict(files);
        try (Store s = Store.open(dir)) {
            long reads = s.nodeReads();
            long t = System.nanoTime();
            s.diff("v@A", "v@B");
            double ms = (System.nanoTime() - t) / 1e6;
            coldReads.merge(dir, s.nodeReads() - reads, Math::max);
            return ms;
        }
    }

    /** The most tree-node reads (I/Os) a cold diff of each store made: the shape behind the time. */
    private final Map<Path, Long> coldReads = new java.util.HashMap<>();
}
