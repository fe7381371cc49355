package dev.varve.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/**
 * One run of the bench: its options, its scratch directory, the figures measured so far and
 * the helpers every scenario uses (repetition counts, page-cache eviction, heap measurement).
 */
final class Bench {
    /** Measured repetitions after the warm-up, for every figure. */
    static final int REPS = 5;
    static final int WARMUPS = 1;
    static final long SEED = 0x5EED_0008L;

    final boolean quick;
    final List<String> only;
    final Path out;
    final Path work;
    final PrintStream log;
    final long started = System.nanoTime();
    final List<Figure> figures = new ArrayList<>();
    final Map<String, String> skipped = new LinkedHashMap<>();
    final Map<String, String> notes = new LinkedHashMap<>();
    final List<String> charts = new ArrayList<>();
    final boolean qemu;
    final String loadAtStart = Machine.loadAverage();
    final boolean canEvict;

    Figure diskWrite;
    Figure diskRead;

    /** When the whole run must be done: --quick promises three minutes, the full run forty. */
    final long runDeadline;
    /** When the running scenario should stop starting new steps (set by the runner). */
    long scenarioDeadline = Long.MAX_VALUE;

    Bench(boolean quick, List<String> only, Path out, Path work, PrintStream log) {
        this.quick = quick;
        this.only = List.copyOf(only);
        this.out = out;
        this.work = work;
        this.log = log;
        this.qemu = Qemu.available();
        this.canEvict = probeEvict();
        this.runDeadline = started + (quick ? 150L : 38L * 60) * 1_000_000_000L;
    }

    /** True once the running scenario has used its share of the run's time. */
    boolean overBudget() {
        return System.nanoTime() > scenarioDeadline;
    }

    /**
     * Records that {@code what} was not measured because the run's time budget ran out (on a
     * loaded machine every step takes longer; the budget keeps --quick within its promise).
     */
    void budgetSkip(String what) {
        skip(what, "time budget: this run had used the share of its " + (quick ? "3-minute" : "40-minute")
                + " budget given to the scenario (load average " + Machine.loadAverage() + ")");
    }

    /**
     * True when {@code --only} selects this figure name: no {@code --only}, the exact name, a
     * dotted prefix of it ({@code read4k} selects {@code read4k.depth.10}), or a glob ending
     * in {@code *}.
     */
    boolean wants(String name) {
        if (only.isEmpty()) {
            return true;
        }
        for (String o : only) {
            if (o.equals(name) || name.startsWith(o + ".")
                    || (o.endsWith("*") && name.startsWith(o.substring(0, o.length() - 1)))) {
                return true;
            }
        }
        return false;
    }

    Figure add(Figure f) {
        figures.add(f);
        log.printf(Locale.ROOT, "  %-26s %-15s %-40s %12s %s%s%n", f.name(), f.contender(), f.params(), fmt(f.median()),
                f.unit(), f.ratio() == null ? "" : String.format(Locale.ROOT, "  (%.3gx %s)", f.ratio(), f.baseline()));
        return f;
    }

    /** The first figure measured under {@code name} (the baselines: disk.fsync, ...), or null. */
    Figure find(String name) {
        for (Figure f : figures) {
            if (f.name().equals(name)) {
                return f;
            }
        }
        return null;
    }

    void skip(String name, String why) {
        skipped.put(name, why);
        log.println("  skipped " + name + ": " + why);
    }

    void progress(String what) {
        log.printf(Locale.ROOT, "[%6.1fs] %s%n", (System.nanoTime() - started) / 1e9, what);
    }

    double elapsedSeconds() {
        return (System.nanoTime() - started) / 1e9;
    }

    /** A fresh, empty scratch directory. */
    Path scratch(String name) throws IOException {
        Path p = work.resolve(name);
        deleteTree(p);
        Files.createDirectories(p);
        return p;
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }

    /**
     * Deletes {@code p} and forces its parent directory, so the file system commits the delete
     * now, untimed, instead of inside whichever contender's next fsync comes first.
     */
    static void deleteDurably(Path p) throws IOException {
        deleteTree(p);
        try (java.nio.channels.FileChannel d = java.nio.channels.FileChannel.open(p.getParent(),
                java.nio.file.StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    /** {@code bytes} of seeded random data in a direct buffer (incompressible, the same every run). */
    static ByteBuffer randomData(int bytes, long seed) {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        ByteBuffer d = ByteBuffer.allocateDirect(bytes);
        d.put(b).flip();
        return d;
    }

    // ------------------------------------------------------------------ repetitions

    /** One timed repetition on one contender; returns the figure's value for it. */
    @FunctionalInterface
    interface Rep<T> {
        double run(T contender, int rep) throws Exception;
    }

    /**
     * Runs {@code warmups} untimed and {@link #REPS} timed repetitions, every contender in turn
     * inside each repetition, so that all of them see the same background load on a shared
     * machine. Returns the values by contender, then repetition.
     */
    static <T> double[][] interleaved(List<T> contenders, int warmups, Rep<T> r) throws Exception {
        double[][] v = new double[contenders.size()][REPS];
        for (int rep = -warmups; rep < REPS; rep++) {
            for (int i = 0; i < contenders.size(); i++) {
                double x = r.run(contenders.get(i), rep);
                if (rep >= 0) {
                    v[i][rep] = x;
                }
            }
        }
        return v;
    }

    // ------------------------------------------------------------------ page cache

    private boolean probeEvict() {
        try {
            Path probe = Files.createTempFile(work, "evict", ".probe");
            Files.write(probe, new byte[4096]);
            boolean ok = evictOne(probe);
            Files.deleteIfExists(probe);
            return ok;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Drops these files' clean pages from the page cache ({@code dd iflag=nocache} calls
     * posix_fadvise DONTNEED), so a read after it comes from the disk. Per file, so other
     * users of the machine keep their cache.
     */
    void evict(List<Path> files) throws IOException {
        if (!canEvict) {
            return;
        }
        for (Path f : files) {
            evictOne(f);
        }
    }

    private static boolean evictOne(Path f) {
        try {
            Process p = new ProcessBuilder("dd", "if=" + f, "iflag=nocache", "count=0", "status=none")
                    .redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    // ------------------------------------------------------------------ heap

    private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

    /** Heap in use after full collections have settled (the live set, give or take a few KiB). */
    static long settledHeap() {
        long last = Long.MAX_VALUE;
        for (int i = 0; i < 6; i++) {
            System.gc();
            long used = MEMORY.getHeapMemoryUsage().getUsed();
            if (Math.abs(used - last) < (64 << 10)) {
                return used;
            }
            last = used;
        }
        return last;
    }

    static String fmt(double v) {
        double a = Math.abs(v);
        if (a >= 1000) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        if (a >= 100) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (a >= 10) {
            return String.format(Locale.ROOT, "%.1f", v);
        }
        if (a >= 1) {
            return String.format(Locale.ROOT, "%.2f", v);
        }
        return String.format(Locale.ROOT, "%.3g", v);
    }

    static Map<String, Object> params(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    /** Parses what {@link #mib} prints ("512 MiB", "1 GiB", "1 TiB"). */
    static long parseBytes(String s) {
        String[] parts = s.trim().split(" ");
        long n = Long.parseLong(parts[0]);
        return switch (parts.length > 1 ? parts[1] : "B") {
            case "KiB" -> n << 10;
            case "MiB" -> n << 20;
            case "GiB" -> n << 30;
            case "TiB" -> n << 40;
            default -> n;
        };
    }

    static String mib(long bytes) {
        if (bytes >= (1L << 40) && bytes % (1L << 40) == 0) {
            return (bytes >> 40) + " TiB";
        }
        if (bytes >= (1L << 30) && bytes % (1L << 30) == 0) {
            return (bytes >> 30) + " GiB";
        }
        return (bytes >> 20) + " MiB";
    }
}
