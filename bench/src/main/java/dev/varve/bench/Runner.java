package dev.varve.bench;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The comparison runner behind {@code varve bench}: every contender on the same disk in one
 * run, reported as medians with spread and as ratios to baselines measured in the same run.
 *
 * <pre>
 * varve bench [--quick] [--only NAME...] [--out DIR] [--work DIR]
 *   --quick        smaller sizes and counts; finishes in about three minutes
 *   --only NAME..  only these figures (exact name, dotted prefix such as read4k, or glob with *);
 *                  the disk baseline always runs
 *   --out DIR      results.json, report.md and the SVG charts (default bench-results/TIMESTAMP)
 *   --work DIR     scratch space for the disks under test (default DIR/work, removed at the end)
 * </pre>
 */
public final class Runner {
    private Runner() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out));
    }

    private static void usage(PrintStream out) {
        out.println("usage: varve bench [--quick] [--only NAME...] [--out DIR] [--work DIR]");
        out.println("  figures: " + String.join(" ", allNames()));
    }

    static List<Scenario> scenarios() {
        return List.of(new DiskBaseline(), new DepthScenario(), new OpLatency(), new DeleteCost(), new IoScenarios(),
                new Recovery(), new GcScenario(), new DiffCost(), new SendScenario(), new NbdScenario(), new MetaFillScenario());
    }

    static List<String> allNames() {
        List<String> n = new ArrayList<>();
        for (Scenario s : scenarios()) {
            n.addAll(s.names());
        }
        return n;
    }

    /** Runs the bench; returns 0 when results were written, 2 for a usage error, 1 otherwise. */
    public static int run(String[] args, PrintStream out) {
        boolean quick = false;
        List<String> only = new ArrayList<>();
        Path outDir = null;
        Path workDir = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--only" -> {
                    while (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                        only.add(args[++i]);
                    }
                    if (only.isEmpty()) {
                        out.println("--only needs at least one figure name");
                        usage(out);
                        return 2;
                    }
                }
                case "--out" -> {
                    if (++i >= args.length) {
                        usage(out);
                        return 2;
                    }
                    outDir = Path.of(args[i]);
                }
                case "--work" -> {
                    if (++i >= args.length) {
                        usage(out);
                        return 2;
                    }
                    workDir = Path.of(args[i]);
                }
                case "-h", "--help" -> {
                    usage(out);
                    return 0;
                }
                default -> {
                    out.println("unknown option '" + args[i] + "'");
                    usage(out);
                    return 2;
                }
            }
        }
        for (String o : only) {
            boolean known = false;
            for (String n : allNames()) {
                known |= o.equals(n) || n.startsWith(o + ".") || (o.endsWith("*") && n.startsWith(o.substring(0, o.length() - 1)));
            }
            if (!known) {
                out.println("--only " + o + " matches no figure");
                usage(out);
                return 2;
            }
        }
        if (outDir == null) {
            outDir = Path.of("bench-results", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }
        boolean ownWork = workDir == null;
        if (workDir == null) {
            workDir = outDir.resolve("work");
        }
        StringBuilder command = new StringBuilder("varve bench");
        for (String a : args) {
            command.append(' ').append(a);
        }
        String date = ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME);
        try {
            Files.createDirectories(outDir);
            Files.createDirectories(workDir);
            Bench b = new Bench(quick, only, outDir, workDir, out);
            out.println("varve bench (" + (quick ? "quick" : "full") + ") -> " + outDir.toAbsolutePath());
            for (var e : Machine.describe(workDir).entrySet()) {
                out.println("  " + e.getKey() + ": " + e.getValue());
            }
            if (!b.qemu) {
                b.skip("qcow2", "qemu-img / qemu-io are not installed (Debian: apt-get install qemu-utils)");
            }
            if (!b.canEvict) {
                b.notes.put("page cache", "could not be dropped (dd iflag=nocache failed): cold reads are cached reads");
            }
            List<Scenario> chosen = new ArrayList<>();
            for (Scenario s : scenarios()) {
                if (s instanceof DiskBaseline || s.names().stream().anyMatch(b::wants)) {
                    chosen.add(s);
                }
            }
            int weights = 0;
            for (Scenario s : chosen) {
                weights += s.weight();
            }
            for (Scenario s : chosen) {
                long now = System.nanoTime();
                // each scenario gets its weight's share of what is left, so time one leaves unused flows on
                b.scenarioDeadline = now + Math.max(0, b.runDeadline - now) / weights * s.weight();
                weights -= s.weight();
                if (now > b.runDeadline && !(s instanceof DiskBaseline)) {
                    List<String> names = new ArrayList<>(s.names());
                    names.removeIf(n -> !b.wants(n));
                    b.budgetSkip(String.join(", ", names));
                    continue;
                }
                b.progress("scenario " + String.join(", ", s.names()));
                try {
                    s.run(b);
                } catch (Exception | OutOfMemoryError e) {
                    Set<String> names = new LinkedHashSet<>(s.names());
                    names.removeIf(n -> !b.wants(n));
                    b.skip(String.join(", ", names), "failed: " + e);
                    e.printStackTrace(out);
                }
            }
            try {
                Charts.write(b);
            } catch (Exception | LinkageError e) {
                b.notes.put("charts", "could not be drawn: " + e);
                e.printStackTrace(out);
            }
            Map<String, Object> header = ReportWriter.header(b, command.toString(), date);
            ReportWriter.json(b, header);
            ReportWriter.markdown(b, header);
            if (ownWork) {
                Bench.deleteTree(workDir);
            }
            b.progress("done: " + outDir.resolve("report.md") + ", " + outDir.resolve("results.json") + ", "
                    + b.charts.size() + " charts");
            return 0;
        } catch (Exception e) {
            out.println("bench failed: " + e);
            e.printStackTrace(out);
            return 1;
        }
    }
}
