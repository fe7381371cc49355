package dev.varve.bench;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * One measured figure as it appears in results.json: what was measured, on which contender,
 * with which parameters, its median and spread over the repetitions, and its ratio to the
 * baseline named beside it.
 *
 * @param name        scenario name, as in issue 8 ({@code read4k.depth.100}, {@code snapshot.latency}, ...)
 * @param unit        {@code MB/s} (10^6 bytes), {@code ops/s}, {@code ms}, {@code MiB}
 * @param contender   {@code varve}, {@code file-per-delta}, {@code qcow2}, {@code raw}, {@code disk}, ...
 * @param params      what the run was (sizes, depth, counts, flush interval...)
 * @param median      the median over the repetitions (or over the recorded operations)
 * @param p10         10th percentile
 * @param p90         90th percentile
 * @param min         smallest
 * @param max         largest
 * @param samples     how many repetitions (or operations) the statistics cover
 * @param higherIsBetter true for throughput, false for latency, time and memory
 * @param baseline    which figure {@code ratio} divides by, in words; null for baselines themselves
 * @param ratio       median / baseline's median; null when there is no baseline
 * @param note        what exactly was timed, in one sentence
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Figure(String name, String unit, String contender, Map<String, Object> params, double median,
                     double p10, double p90, double min, double max, int samples, boolean higherIsBetter,
                     String baseline, Double ratio, String note) {

    /** Statistics over per-repetition values (throughput per repetition, heap per open...). */
    public static Figure of(String name, String unit, String contender, Map<String, Object> params, double[] values,
                            boolean higherIsBetter, String note) {
        if (values.length == 0) {
            throw new IllegalArgumentException("invariant violated: figure " + name + " has no samples");
        }
        double[] v = values.clone();
        Arrays.sort(v);
        return new Figure(name, unit, contender, new LinkedHashMap<>(params), percentile(v, 50), percentile(v, 10),
                percentile(v, 90), v[0], v[v.length - 1], v.length, higherIsBetter, null, null, note);
    }

    /** Latency statistics in milliseconds from a histogram recorded in nanoseconds. */
    public static Figure ofLatency(String name, String contender, Map<String, Object> params, Histogram ns, String note) {
        if (ns.getTotalCount() == 0) {
            throw new IllegalArgumentException("invariant violated: figure " + name + " has no samples");
        }
        return new Figure(name, "ms", contender, new LinkedHashMap<>(params), ns.getValueAtPercentile(50) / 1e6,
                ns.getValueAtPercentile(10) / 1e6, ns.getValueAtPercentile(90) / 1e6, ns.getMinValue() / 1e6,
                ns.getMaxValue() / 1e6, (int) ns.getTotalCount(), false, null, null, note);
    }

    /** Linear interpolation between closest ranks over sorted values. */
    static double percentile(double[] sorted, double p) {
        if (sorted.length == 1) {
            return sorted[0];
        }
        double rank = p / 100.0 * (sorted.length - 1);
        int lo = (int) Math.floor(rank);
        int hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    /** This figure with a ratio to {@code base}'s median. */
    public Figure against(Figure base, String what) {
        if (base == null || base.median == 0) {
            return this;
        }
        return new Figure(name, unit, contender, params, median, p10, p90, min, max, samples, higherIsBetter, what,
                median / base.median, note);
    }

    /** Same name and parameters: the same measurement on another contender. */
    public boolean sameCase(Figure o) {
        return name.equals(o.name) && params.equals(o.params);
    }

    /** True when this figure is better than {@code o}'s (by more than 5%, to ignore noise). */
    public boolean beats(Figure o) {
        return higherIsBetter ? median > o.median * 1.05 : median * 1.05 < o.median;
    }
}
