package dev.varve.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One client, on its own thread: the handshake, then the transmission phase until the client
 * disconnects, breaks the protocol, or the server drops it. Whatever happens, the requests it
 * has in flight finish before the connection counts as closed, so a revert or destroy that
 * waits for {@link #closed()} never races one of its writes.
 */
final class Connection implements Runnable {
    private final NbdServer server;
    private final SocketChannel channel;
    private final long id;
    private final String peer;
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private volatile Export export;
    private volatile boolean dropped;

    Connection(NbdServer server, SocketChannel channel, long id, String peer) {
        this.server = server;
        this.channel = channel;
        this.id = id;
        this.peer = peer;
    }

    SocketChannel channel() {
        return channel;
    }

    long id() {
        return id;
    }

    String peer() {
        return peer;
    }

    /** The export the client chose, or null during the handshake. */
    Export export() {
        return export;
    }

    /** Completes once the connection is closed and none of its requests is running. */
    CompletableFuture<Void> closed() {
        return closed;
    }

    /** Binds the connection to an export unless the server fences it; see {@link NbdServer#fence}. */
    boolean attach(Export e) {
        return server.attach(this, e, () -> export = e);
    }

    boolean serverClosing() {
        return server.closing();
    }

    @Override
    public void run() {
        Thread.currentThread().setName("varve-nbd-conn-" + id);
        ScheduledFuture<?> timeout = server.handshakeDeadline(this);
        try {
            Handshake.Result r = new Handshake(this, server.exports(), server.options().maxRequestBytes()).run();
            cancel(timeout);
            if (r != null) {
                new Transmission(this, server, r).run();
            }
        } catch (ProtocolViolation e) {
            server.protocolError(this, e);
        } catch (EOFException | ClosedChannelException e) {
            // the client left, or the server dropped it
        } catch (IOException e) {
            if (!dropped && channel.isOpen()) {
                server.protocolError(this, e);
            }
        } catch (Throwable t) {
            server.internalError(this, t);
        } finally {
            cancel(timeout);
            closeChannel();
            server.removed(this);
            closed.complete(null);
        }
    }

    private static void cancel(ScheduledFuture<?> f) {
        if (f != null) {
            f.cancel(false);
        }
    }

    /**
     * Closes the socket: the reader thread stops at its next read, lets the requests in flight
     * finish, and ends. Safe from any thread, any number of times.
     */
    void drop() {
        dropped = true;
        closeChannel();
    }

    /** Drops the connection and waits for it to be closed, at most {@code millis}. */
    boolean dropAndWait(long millis) {
        drop();
        try {
            closed.get(millis, TimeUnit.MILLISECONDS);
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    private void closeChannel() {
        try {
            channel.close();
        } catch (IOException e) {
            // nothing more to do with a socket that fails to close
        }
    }

    @Override
    public String toString() {
        Export e = export;
        return "connection " + id + " from " + peer + (e == null ? "" : " to " + e.name());
    }
}
