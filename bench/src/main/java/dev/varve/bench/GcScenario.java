package dev.varve.bench;

import dev.varve.engine.GcReport;
import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.Volume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * What Varve's collector costs; the other designs have no collector (file-per-delta and qcow2
 * give space back when a delta is merged or a cluster discarded), so these figures are Varve's
 * alone, against their ideal.
 *
 * <p>{@code gc.write-amplification}: a store of nominal capacity C (4 MiB segments) holds a
 * volume of F% of C, written end to end, then overwritten by random 64 KiB writes, uniformly or
 * 80/20 (80% of the writes to 20% of the volume). The background collector is paused and the
 * bench calls {@link Store#gcTo(long)} with C minus two segments whenever the store's files
 * exceed C (checked at each flush, every 4 MiB), as a collector under space pressure would.
 * Write amplification = (data written by the user + data the compactor moved) / data written
 * by the user; {@code .all} counts every byte appended instead. After a warm-up of one volume's
 * worth of writes, each of the five repetitions is the next window of writes.
 * {@code gc.write-amplification.model} is {@link GcModel}, an ideal cleaner under the same
 * rules, so Varve's figure can be read against what the shape allows at all.
 *
 * <p>{@code gc.foreground-impact}: random 4 KiB writes (flush every 256) for a fixed time on a
 * store with garbage in it, timed one by one, with nothing else running (idle) and while
 * another thread runs {@link Store#gc(double)} in a loop (compacting); p50 and p99 per
 * repetition, the two phases taking turns. Before each repetition an untimed quarter of the volume is overwritten,
 * so the collector always has garbage to move. {@code gc.foreground-throughput} is how many of
 * those writes each phase completed per second.
 */
final class GcScenario implements Scenario {
    static final String WRITE_AMPLIFICATION = "gc.write-amplification";
    static final String WRITE_AMPLIFICATION_ALL = "gc.write-amplification.all";
    static final String WRITE_AMPLIFICATION_MODEL = "gc.write-amplification.model";
    static final String FOREGROUND_IMPACT = "gc.foreground-impact";
    static final String FOREGROUND_THROUGHPUT = "gc.foreground-throughput";
    private static final int CHUNK = 64 << 10;
    /** The collector issue's write size. */
    private static final int SMALL = 4 << 10;
    /** Small segments, so that a store of a few hundred MiB has dozens of them to choose victims from. */
    private static final long SEGMENT = 4L << 20;

    @Override
    public int weight() {
        return 25;
    }

    @Override
    public List<String> names() {
        return List.of(WRITE_AMPLIFICATION, WRITE_AMPLIFICATION_ALL, WRITE_AMPLIFICATION_MODEL, FOREGROUND_IMPACT,
                FOREGROUND_THROUGHPUT);
    }

    private static StoreOptions options() {
        return StoreOptions.defaults().withSegmentSize(SEGMENT);
    }

    @Override
    public void run(Bench b) throws Exception {
        if (b.wants(WRITE_AMPLIFICATION)) {
            writeAmplification(b);
        }
        if (b.wants(FOREGROUND_IMPACT) || b.wants(FOREGROUND_THROUGHPUT)) {
            if (b.overBudget()) {
                b.budgetSkip(FOREGROUND_IMPACT);
                return;
            }
            foregroundImpact(b);
        }
    }

    // ------------------------------------------------------------------ write amplification

    private void writeAmplification(Bench b) throws IOException {
        long capacity = Long.getLong("varve.bench.gcCapacityMiB", b.quick ? 64 : 256) << 20;
        int[] fills = System.getProperty("varve.bench.gcFill") != null ? new int[] {Integer.getInteger("varve.bench.gcFill")}
                : b.quick ? new int[] {50, 80} : new int[] {50, 70, 80, 90};
        boolean first = true;
        for (boolean skewed : new boolean[] {false, true}) {
            // 64 KiB writes at every fill; 4 KiB writes, as the collector issue words its
            // targets, at 80%, where those targets are
            List<int[]> cases = new java.util.ArrayList<>();
            for (int fill : fills) {
                cases.add(new int[] {fill, CHUNK});
            }
            if (java.util.Arrays.stream(fills).anyMatch(f -> f == 80)) {
                cases.add(new int[] {80, SMALL});
            }
            for (int[] c : cases) {
                String pattern = skewed ? "80/20" : "uniform";
                if (!first && b.overBudget()) {
                    b.budgetSkip(WRITE_AMPLIFICATION + " at " + c[0] + "% " + pattern + ", " + c[1] / 1024 + " KiB writes, and after");
                    return;
                }
                first = false;
                writeAmplification(b, capacity, c[0], skewed, c[1]);
            }
        }
    }

    /** One point: a store filled to {@code fill}% of {@code capacity}, overwritten in {@code unit}-byte writes. */
    private void writeAmplification(Bench b, long capacity, int fill, boolean skewed, int unit) throws IOException {
        String pattern = skewed ? "80/20" : "uniform";
        b.progress(WRITE_AMPLIFICATION + ": " + fill + "% full, " + pattern + ", " + unit / 1024 + " KiB writes");
        ByteBuffer data = Bench.randomData(unit, Bench.SEED + 41);
        Path dir = b.scratch("gc-wa");
        try (Store s = Store.create(dir.resolve("store"), options())) {
            s.pauseCollector();
            long size = capacity * fill / 100 / CHUNK * CHUNK;
            Volume v = s.createVolume("disk", size);
            ByteBuffer fillData = Bench.randomData(CHUNK, Bench.SEED + 41);
            for (long at = 0; at < size; at += CHUNK) {
                v.write(at, fillData.duplicate());
            }
            v.flush();
            // a window long enough to hold several collections: they come in bursts
            long window = b.quick ? size : size / 2;
            Random rnd = new Random(Bench.SEED + 42 + fill);
            long[] peak = {0};
            // warm-up: one volume's worth, so the segments hold a steady mix of ages
            overwrite(s, v, size, size, skewed, rnd, data, capacity, peak);
            double[] wa = new double[Bench.REPS];
            double[] all = new double[Bench.REPS];
            long moved = 0;
            for (int rep = 0; rep < Bench.REPS; rep++) {
                long appended = s.bytesAppended();
                long m = overwrite(s, v, size, window, skewed, rnd, data, capacity, peak);
                moved += m;
                wa[rep] = (window + m) / (double) window;
                all[rep] = (s.bytesAppended() - appended) / (double) window;
            }
            Map<String, Object> p = Bench.params("fill", fill + "%", "pattern", pattern, "write", unit / 1024 + " KiB",
                    "capacity", Bench.mib(capacity), "segment", Bench.mib(SEGMENT), "window", Bench.mib(window));
            Figure varve = b.add(Figure.of(WRITE_AMPLIFICATION, "x", Contender.VARVE, p, wa, false, String.format(
                    "(user data + data the compactor moved) / user data over each window of random %d KiB"
                            + " writes; Store.gcTo(capacity - 2 segments) whenever the files exceed the capacity"
                            + " (background collector paused); %s moved in the measured windows; the files peaked at"
                            + " %.0f%% of the capacity; 1.0 is the ideal", unit / 1024, Bench.mib(moved),
                    100.0 * peak[0] / capacity)));
            b.add(Figure.of(WRITE_AMPLIFICATION_ALL, "x", Contender.VARVE, p, all, false,
                    "every byte appended to the store's segment files (user data, moved data, tree nodes, commit"
                            + " records, intent records, segment headers, fill ahead of the metadata log;"
                            + " Store.bytesAppended) / user data, over the same windows; " + unit / 1024
                            + " KiB writes, a flush every 4 MiB"));
            if (b.wants(WRITE_AMPLIFICATION_MODEL)) {
                model(b, p, varve, capacity, fill, skewed, unit);
            }
        } finally {
            Bench.deleteTree(dir);
        }
    }

    /**
     * The idealised cleaners of {@link GcModel} at the same shape (segments, write size, fill,
     * pattern), one seed per repetition: greedy for both patterns, and for 80/20 also the
     * cleaner told each write's temperature. The notes give Varve's data-only figure over the
     * best of them.
     */
    private static void model(Bench b, Map<String, Object> p, Figure varve, long capacity, int fill, boolean skewed,
                              int unit) {
        int segments = (int) (capacity / SEGMENT);
        int units = (int) (SEGMENT / unit);
        Figure best = null;
        for (GcModel.Policy policy : skewed ? GcModel.Policy.values() : new GcModel.Policy[] {GcModel.Policy.GREEDY}) {
            double[] v = new double[Bench.REPS];
            try {
                for (int rep = 0; rep < Bench.REPS; rep++) {
                    v[rep] = GcModel.writeAmplification(segments, units, fill, skewed, policy, 4, 4, Bench.SEED + 47 + rep);
                }
            } catch (IllegalArgumentException tooFull) {
                b.skip(WRITE_AMPLIFICATION_MODEL + " at " + fill + "% (" + policy.label + ")", tooFull.getMessage());
                continue;
            }
            Map<String, Object> mp = new java.util.LinkedHashMap<>(p);
            mp.remove("window");
            mp.put("cleaner", policy.label);
            Figure f = b.add(Figure.of(WRITE_AMPLIFICATION_MODEL, "x", "model", mp, v, false, String.format(
                    "a simulated cleaner under this bench's rules (capacity %d segments of %d x %d KiB units, %d%%"
                            + " live, cleaned to capacity - 2 segments whenever a 4 MiB check finds it over) with"
                            + " nothing but data written: no metadata, headers or padding; 4 volumes' worth of writes"
                            + " measured after 4 of warm-up, one seed per repetition", segments, units, unit / 1024, fill)));
            best = best == null || f.median() < best.median() ? f : best;
        }
        if (best == null) {
            return;
        }
        b.notes.put(WRITE_AMPLIFICATION + " at " + fill + "% " + (skewed ? "80/20" : "uniform") + ", " + unit / 1024
                        + " KiB writes: varve / best model cleaner (" + best.params().get("cleaner") + ")",
                String.format(java.util.Locale.ROOT, "%.2f / %.2f = %.3fx", varve.median(), best.median(),
                        varve.median() / best.median()));
    }

    /**
     * Overwrites {@code bytes} in random writes of {@code data}'s size, collecting whenever the
     * store's files exceed the capacity; returns the data bytes the compactor moved meanwhile.
     */
    private static long overwrite(Store s, Volume v, long size, long bytes, boolean skewed, Random rnd, ByteBuffer data,
                                  long capacity, long[] peak) throws IOException {
        int unit = data.remaining();
        long units = size / unit;
        long hot = Math.max(1, units / 5);
        long moved = 0;
        for (long done = 0; done < bytes; done += unit) {
            long c = !skewed ? Math.floorMod(rnd.nextLong(), units)
                    : rnd.nextInt(10) < 8 ? Math.floorMod(rnd.nextLong(), hot) : hot + Math.floorMod(rnd.nextLong(), units - hot);
            v.write(c * unit, data.duplicate());
            if ((done + unit) % (4L << 20) == 0) {
                v.flush();
                long onDisk = s.info().bytesOnDisk();
                peak[0] = Math.max(peak[0], onDisk);
                if (onDisk > capacity) {
                    GcReport r = s.gcTo(capacity - 2 * SEGMENT);
                    moved += r.bytesMoved();
                }
            }
        }
        v.flush();
        return moved;
    }

    // ------------------------------------------------------------------ foreground impact

    private void foregroundImpact(Bench b) throws Exception {
        long size = b.quick ? 128L << 20 : 512L << 20;
        long nanos = b.quick ? 1_000_000_000L : 3_000_000_000L;
        ByteBuffer chunk = Bench.randomData(CHUNK, Bench.SEED + 43);
        ByteBuffer block = Bench.randomData(4096, Bench.SEED + 44);
        b.progress(FOREGROUND_IMPACT + ": " + Bench.mib(size) + " volume, " + nanos / 1_000_000_000L + " s of writes per repetition");
        Path dir = b.scratch("gc-impact");
        try (Store s = Store.create(dir.resolve("store"), options())) {
            s.pauseCollector();
            Volume v = s.createVolume("disk", size);
            for (long at = 0; at < size; at += CHUNK) {
                v.write(at, chunk.duplicate());
            }
            v.flush();
            Random rnd = new Random(Bench.SEED + 45);
            overwrite(s, v, size, size, false, rnd, chunk, Long.MAX_VALUE, new long[1]);
            AtomicLong moved = new AtomicLong();
            int[] passes = {0};
            double[][][] stats = new double[2][2][Bench.REPS];
            double[][] rates = new double[2][Bench.REPS];
            for (int rep = -Bench.WARMUPS; rep < Bench.REPS; rep++) {
                for (int phase = 0; phase < 2; phase++) {
                    overwrite(s, v, size, size / 4, false, rnd, chunk, Long.MAX_VALUE, new long[1]);
                    Histogram h = new Histogram(3);
                    AtomicBoolean stop = new AtomicBoolean();
                    Thread gc = null;
                    if (phase == 1) {
                        gc = new Thread(() -> {
                            while (!stop.get()) {
                                try {
                                    moved.addAndGet(s.gc(0.95).bytesMoved());
                                    passes[0]++;
                                } catch (IOException e) {
                                    return;
                                }
                            }
                        }, "bench-gc");
                        gc.start();
                    }
                    try {
                        long t0 = System.nanoTime();
                        long n = timedWrites(v, size, nanos, block, rnd, h);
                        if (rep >= 0) {
                            rates[phase][rep] = n / ((System.nanoTime() - t0) / 1e9);
                        }
                    } finally {
                        stop.set(true);
                        if (gc != null) {
                            gc.join();
                        }
                    }
                    if (rep >= 0) {
                        stats[phase][0][rep] = h.getValueAtPercentile(50) / 1e6;
                        stats[phase][1][rep] = h.getValueAtPercentile(99) / 1e6;
                    }
                }
            }
            String[] stat = {"p50", "p99"};
            for (int k = 0; k < 2; k++) {
                Map<String, Object> idle = Bench.params("volume", Bench.mib(size), "seconds", nanos / 1_000_000_000L,
                        "flushEvery", 256,
                        "stat", stat[k], "phase", "idle");
                Map<String, Object> busy = new java.util.LinkedHashMap<>(idle);
                busy.put("phase", "compacting");
                Figure f = b.add(Figure.of(FOREGROUND_IMPACT, "ms", Contender.VARVE, idle, stats[0][k], false,
                        stat[k] + " latency of one 4 KiB random write (a flush every 256 writes included), collector idle"));
                b.add(Figure.of(FOREGROUND_IMPACT, "ms", Contender.VARVE, busy, stats[1][k], false, stat[k]
                        + " latency of the same writes while another thread runs Store.gc(0.95) in a loop; "
                        + passes[0] + " collections moved " + Bench.mib(moved.get())
                        + " over all compacting repetitions").against(f, "idle"));
            }
            Map<String, Object> idle = Bench.params("volume", Bench.mib(size), "seconds", nanos / 1_000_000_000L,
                    "flushEvery", 256, "phase", "idle");
            Map<String, Object> busy = new java.util.LinkedHashMap<>(idle);
            busy.put("phase", "compacting");
            Figure f = b.add(Figure.of(FOREGROUND_THROUGHPUT, "ops/s", Contender.VARVE, idle, rates[0], true,
                    "random 4 KiB writes per second (a flush every 256), collector idle"));
            b.add(Figure.of(FOREGROUND_THROUGHPUT, "ops/s", Contender.VARVE, busy, rates[1], true,
                    "the same writes per second while another thread runs Store.gc(0.95) in a loop (default duty"
                            + " cycle " + StoreOptions.DEFAULT_GC_DUTY_CYCLE + ")").against(f, "idle"));
        } finally {
            Bench.deleteTree(dir);
        }
    }

    /**
     * Random 4 KiB writes for {@code nanos}, each timed (the flush every 256 writes inside the
     * write it follows); returns how many.
     */
    private static long timedWrites(Volume v, long size, long nanos, ByteBuffer block, Random rnd, Histogram h)
            throws IOException {
        int blocks = (int) (size / 4096);
        long end = System.nanoTime() + nanos;
        long n = 0;
        for (int i = 1; System.nanoTime() < end; i++) {
            long t0 = System.nanoTime();
            v.write((long) rnd.nextInt(blocks) * 4096, block.duplicate());
            if (i % 256 == 0) {
                v.flush();
            }
            h.recordValue(Math.max(1, System.nanoTime() - t0));
            n++;
        }
        v.flush();
        return n;
    }
}
