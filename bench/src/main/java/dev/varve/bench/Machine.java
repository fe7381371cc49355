package dev.varve.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Where a run happened: what report.md and results.json print at the top. */
final class Machine {
    private Machine() {
    }

    static Map<String, Object> describe(Path work) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpu", cpuModel());
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("ramGiB", round1(totalMemory() / (double) (1L << 30)));
        m.put("jdk", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        m.put("maxHeapMiB", Runtime.getRuntime().maxMemory() >> 20);
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        m.put("distribution", osRelease());
        try {
            FileStore fs = Files.getFileStore(work);
            m.put("filesystem", fs.type() + " on " + fs.name());
            m.put("freeGiB", round1(fs.getUsableSpace() / (double) (1L << 30)));
        } catch (IOException e) {
            m.put("filesystem", "unknown (" + e.getMessage() + ")");
        }
        m.put("workDir", work.toAbsolutePath().toString());
        m.put("qemu", Qemu.version());
        return m;
    }

    /** The 1, 5 and 15 minute load averages: other work on a shared machine skews every figure. */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private static double round1(double v) {
        return Math.round(v * 10) / 10.0;
    }

    private static long totalMemory() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return -1;
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux: the architecture is all we say
        }
        return System.getProperty("os.arch");
    }

    private static String osRelease() {
        try {
            for (String line : Files.readAllLines(Path.of("/etc/os-release"))) {
                if (line.startsWith("PRETTY_NAME=")) {
                    return line.substring("PRETTY_NAME=".length()).replace("\"", "");
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // optional
        }
        return "unknown";
    }
}
