package dev.varve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.varve.engine.Store;
import dev.varve.engine.StoreLockedException;
import dev.varve.engine.StoreOptions;
import dev.varve.nbd.control.ControlClient;
import java.io.IOException;
import java.nio.file.Path;

/**
 * How a command reaches a store that a running {@code varve serve} holds: the server owns the
 * store's lock, so the command asks it through {@code control.sock} in the store directory
 * instead of opening the store. Every command on an existing store does this (fsck excepted: it
 * checks a store no process has open); bytes in and out (read, export, send, write, import,
 * receive) travel over the same socket, a megabyte at a time.
 */
final class Remote {
    private Remote() {
    }

    /** Work on a store opened in this process. */
    @FunctionalInterface
    interface Direct<T> {
        T run(Store store) throws IOException;
    }

    /** The same work, asked of the server that holds the store. */
    @FunctionalInterface
    interface Served<T> {
        T run(ControlClient server) throws IOException;
    }

    /**
     * Opens the store and runs {@code direct}; when the store is locked and a server answers on
     * its control socket, runs {@code served} against that server instead. When the store is
     * locked and no server answers, the lock error stands.
     */
    static <T> T either(Path dir, boolean readOnly, Direct<T> direct, Served<T> served) throws IOException {
        Store s;
        try {
            s = readOnly ? Store.open(dir, StoreOptions.defaults().withReadOnly(true)) : Store.open(dir);
        } catch (StoreLockedException locked) {
            ControlClient c = ControlClient.connect(dir);
            if (c == null) {
                throw locked;
            }
            try (c) {
                return served.run(c);
            }
        }
        try (s) {
            return direct.run(s);
        }
    }

    /** "a running 'varve serve' (process N, nbd://127.0.0.1:P)", or null when no server answers. */
    static String describeServer(Path dir) {
        JsonNode ping;
        try (ControlClient c = ControlClient.connect(dir)) {
            if (c == null) {
                return null;
            }
            ping = c.ping();
        } catch (IOException e) {
            return null;
        }
        StringBuilder sb = new StringBuilder("a running 'varve serve' (process ").append(ping.path("pid").asLong());
        int port = ping.path("port").asInt(-1);
        if (port >= 0) {
            sb.append(", TCP port ").append(port);
        }
        if (ping.path("socket").isTextual()) {
            sb.append(", socket ").append(ping.path("socket").asText());
        }
        return sb.append(')').toString();
    }
}
