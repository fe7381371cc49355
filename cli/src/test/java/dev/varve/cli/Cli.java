package dev.varve.cli;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs {@code varve} in-process with captured streams, as the tests see it. */
final class Cli {
    private Cli() {
    }

    /** One run: exit code, stdout's bytes, stderr's text. */
    record Result(int exit, byte[] stdout, String err) {
        String out() {
            return new String(stdout, StandardCharsets.UTF_8);
        }

        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out() + "--- stderr\n" + err;
        }
    }

    static Result run(Object... args) {
        return runWithInput(new byte[0], args);
    }

    static Result runWithInput(byte[] stdin, Object... args) {
        List<String> words = new ArrayList<>();
        for (Object a : args) {
            words.add(a instanceof Path p ? p.toString() : a.toString());
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            exit = Main.run(words.toArray(new String[0]), new ByteArrayInputStream(stdin), o, e);
        }
        return new Result(exit, out.toByteArray(), err.toString(StandardCharsets.UTF_8));
    }

    /** Runs and insists on exit 0, showing everything when it is not. */
    static Result ok(Object... args) {
        Result r = run(args);
        if (r.exit() != 0) {
            throw new AssertionError("expected exit 0 from varve " + words(args) + "\n" + r);
        }
        return r;
    }

    private static String words(Object... args) {
        StringBuilder sb = new StringBuilder();
        for (Object a : args) {
            sb.append(a).append(' ');
        }
        return sb.toString().trim();
    }
}
