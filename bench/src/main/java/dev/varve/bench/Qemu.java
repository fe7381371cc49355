package dev.varve.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * qcow2 through QEMU's own tools. Every image uses QEMU's defaults (64 KiB clusters) and the
 * host page cache ({@code -t writeback}), the same cache condition as the Java contenders,
 * which use buffered FileChannel I/O. Times measured by {@code qemu-img bench} exclude process
 * start; times of other commands include it, and {@link #processStartMillis} measures that
 * start so the report can say how much of a figure it is. Write runs are timed by wall clock so
 * that their final flush counts (see {@link #bench}).
 */
final class Qemu {
    static final String QCOW2 = "qcow2";
    static final String QCOW2_INTERNAL = "qcow2-internal";
    /** A raw image driven by the same qemu-img bench: QEMU's block layer without a format. */
    static final String QEMU_RAW = "qemu-raw";
    static final String CACHE = "writeback";
    private static final Pattern RUN = Pattern.compile("Run completed in ([0-9.]+) seconds");

    private Qemu() {
    }

    /** True when qemu-img and qemu-io run here. */
    static boolean available() {
        try {
            run(List.of("qemu-img", "--version"));
            run(List.of("qemu-io", "--version"));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    static String version() {
        try {
            String v = run(List.of("qemu-img", "--version"));
            return v.lines().findFirst().orElse("?").trim();
        } catch (IOException e) {
            return "not installed";
        }
    }

    static void create(Path img, long size) throws IOException {
        run(List.of("qemu-img", "create", "-q", "-f", "qcow2", img.toString(), Long.toString(size)));
    }

    /** An overlay on {@code backing}; {@code -u} so the chain below is not opened each time. */
    static void createOverlay(Path img, Path backing, long size) throws IOException {
        run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", backing.getFileName().toString(), "-F", "qcow2",
                img.toString(), Long.toString(size)));
    }

    /**
     * Runs qemu-io commands on one image. With {@code withoutBacking} the backing chain is not
     * opened: only valid for writes of whole clusters, which need nothing from below.
     */
    static void io(Path img, boolean withoutBacking, List<String> commands) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("qemu-io"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        if (withoutBacking) {
            cmd.add("json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"" + img + "\"},\"backing\":null}");
        } else {
            cmd.add("-f");
            cmd.add("qcow2");
            cmd.add(img.toString());
        }
        String out = run(cmd);
        if (out.contains("Pattern verification failed") || out.contains("failed")) {
            throw new IOException("qemu-io on " + img + ": " + out.lines().filter(l -> l.contains("fail")).findFirst().orElse(out));
        }
    }

    /**
     * {@code qemu-img bench}: {@code count} requests of {@code bytes} at queue depth 1, each
     * {@code step} bytes after the last, wrapping at the end of the image; returns seconds.
     */
    static double bench(Path img, boolean write, int count, int bytes, long step, int flushInterval) throws IOException {
        return bench(img, "qcow2", write, count, bytes, step, flushInterval);
    }

    /** The same on an image of {@code format} ("raw" gives QEMU's own ceiling). */
    static double bench(Path img, String format, boolean write, int count, int bytes, long step, int flushInterval)
            throws IOException {
        List<String> cmd = new ArrayList<>(List.of("qemu-img", "bench", "-f", format, "-t", CACHE, "-d", "1",
                "-c", Integer.toString(count), "-s", Integer.toString(bytes), "-S", Long.toString(step)));
        if (write) {
            cmd.add("-w");
            if (flushInterval > 0) {
                cmd.add("--flush-interval=" + flushInterval);
            }
        }
        cmd.add(img.toString());
        if (write) {
            // qemu-img bench stops its clock when the last request completes: a flush it issues
            // after the last request is not waited for, and closing the image flushes after the
            // clock stopped. A write run is therefore timed as the process's wall time minus the
            // wall time of a run of one request (start, open, close), so its final flush counts,
            // as the Java contenders' final flush() does.
            long t0 = System.nanoTime();
            run(cmd);
            double wall = (System.nanoTime() - t0) / 1e9;
            return Math.max(1e-6, wall - emptyWriteRun(img, format, bytes));
        }
        String out = run(cmd);
        Matcher m = RUN.matcher(out);
        if (!m.find()) {
            throw new IOException("qemu-img bench printed no run time: " + out);
        }
        return Double.parseDouble(m.group(1));
    }

    private static final java.util.Map<String, Double> EMPTY_RUNS = new java.util.concurrent.ConcurrentHashMap<>();

    /** Median wall time of a one-request write run on this image (process start, open, close). */
    private static double emptyWriteRun(Path img, String format, int bytes) throws IOException {
        String key = img + "|" + format + "|" + bytes;
        Double d = EMPTY_RUNS.get(key);
        if (d == null) {
            double[] t = new double[5];
            for (int i = 0; i < t.length; i++) {
                long t0 = System.nanoTime();
                run(List.of("qemu-img", "bench", "-f", format, "-t", CACHE, "-d", "1", "-c", "1", "-s",
                        Integer.toString(bytes), "-w", img.toString()));
                t[i] = (System.nanoTime() - t0) / 1e9;
            }
            java.util.Arrays.sort(t);
            d = t[t.length / 2];
            EMPTY_RUNS.put(key, d);
        }
        return d;
    }

    /** Runs a qemu-img command and returns its wall time in nanoseconds (process start included). */
    static long timed(List<String> cmd) throws IOException {
        long t0 = System.nanoTime();
        run(cmd);
        return System.nanoTime() - t0;
    }

    static List<String> snapshotCreate(Path img, String name) {
        return List.of("qemu-img", "snapshot", "-c", name, img.toString());
    }

    static List<String> snapshotApply(Path img, String name) {
        return List.of("qemu-img", "snapshot", "-a", name, img.toString());
    }

    static List<String> snapshotDelete(Path img, String name) {
        return List.of("qemu-img", "snapshot", "-d", name, img.toString());
    }

    /** Opens the image, lists its snapshots and exits: a qemu-img run that does no work. */
    static List<String> snapshotList(Path img) {
        return List.of("qemu-img", "snapshot", "-l", img.toString());
    }

    /** Merges {@code img} into its backing file and empties it (what deleting the snapshot below costs). */
    static List<String> commit(Path img) {
        return List.of("qemu-img", "commit", "-q", "-f", "qcow2", "-t", CACHE, img.toString());
    }

    static List<String> rebaseUnsafe(Path img, Path backing) {
        return List.of("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", backing.getFileName().toString(), "-F", "qcow2",
                img.toString());
    }

    /** Median wall time of {@code qemu-img snapshot -l} on {@code img}, in milliseconds. */
    static double processStartMillis(Path img, int reps) throws IOException {
        double[] t = new double[reps];
        run(snapshotList(img));
        for (int i = 0; i < reps; i++) {
            t[i] = timed(snapshotList(img)) / 1e6;
        }
        java.util.Arrays.sort(t);
        return Figure.percentile(t, 50);
    }

    static String run(List<String> cmd) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        int rc;
        try {
            rc = p.waitFor();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted running " + String.join(" ", cmd));
        }
        String s = new String(out, StandardCharsets.UTF_8);
        if (rc != 0) {
            throw new IOException(String.join(" ", cmd) + " exited " + rc + ": " + s.trim());
        }
        return s;
    }
}
