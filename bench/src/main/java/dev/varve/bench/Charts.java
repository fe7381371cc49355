package dev.varve.bench;

import de.erichseifert.vectorgraphics2d.VectorGraphics2D;
import de.erichseifert.vectorgraphics2d.VectorHints;
import de.erichseifert.vectorgraphics2d.svg.SVGProcessor;
import de.erichseifert.vectorgraphics2d.util.PageSize;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The SVG charts of a run, drawn from its figures (medians). */
final class Charts {
    private Charts() {
    }

    static void write(Bench b) throws IOException {
        System.setProperty("java.awt.headless", "true");
        readsByDepth(b);
        xy(b, "snapshot-latency-size", "Snapshot latency against volume size (thin)", "volume size (GiB)", "ms (median)",
                f -> f.name().equals(OpLatency.SNAPSHOT) && "size".equals(f.params().get("axis")),
                f -> Bench.parseBytes((String) f.params().get("volume")) / (double) (1L << 30));
        xy(b, "snapshot-latency-count", "Snapshot latency against snapshots already taken", "snapshots", "ms (median)",
                f -> f.name().equals(OpLatency.SNAPSHOT) && "count".equals(f.params().get("axis")),
                f -> ((Number) f.params().get("snapshots")).doubleValue());
        xy(b, "delete-cost", "Deleting a snapshot that holds N MiB", "MiB held by the snapshot", "ms (median)",
                f -> f.name().equals(DeleteCost.NAME),
                f -> Bench.parseBytes((String) f.params().get("snapshotHolds")) / (double) (1 << 20), false);
        xy(b, "gc-write-amplification", "Write amplification against fill: Varve and an ideal cleaner",
                "fill (% of the store's capacity)", "(user + moved) / user (median)",
                f -> "64 KiB".equals(f.params().get("write")) && (f.name().equals(GcScenario.WRITE_AMPLIFICATION)
                        || (f.name().equals(GcScenario.WRITE_AMPLIFICATION_MODEL) && f.params().get("pattern").equals("uniform")
                        == f.params().get("cleaner").equals(GcModel.Policy.GREEDY.label))),
                f -> Double.parseDouble(((String) f.params().get("fill")).replace("%", "")), false,
                f -> f.name().equals(GcScenario.WRITE_AMPLIFICATION) ? "varve, " + f.params().get("pattern") + " writes"
                        : "ideal cleaner (" + f.params().get("cleaner") + "), " + f.params().get("pattern") + " writes", false);
    }

    private static void readsByDepth(Bench b) throws IOException {
        Map<String, Map<Integer, Double>> series = new LinkedHashMap<>();
        List<Integer> depths = new ArrayList<>();
        for (Figure f : b.figures) {
            if (f.name().startsWith(DepthScenario.READ + ".")) {
                int d = ((Number) f.params().get("depth")).intValue();
                series.computeIfAbsent(f.contender(), k -> new LinkedHashMap<>()).put(d, f.median());
                if (!depths.contains(d)) {
                    depths.add(d);
                }
            }
        }
        if (series.isEmpty()) {
            return;
        }
        depths.sort(Integer::compare);
        // depths sit at evenly spaced positions 0, 1, 2... labelled with the depth
        XYChart c = new XYChartBuilder().width(820).height(480).title("Random 4 KiB reads against snapshot depth (warm)")
                .xAxisTitle("snapshot depth").yAxisTitle("reads/s (median)").build();
        style(c.getStyler());
        c.getStyler().setYAxisLogarithmic(true);
        c.getStyler().setxAxisTickLabelsFormattingFunction(x -> {
            long i = Math.round(x);
            return Math.abs(x - i) < 1e-6 && i >= 0 && i < depths.size() ? Integer.toString(depths.get((int) i)) : "";
        });
        for (var e : series.entrySet()) {
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            for (int i = 0; i < depths.size(); i++) {
                Double v = e.getValue().get(depths.get(i));
                if (v != null) {
                    x.add((double) i);
                    y.add(v);
                }
            }
            String name = e.getKey().equals(RawFile.NAME) || e.getKey().equals(Qemu.QEMU_RAW)
                    ? e.getKey() + " (no snapshots)" : e.getKey();
            c.addSeries(name, x, y).setMarker(SeriesMarkers.CIRCLE);
        }
        save(b, c, "read4k-depth");
    }

    private static void xy(Bench b, String file, String title, String xTitle, String yTitle, Predicate<Figure> which,
                           ToDoubleFunction<Figure> xOf) throws IOException {
        xy(b, file, title, xTitle, yTitle, which, xOf, true);
    }

    private static void xy(Bench b, String file, String title, String xTitle, String yTitle, Predicate<Figure> which,
                           ToDoubleFunction<Figure> xOf, boolean logX) throws IOException {
        xy(b, file, title, xTitle, yTitle, which, xOf, logX, Figure::contender, true);
    }

    private static void xy(Bench b, String file, String title, String xTitle, String yTitle, Predicate<Figure> which,
                           ToDoubleFunction<Figure> xOf, boolean logX, java.util.function.Function<Figure, String> seriesOf,
                           boolean logY) throws IOException {
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        for (Figure f : b.figures) {
            if (which.test(f)) {
                series.computeIfAbsent(seriesOf.apply(f), k -> new ArrayList<>()).add(new double[] {xOf.applyAsDouble(f), f.median()});
            }
        }
        if (series.isEmpty()) {
            return;
        }
        XYChart c = new XYChartBuilder().width(820).height(480).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        style(c.getStyler());
        c.getStyler().setXAxisLogarithmic(logX);
        c.getStyler().setYAxisLogarithmic(logY);
        for (var e : series.entrySet()) {
            List<double[]> pts = e.getValue();
            pts.sort((p, q) -> Double.compare(p[0], q[0]));
            double[] x = new double[pts.size()];
            double[] y = new double[pts.size()];
            for (int i = 0; i < pts.size(); i++) {
                x[i] = pts.get(i)[0];
                y[i] = pts.get(i)[1];
            }
            c.addSeries(e.getKey(), x, y).setMarker(SeriesMarkers.CIRCLE);
        }
        save(b, c, file);
    }

    private static void style(Styler s) {
        s.setLegendPosition(Styler.LegendPosition.OutsideS);
        s.setLegendLayout(Styler.LegendLayout.Horizontal);
        s.setChartBackgroundColor(java.awt.Color.WHITE);
        if (s instanceof org.knowm.xchart.style.AxesChartStyler a) {
            // dashed grid lines become thousands of tiny rectangles in SVG
            a.setPlotGridLinesStroke(new java.awt.BasicStroke(0.5f));
            a.setPlotGridLinesColor(new java.awt.Color(225, 225, 225));
        }
    }

    /**
     * XChart's own SVG export ({@code VectorGraphicsEncoder}) turns every glyph into a path,
     * which makes a chart 400 KB; the same VectorGraphics2D pipeline with text kept as text
     * gives a small SVG that is also searchable.
     */
    private static void save(Bench b, org.knowm.xchart.internal.chartpart.Chart<?, ?> c, String name) throws IOException {
        Path p = b.out.resolve(name + ".svg");
        VectorGraphics2D g = new VectorGraphics2D();
        g.setRenderingHint(VectorHints.KEY_TEXT, VectorHints.VALUE_TEXT_DEFAULT);
        c.paint(g, c.getWidth(), c.getHeight());
        try (OutputStream out = Files.newOutputStream(p)) {
            new SVGProcessor().getDocument(g.getCommands(), new PageSize(0, 0, c.getWidth(), c.getHeight())).writeTo(out);
        }
        b.charts.add(p.getFileName().toString());
        if (Boolean.getBoolean("varve.bench.png")) {
            // a raster copy for looking at a run where nothing renders SVG
            org.knowm.xchart.BitmapEncoder.saveBitmap(c, b.out.resolve(name).toString(),
                    org.knowm.xchart.BitmapEncoder.BitmapFormat.PNG);
        }
    }
}
