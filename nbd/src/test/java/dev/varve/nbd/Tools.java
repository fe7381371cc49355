package dev.varve.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs the real NBD clients (qemu-io, qemu-img, nbdinfo, nbdcopy) as child processes. A test
 * that needs one skips when it is not installed, except under CI ({@code CI=true}), where a
 * missing tool fails the test: CI installs qemu-utils and libnbd-bin, and a client test that
 * quietly stops running there would hide a broken server.
 */
final class Tools {
    private static final long TIMEOUT_SECONDS = 120;

    private Tools() {
    }

    /** What a finished tool printed and returned. */
    record Result(int exit, String out, String err) {
        Result ok() {
            assertEquals(0, exit, "exit status; stdout:\n" + out + "\nstderr:\n" + err);
            return this;
        }
    }

    static boolean installed(String tool) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    /** Skips the calling test unless every tool is on the PATH; under CI, fails it instead. */
    static void require(String... tools) {
        requireUnder(System.getenv("CI"), tools);
    }

    /** {@link #require(String...)} with the value of {@code CI} given (for its own test). */
    static void requireUnder(String ci, String... tools) {
        for (String t : tools) {
            if (installed(t)) {
                continue;
            }
            String why = t + " is not installed (apt-get install qemu-utils libnbd-bin)";
            if ("true".equals(ci)) {
                fail(why + "; CI=true, so the NBD client tests must run, not skip");
            }
            Assumptions.assumeTrue(false, why);
        }
    }

    static Result run(String... cmd) throws IOException, InterruptedException {
        return run(List.of(cmd));
    }

    static Result run(List<String> cmd) throws IOException, InterruptedException {
        Path out = Files.createTempFile("varve-tool", ".out");
        Path err = Files.createTempFile("varve-tool", ".err");
        try {
            Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                fail(String.join(" ", cmd) + " did not finish in " + TIMEOUT_SECONDS + " s; stderr:\n"
                        + Files.readString(err, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** {@code qemu-io -f raw URL -c ... -c ...}. */
    static Result qemuIo(String url, String... commands) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "raw", url));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        return run(cmd);
    }

    /** Starts a tool without waiting for it. */
    static Process start(List<String> cmd, Path log) throws IOException {
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }
}
