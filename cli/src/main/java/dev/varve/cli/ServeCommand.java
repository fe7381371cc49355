package dev.varve.cli;

import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.Store;
import dev.varve.engine.StoreLockedException;
import dev.varve.engine.VolumeInfo;
import dev.varve.nbd.NbdServer;
import dev.varve.nbd.ServerOptions;
import dev.varve.nbd.control.ControlClient;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * {@code varve serve}: the store's volumes and snapshots over NBD until stopped (Ctrl-C,
 * SIGTERM, or an interrupt of the thread running it). While it runs, the commands the control
 * socket supports reach the store through it.
 */
@Command(name = "serve", description = {
    "Serve the store over NBD until stopped (Ctrl-C): each volume read-write by its name"
        + " (nbd://127.0.0.1:10809/VOLUME), each snapshot read-only as VOLUME@SNAP; volumes and snapshots made"
        + " while it runs are served at once.",
    "Meanwhile the other varve commands on this store (all but fsck) go through the server (control.sock in the"
        + " store directory), reading and writing data included; a revert, destroy, rename, shrink or write of what"
        + " NBD clients use needs --force, which disconnects them, and a receive into it is refused."})
final class ServeCommand extends StoreCommand {
    /** How many export names the start-up lines show before "... and N more". */
    private static final int SHOWN_EXPORTS = 12;
    private static final int DEFAULT_PORT = 10809;

    @Option(names = "--bind", paramLabel = "ADDR", description = "The address to listen on (default 127.0.0.1)."
            + " NBD has no authentication: any other address is reachable by whoever can reach it.")
    String bind;

    @Option(names = "--port", paramLabel = "N", description = "The TCP port (default 10809; 0 picks a free one).")
    Integer port;

    @Option(names = "--socket", paramLabel = "PATH", description = "Listen on this Unix socket instead of TCP"
            + " (nbd+unix:///VOLUME?socket=PATH); with --port or --bind as well, on both.")
    Path socket;

    @Option(names = "--read-only", description = "Export every volume read-only. The store itself stays writable, so"
            + " 'varve snapshot', 'create', 'clone' and the others still work through the server.")
    boolean readOnly;

    @Override
    public Integer call() throws IOException {
        if (port != null && (port < 0 || port > 65535)) {
            throw new ParameterException(spec.commandLine(), "--port " + port + " is not a TCP port (0 picks a free one)");
        }
        boolean tcp = socket == null || port != null || bind != null;
        int tcpPort = !tcp ? -1 : port == null ? DEFAULT_PORT : port;
        Store s = openForServing();
        List<String> startLog = new ArrayList<>();
        AtomicBoolean started = new AtomicBoolean();
        // until it has started, the server's notices wait: its warnings are shown after it
        // starts, its "serving on" notice is replaced by the lines below
        ServerOptions options = ServerOptions.defaults()
                .withBindAddress(bind == null ? "127.0.0.1" : bind)
                .withPort(tcpPort)
                .withUnixSocket(socket)
                .withReadOnly(readOnly)
                .withLog(line -> {
                    synchronized (startLog) {
                        if (!started.get()) {
                            startLog.add(line);
                            return;
                        }
                    }
                    err().println(line);
                });
        NbdServer server = new NbdServer(s, options);
        try {
            server.start();
        } catch (IOException | RuntimeException e) {
            closeQuietly(s);
            startLog.forEach(err()::println);
            throw e;
        }
        synchronized (startLog) {
            started.set(true);
        }
        Stopper stopper = new Stopper(server, s);
        Thread hook = new Thread(() -> stopper.stop(true), "varve-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        boolean interrupted = false;
        try {
            server.warnings().forEach(err()::println);
            printStartup(s, server);
            server.join();
        } catch (InterruptedException e) {
            // a test (or a program running the CLI in a thread) stops the server this way; the
            // interrupt is cleared now, so closing the store's files below does not fail
            interrupted = true;
        } finally {
            stopper.stop(false);
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down: the hook has run or is running stop() as well
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (stopper.failure != null) {
            throw stopper.failure;
        }
        return 0;
    }

    /** Opens the store read-write (even with --read-only, for live snapshots); a held store is explained. */
    private Store openForServing() throws IOException {
        try {
            return Store.open(store);
        } catch (StoreLockedException e) {
            String server = Remote.describeServer(store);
            if (server == null) {
                throw e;
            }
            throw new Main.Failure(store + " is already served by " + server);
        }
    }

    private void printStartup(Store s, NbdServer server) throws IOException {
        List<VolumeInfo> volumes = s.volumes();
        List<SnapshotInfo> snapshots = s.snapshots();
        String example = volumes.isEmpty() ? "VOLUME" : volumes.get(0).name();
        out().println("serving " + store + (readOnly ? " read-only (the store stays writable for live snapshots)"
                : " (volumes read-write, snapshots read-only)"));
        if (server.port() >= 0) {
            String host = hostForUrl(server.options().bindAddress());
            out().println("listening on " + host + ":" + server.port() + ", e.g. nbd://" + host + ":" + server.port()
                    + "/" + example);
        }
        if (server.unixSocket() != null) {
            out().println("listening on " + server.unixSocket() + ", e.g. nbd+unix:///" + example + "?socket="
                    + server.unixSocket());
        }
        List<String> names = new ArrayList<>();
        volumes.forEach(v -> names.add(v.name()));
        snapshots.forEach(i -> names.add(i.fullName()));
        if (names.isEmpty()) {
            out().println("exports: none yet; 'varve create " + store + " NAME --size 10G' adds one while this runs");
        } else {
            String shown = String.join(", ", names.subList(0, Math.min(names.size(), SHOWN_EXPORTS)));
            out().println("exports: " + shown + (names.size() > SHOWN_EXPORTS
                    ? " ... and " + (names.size() - SHOWN_EXPORTS) + " more ('varve list " + store + "')" : ""));
        }
        if (ControlClient.isServing(store)) {
            out().println("other varve commands on " + store + " (all but fsck) go through this server; Ctrl-C stops"
                    + " it");
        } else {
            out().println("Ctrl-C stops the server");
        }
        out().flush();
    }

    /** An IPv6 literal goes in brackets in a URL. */
    private static String hostForUrl(String address) {
        return address.indexOf(':') >= 0 && !address.startsWith("[") ? "[" + address + "]" : address;
    }

    /**
     * Stops once, from whichever comes first: the shutdown hook (Ctrl-C, SIGTERM) or the serving
     * thread. The server goes first, so no client request runs against a closed store.
     */
    private final class Stopper {
        private final NbdServer server;
        private final Store store;
        private boolean done;
        IOException failure;

        Stopper(NbdServer server, Store store) {
            this.server = server;
            this.store = store;
        }

        /** @param fromHook the JVM is exiting: nobody will report a failure but this */
        synchronized void stop(boolean fromHook) {
            if (done) {
                return;
            }
            done = true;
            server.close();
            try {
                store.close();
                err().println("varve serve: stopped; " + ServeCommand.this.store + " closed cleanly");
            } catch (IOException e) {
                failure = e;
                if (fromHook) {
                    err().println("varve: closing " + ServeCommand.this.store + " failed: " + Main.describe(e));
                }
            }
            err().flush();
        }
    }

    private static void closeQuietly(Store s) {
        try {
            s.close();
        } catch (IOException e) {
            // the start failure is the error to report
        }
    }
}
