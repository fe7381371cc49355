package dev.varve.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code varve} command: subcommands over the engine's public API. Errors become one line
 * on stderr: exit 2 for usage (with the command's synopsis), 1 for a failure, and fsck's own
 * e2fsck-style codes for {@code varve fsck}.
 */
@Command(name = "varve", mixinStandardHelpOptions = true, scope = ScopeType.INHERIT,
        versionProvider = Main.Version.class, sortOptions = false, usageHelpAutoWidth = true,
        description = "Varve: a log-structured, copy-on-write store for virtual-machine disks.%n"
                + "Sizes, offsets and lengths take K, M, G, T, P suffixes (powers of 1024).",
        subcommands = {
            StoreCommands.Init.class,
            VolumeCommands.Create.class,
            StoreCommands.ListCommand.class,
            StoreCommands.Info.class,
            DataCommands.Write.class,
            DataCommands.Read.class,
            DataCommands.Import.class,
            DataCommands.Export.class,
            SnapshotCommands.Snapshot.class,
            SnapshotCommands.Revert.class,
            SnapshotCommands.Clone.class,
            VolumeCommands.Destroy.class,
            VolumeCommands.Rename.class,
            VolumeCommands.Get.class,
            VolumeCommands.Set.class,
            VolumeCommands.Resize.class,
            StreamCommands.Diff.class,
            StreamCommands.Send.class,
            StreamCommands.Receive.class,
            GcCommand.class,
            StoreCommands.Limit.class,
            StoreCommands.FsckCommand.class,
            ServeCommand.class,
            BenchCommand.class,
            Quickstart.class,
        })
public final class Main implements Callable<Integer> {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Declared so every command accepts it; {@link #wantsDebug} reads it from the words. */
    @Option(names = "--debug", scope = ScopeType.INHERIT, description = "Show the stack trace of an error.")
    boolean debug;

    @Spec
    CommandSpec spec;

    final InputStream in;
    final PrintStream out;
    final PrintStream err;

    private Main(InputStream in, PrintStream out, PrintStream err) {
        this.in = in;
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        int code = run(args, System.in, System.out, System.err);
        System.out.flush();
        System.exit(code);
    }

    /** Runs one command line; returns its exit code. Tests call this with captured streams. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, System.in, out, err);
    }

    static int run(String[] args, InputStream in, PrintStream out, PrintStream err) {
        Main main = new Main(in, out, err);
        CommandLine cli = new CommandLine(main);
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        cli.setParameterExceptionHandler(new UsageErrorHandler());
        cli.setExecutionExceptionHandler(new FailureHandler(wantsDebug(args)));
        try {
            return cli.execute(args);
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** {@code varve} alone: the list of commands on stderr, and a usage exit. */
    @Override
    public Integer call() {
        spec.commandLine().usage(err);
        return spec.exitCodeOnInvalidInput();
    }

    /** Errors are handled before picocli has bound options, so look for --debug in the words. */
    private static boolean wantsDebug(String[] args) {
        for (String a : args) {
            if (a.equals("--")) {
                return false;
            }
            if (a.equals("--debug")) {
                return true;
            }
        }
        return false;
    }

    static void printJson(PrintStream out, Object value) {
        try {
            out.println(JSON.writeValueAsString(value));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("invariant violated: cannot write JSON: " + e.getMessage(), e);
        }
    }

    /** A failure the command explains itself: one line, exit 1 (or the code given). */
    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int exitCode;

        Failure(String message) {
            this(message, 1);
        }

        Failure(String message, int exitCode) {
            super(message);
            this.exitCode = exitCode;
        }
    }

    /** Usage errors: the message, the command's synopsis, a pointer to --help; exit 2 (fsck: 16). */
    private static final class UsageErrorHandler implements IParameterExceptionHandler {
        @Override
        public int handleParseException(ParameterException ex, String[] args) {
            CommandLine cmd = ex.getCommandLine();
            PrintWriter err = cmd.getErr();
            err.println("varve: " + ex.getMessage());
            UnmatchedArgumentException.printSuggestions(ex, err);
            err.print(cmd.getHelp().fullSynopsis());
            err.printf("Try '%s --help' for more information.%n", cmd.getCommandSpec().qualifiedName());
            err.flush();
            return cmd.getCommandSpec().exitCodeOnInvalidInput();
        }
    }

    /** Failures: one line on stderr, exit 1; the stack trace only with --debug. */
    private static final class FailureHandler implements IExecutionExceptionHandler {
        private final boolean debug;

        FailureHandler(boolean debug) {
            this.debug = debug;
        }

        @Override
        public int handleExecutionException(Exception ex, CommandLine cmd, ParseResult parseResult) {
            PrintWriter err = cmd.getErr();
            err.println("varve: " + describe(ex));
            if (debug) {
                ex.printStackTrace(err);
            } else if (!(ex instanceof IOException || ex instanceof Failure || ex instanceof IllegalArgumentException
                    || ex instanceof UncheckedIOException)) {
                err.println("varve: this looks like a bug; run again with --debug for the stack trace");
            }
            err.flush();
            if (ex instanceof Failure f) {
                return f.exitCode;
            }
            return cmd.getCommandSpec().exitCodeOnExecutionException();
        }
    }

    /** The one line a person reads: what failed, on which file. */
    static String describe(Throwable e) {
        if (e instanceof UncheckedIOException u && u.getCause() != null) {
            return describe(u.getCause());
        }
        if (e instanceof NoSuchFileException f) {
            return "no such file or directory: " + f.getFile();
        }
        if (e instanceof AccessDeniedException f) {
            return "permission denied: " + f.getFile();
        }
        if (e instanceof FileAlreadyExistsException f) {
            return "already exists: " + f.getFile();
        }
        if (e instanceof DirectoryNotEmptyException f) {
            return "directory not empty: " + f.getFile();
        }
        if (e instanceof NotDirectoryException f) {
            return "not a directory: " + f.getFile();
        }
        String m = e.getMessage();
        if (e instanceof IOException || e instanceof Failure || e instanceof IllegalArgumentException) {
            return m == null ? e.getClass().getSimpleName() : m;
        }
        return "internal error: " + e;
    }

    /** The version Maven filtered into varve-version.properties. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream s = Main.class.getResourceAsStream("/varve-version.properties")) {
                if (s != null) {
                    p.load(s);
                }
            }
            return new String[] {
                "varve " + p.getProperty("version", "unknown"),
                "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"
            };
        }
    }
}
