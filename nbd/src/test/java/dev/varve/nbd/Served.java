package dev.varve.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.fsck.Fsck;
import dev.varve.fsck.Report;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A store in a temporary directory served on an ephemeral loopback port. Closing it stops the
 * server, closes the store, checks that nothing went wrong inside the server and that fsck
 * finds the store clean.
 */
final class Served implements AutoCloseable {
    final Path dir;
    final Store store;
    final NbdServer server;
    final List<String> log = new CopyOnWriteArrayList<>();

    Served(Path dir, ServerOptions options) throws IOException {
        this.dir = dir;
        this.store = Store.create(dir, StoreOptions.defaults().withSegmentSize(8 << 20));
        this.server = new NbdServer(store, options.withPort(0).withLog(log::add));
    }

    static Served start(Path parent, long volumeBytes) throws IOException {
        return start(parent, volumeBytes, ServerOptions.defaults());
    }

    static Served start(Path parent, long volumeBytes, ServerOptions options) throws IOException {
        Served s = new Served(parent.resolve("store"), options);
        s.store.createVolume("vol", volumeBytes);
        s.server.start();
        return s;
    }

    String url(String export) {
        return "nbd://127.0.0.1:" + server.port() + "/" + export;
    }

    int port() {
        return server.port();
    }

    @Override
    public void close() throws IOException {
        server.close();
        store.close();
        NbdServer.Stats st = server.stats();
        assertEquals(0, st.internalErrors(), "internal errors in the server: " + log);
        assertEquals(0, st.active(), "connections still open after close");
        Report r = Fsck.check(dir, false);
        assertTrue(r.clean(), "fsck: " + r.summary() + " " + r.problems());
        assertEquals(0, r.exitCode(), r.summary());
    }
}
