package dev.varve.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The runner's options, the statistics of a figure, and the report written from figures (no timings). */
class RunnerTest {
    @TempDir
    Path tmp;

    private static int run(PrintStream out, String... args) {
        return Runner.run(args, out);
    }

    @Test
    void refusesUnknownOptionsAndNames() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8);
        assertEquals(2, run(out, "--bogus"));
        assertEquals(2, run(out, "--only", "no.such.figure"));
        assertEquals(2, run(out, "--only"));
        assertEquals(2, run(out, "--out"));
        assertEquals(0, run(out, "--help"));
        String text = buf.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("usage: varve bench"), text);
        assertTrue(text.contains("read4k.depth.1000"), text);
    }

    @Test
    void onlySelectsByNamePrefixAndGlob() throws Exception {
        Bench b = new Bench(true, List.of("read4k", "snapshot.latency", "gc.*"), tmp, tmp, System.out);
        assertTrue(b.wants("read4k.depth.10"));
        assertTrue(b.wants("snapshot.latency"));
        assertTrue(b.wants("gc.write-amplification"));
        assertFalse(b.wants("revert.latency"));
        assertFalse(b.wants("read4kx"));
        assertTrue(new Bench(true, List.of(), tmp, tmp, System.out).wants("anything"));
    }

    @Test
    void figureStatistics() {
        Figure f = Figure.of("x", "ops/s", "varve", Map.of(), new double[] {5, 1, 4, 2, 3}, true, "n");
        assertEquals(3, f.median());
        assertEquals(1, f.min());
        assertEquals(5, f.max());
        assertEquals(1.4, f.p10(), 1e-9);
        assertEquals(4.6, f.p90(), 1e-9);
        Figure base = Figure.of("y", "ops/s", "raw", Map.of(), new double[] {6, 6, 6, 6, 6}, true, "n");
        assertEquals(0.5, f.against(base, "raw").ratio(), 1e-9);
        Histogram h = new Histogram(3);
        for (int i = 1; i <= 100; i++) {
            h.recordValue(i * 1_000_000L);
        }
        Figure l = Figure.ofLatency("l", "varve", Map.of(), h, "n");
        assertEquals("ms", l.unit());
        assertEquals(50, l.median(), 0.1);
        assertFalse(l.higherIsBetter());
    }

    @Test
    void reportSaysWhereVarveLosesAndDrawsCharts() throws Exception {
        Path out = tmp.resolve("out");
        Files.createDirectories(out.resolve("work"));
        Bench b = new Bench(true, List.of(), out, out.resolve("work"), new PrintStream(new ByteArrayOutputStream()));
        Map<String, Object> p = Bench.params("region", "128 MiB", "flushEvery", 1);
        b.add(Figure.of(IoScenarios.WRITE4K, "ops/s", Contender.VARVE, p, new double[] {100, 101, 102, 103, 104}, true, "v"));
        b.add(Figure.of(IoScenarios.WRITE4K, "ops/s", Contender.FILE_PER_DELTA, p, new double[] {300, 301, 302, 303, 304},
                true, "f"));
        for (int d : new int[] {0, 10}) {
            Map<String, Object> q = Bench.params("disk", "128 MiB", "depth", d);
            b.add(Figure.of("read4k.depth." + d, "ops/s", Contender.VARVE, q, new double[] {9, 10, 11, 10, 10}, true, "v"));
            b.add(Figure.of("read4k.depth." + d, "ops/s", Contender.FILE_PER_DELTA, q, new double[] {20, 19, 21, 20, 20},
                    true, "f"));
        }
        for (long gib : new long[] {1, 1024}) {
            Map<String, Object> q = Bench.params("volume", Bench.mib(gib << 30), "snapshots", 0, "axis", "size");
            Histogram h = new Histogram(3);
            h.recordValue(500_000);
            b.add(Figure.ofLatency(OpLatency.SNAPSHOT, Contender.VARVE, q, h, "v"));
        }
        b.add(Figure.of(DeleteCost.NAME, "ms", Contender.VARVE, Bench.params("snapshotHolds", "8 MiB"),
                new double[] {1, 1, 1, 1, 1}, false, "v"));
        Charts.write(b);
        Map<String, Object> header = ReportWriter.header(b, "varve bench --quick", "today");
        ReportWriter.json(b, header);
        ReportWriter.markdown(b, header);
        String md = Files.readString(out.resolve("report.md"));
        assertTrue(md.contains("Varve clearly loses"), md);
        assertTrue(md.contains("`write4k.random` (region=128 MiB, flushEvery=1): Varve 102 ops/s, file-per-delta 302 ops/s"), md);
        assertTrue(md.contains("![read4k-depth.svg](read4k-depth.svg)"), md);
        for (String c : List.of("read4k-depth.svg", "snapshot-latency-size.svg", "delete-cost.svg")) {
            assertTrue(Files.size(out.resolve(c)) > 1000, c);
        }
        JsonNode json = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        assertEquals(9, json.get("figures").size());
        assertEquals("ops/s", json.get("figures").get(0).get("unit").asText());
        assertTrue(json.get("machine").has("cores"));
    }
}
