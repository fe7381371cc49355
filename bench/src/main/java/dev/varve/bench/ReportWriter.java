package dev.varve.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes a run's results.json (every figure, for machines) and report.md (for people). */
final class ReportWriter {
    private ReportWriter() {
    }

    static Map<String, Object> header(Bench b, String command, String date) {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("command", command);
        h.put("date", date);
        h.put("mode", b.quick ? "quick" : "full");
        h.put("durationSeconds", Math.round(b.elapsedSeconds()));
        h.put("machine", Machine.describe(b.work));
        h.put("pageCacheDropped", b.canEvict);
        h.put("loadAverageAtStart", b.loadAtStart);
        h.put("loadAverageAtEnd", Machine.loadAverage());
        return h;
    }

    static void json(Bench b, Map<String, Object> header) throws IOException {
        Map<String, Object> doc = new LinkedHashMap<>(header);
        doc.put("figures", b.figures);
        doc.put("notMeasured", b.skipped);
        doc.put("notes", b.notes);
        doc.put("charts", b.charts);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(b.out.resolve("results.json").toFile(), doc);
    }

    static void markdown(Bench b, Map<String, Object> header) throws IOException {
        StringBuilder s = new StringBuilder();
        s.append("# Varve bench report\n\n");
        s.append("Command: `").append(header.get("command")).append("` (dev.varve.bench.Runner; the same arguments work with"
                + " `java -jar bench/target/benchmarks.jar`)  \n");
        s.append("Date: ").append(header.get("date")).append("  \n");
        s.append("Mode: ").append(header.get("mode")).append(", ").append(header.get("durationSeconds")).append(" s  \n");
        s.append("Load average (1/5/15 min) at start: ").append(header.get("loadAverageAtStart")).append(", at end: ")
                .append(header.get("loadAverageAtEnd"))
                .append(" (on a shared machine, other work skews the figures; ratios within one run are the robust part)\n\n");
        s.append("## Machine\n\n| | |\n|---|---|\n");
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) header.get("machine");
        for (var e : m.entrySet()) {
            s.append("| ").append(e.getKey()).append(" | ").append(e.getValue()).append(" |\n");
        }
        s.append("\n## Disk, measured at the start of this run\n\n");
        for (String n : List.of(DiskBaseline.WRITE, DiskBaseline.READ, DiskBaseline.FSYNC)) {
            Figure f = b.find(n);
            if (f != null) {
                s.append("* `").append(n).append("`: **").append(Bench.fmt(f.median())).append(' ').append(f.unit())
                        .append("** (p10 ").append(Bench.fmt(f.p10())).append(", p90 ").append(Bench.fmt(f.p90()))
                        .append("), ").append(f.note()).append('\n');
            }
        }
        s.append(b.canEvict ? "\nCold reads drop the page cache of the files read (`dd iflag=nocache`) before each repetition.\n"
                : "\n**The page cache could not be dropped on this machine: every read below is a cached read.**\n");
        s.append("\n## Where Varve loses\n\n");
        s.append("Generated from the figures below: every case where Varve's median is more than 5% worse than another"
                + " contender's under the same name and parameters. \"Clearly\" means the two p10–p90 ranges do not"
                + " overlap; the others are within this run's noise but still listed.\n\n");
        List<String> clear = losses(b, false, true);
        List<String> noisy = losses(b, false, false);
        if (clear.isEmpty() && noisy.isEmpty()) {
            s.append("Nowhere against another snapshotting design, in this run.\n");
        }
        if (!clear.isEmpty()) {
            s.append("Varve clearly loses:\n\n");
            for (String l : clear) {
                s.append("* ").append(l).append('\n');
            }
        }
        if (!noisy.isEmpty()) {
            s.append("\nVarve's median is behind, but the spreads overlap:\n\n");
            for (String l : noisy) {
                s.append("* ").append(l).append('\n');
            }
        }
        List<String> ceiling = losses(b, true, true);
        ceiling.addAll(losses(b, true, false));
        if (!ceiling.isEmpty()) {
            s.append("\nAgainst the raw preallocated file (no snapshots, no map: the ceiling):\n\n");
            for (String l : ceiling) {
                s.append("* ").append(l).append('\n');
            }
        }
        s.append("\n## Figures\n\nMedian over the repetitions (5 after a warm-up, unless `n` says otherwise; latencies: every"
                + " operation recorded in an HdrHistogram), with p10–p90 and min–max. The ratio divides the median by the"
                + " baseline's median.\n");
        List<String> order = new ArrayList<>();
        for (Figure f : b.figures) {
            if (!order.contains(groupOf(f.name()))) {
                order.add(groupOf(f.name()));
            }
        }
        List<Figure> sorted = new ArrayList<>(b.figures);
        sorted.sort((x, y) -> Integer.compare(order.indexOf(groupOf(x.name())), order.indexOf(groupOf(y.name()))));
        String current = null;
        for (Figure f : sorted) {
            String group = groupOf(f.name());
            if (!group.equals(current)) {
                current = group;
                s.append("\n### ").append(group).append("\n\n");
                s.append("| figure | contender | parameters | median | p10–p90 | min–max | n | ratio |\n");
                s.append("|---|---|---|---:|---|---|---:|---|\n");
            }
            s.append("| `").append(f.name()).append("` | ").append(f.contender()).append(" | ").append(params(f.params()))
                    .append(" | **").append(Bench.fmt(f.median())).append("** ").append(f.unit()).append(" | ")
                    .append(Bench.fmt(f.p10())).append("–").append(Bench.fmt(f.p90())).append(" | ")
                    .append(Bench.fmt(f.min())).append("–").append(Bench.fmt(f.max())).append(" | ").append(f.samples())
                    .append(" | ").append(f.ratio() == null ? "" : String.format(Locale.ROOT, "%.3g× %s", f.ratio(), f.baseline()))
                    .append(" |\n");
        }
        if (!b.charts.isEmpty()) {
            s.append("\n## Charts\n\n");
            for (String c : b.charts) {
                s.append("![").append(c).append("](").append(c).append(")\n\n");
            }
        }
        if (!b.skipped.isEmpty()) {
            s.append("## Not measured\n\n");
            for (var e : b.skipped.entrySet()) {
                s.append("* `").append(e.getKey()).append("`: ").append(e.getValue()).append('\n');
            }
        }
        if (!b.notes.isEmpty()) {
            s.append("\n## Notes\n\n");
            for (var e : b.notes.entrySet()) {
                s.append("* ").append(e.getKey()).append(": ").append(e.getValue()).append('\n');
            }
        }
        s.append("\n## What each figure timed\n\n");
        Map<String, String> seen = new LinkedHashMap<>();
        for (Figure f : b.figures) {
            seen.putIfAbsent(f.name() + " / " + f.contender(), f.note());
        }
        for (var e : seen.entrySet()) {
            s.append("* `").append(e.getKey()).append("`: ").append(e.getValue()).append('\n');
        }
        Files.writeString(b.out.resolve("report.md"), s.toString(), StandardCharsets.UTF_8);
    }

    private static String groupOf(String name) {
        if (name.startsWith("read4k.")) {
            return "read4k.depth";
        }
        if (name.startsWith("disk.")) {
            return "disk";
        }
        return name;
    }

    static String params(Map<String, Object> p) {
        List<String> out = new ArrayList<>();
        for (var e : p.entrySet()) {
            out.add(e.getKey() + "=" + e.getValue());
        }
        return String.join(", ", out);
    }

    /**
     * One plain sentence per case where Varve's median is worse (by more than 5%) than another
     * contender's measured under the same name and parameters.
     */
    static List<String> losses(Bench b, boolean againstRaw, boolean clearly) {
        List<String> out = new ArrayList<>();
        for (Figure v : b.figures) {
            if (!v.contender().equals(Contender.VARVE)) {
                continue;
            }
            for (Figure o : b.figures) {
                if (o == v || o.contender().equals(Contender.VARVE) || !o.sameCase(v)
                        || RawFile.isBaseline(o.contender()) != againstRaw) {
                    continue;
                }
                boolean apart = o.higherIsBetter() ? o.p10() > v.p90() : o.p90() < v.p10();
                if (o.beats(v) && apart == clearly) {
                    double factor = v.higherIsBetter() ? o.median() / v.median() : v.median() / o.median();
                    out.add(String.format(Locale.ROOT, "`%s` (%s): Varve %s %s, %s %s %s — %s is %.2f× better.",
                            v.name(), params(v.params()), Bench.fmt(v.median()), v.unit(), o.contender(), Bench.fmt(o.median()),
                            o.unit(), o.contender(), factor));
                }
            }
        }
        return out;
    }
}
