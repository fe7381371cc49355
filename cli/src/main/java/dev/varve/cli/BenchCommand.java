package dev.varve.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code varve bench}: runs the comparison runner of the bench module in its own JVM (the
 * benchmarks jar carries JMH, the charts and the file-per-delta contender, which the CLI does
 * not need). The {@code ./varve} launcher builds {@code bench/target/benchmarks.jar} first.
 */
@Command(name = "bench", description = "Run the comparison benchmarks (see docs/BENCHMARKS.md):"
        + " [--quick] [--only NAME...] [--out DIR] [--work DIR]; writes results.json, report.md and charts.",
        mixinStandardHelpOptions = true)
final class BenchCommand implements Callable<Integer> {
    @Parameters(arity = "0..*", paramLabel = "ARG", description = "Passed to the runner: --quick, --only NAME...,"
            + " --out DIR, --work DIR.")
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws IOException, InterruptedException {
        String home = System.getProperty("varve.home");
        Path jar = home == null ? null : Path.of(home, "bench", "target", "benchmarks.jar");
        if (jar == null || !Files.isRegularFile(jar)) {
            System.err.println("varve: the benchmarks jar is not built; run 'varve bench' through the ./varve launcher"
                    + " (it builds bench/target/benchmarks.jar), or 'mvn -B -pl bench -am package -DskipTests'");
            return 1;
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("-jar");
        cmd.add(jar.toString());
        cmd.addAll(args);
        return new ProcessBuilder(cmd).inheritIO().start().waitFor();
    }
}
