package dev.varve.nbd;

import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * How an {@link NbdServer} listens and what it allows. Immutable; each {@code withX} returns a
 * copy.
 *
 * @param bindAddress        the TCP address to listen on (default {@code 127.0.0.1}); anything
 *                           but loopback earns a warning, as NBD has no authentication
 * @param port               the TCP port (default 10809); 0 picks a free one, -1 serves no TCP
 * @param unixSocket         a Unix domain socket to listen on as well, or null
 * @param readOnly           export every volume read-only
 * @param maxConnections     clients served at once; more are accepted and closed at once
 * @param maxRequestBytes    the largest READ or WRITE payload (advertised as the maximum block
 *                           size; default 32 MiB)
 * @param maxInFlight        requests one connection may have executing at once
 * @param bufferBudgetBytes  payload bytes all connections together may hold in memory; a
 *                           connection that would exceed it waits before reading on
 * @param handshakeTimeout   a client that has not finished its handshake by then is dropped
 * @param controlSocket      listen on {@code control.sock} in the store directory for live
 *                           management ({@link dev.varve.nbd.control.ControlClient})
 * @param log                where notices and warnings go (default standard error)
 */
public record ServerOptions(String bindAddress, int port, Path unixSocket, boolean readOnly,
                            int maxConnections, int maxRequestBytes, int maxInFlight,
                            long bufferBudgetBytes, Duration handshakeTimeout, boolean controlSocket,
                            Consumer<String> log) {

    public static final int DEFAULT_MAX_REQUEST = 32 << 20;

    public ServerOptions {
        if (port < -1 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is not a TCP port (0 picks one, -1 serves no TCP)");
        }
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections must be at least 1, got " + maxConnections);
        }
        if (maxRequestBytes < 4096 || maxRequestBytes > (1 << 30) || Integer.bitCount(maxRequestBytes) != 1) {
            throw new IllegalArgumentException("maxRequestBytes must be a power of two from 4 KiB to 1 GiB, got "
                    + maxRequestBytes);
        }
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("maxInFlight must be at least 1, got " + maxInFlight);
        }
        if (bufferBudgetBytes < maxRequestBytes) {
            throw new IllegalArgumentException("bufferBudgetBytes (" + bufferBudgetBytes
                    + ") must hold at least one request of maxRequestBytes (" + maxRequestBytes + ")");
        }
        if (bindAddress == null) {
            bindAddress = "127.0.0.1";
        }
        if (handshakeTimeout == null) {
            handshakeTimeout = Duration.ofSeconds(30);
        }
        if (log == null) {
            log = System.err::println;
        }
    }

    public static ServerOptions defaults() {
        return new ServerOptions("127.0.0.1", NbdProtocol.DEFAULT_PORT, null, false, 64, DEFAULT_MAX_REQUEST, 16,
                256L << 20, Duration.ofSeconds(30), true, System.err::println);
    }

    public ServerOptions withBindAddress(String v) {
        return new ServerOptions(v, port, unixSocket, readOnly, maxConnections, maxRequestBytes, maxInFlight,
                bufferBudgetBytes, handshakeTimeout, controlSocket, log);
    }

    public ServerOptions withPort(int v) {
        return new ServerOptions(bindAddress, v, unixSocket, readOnly, maxConnections, maxRequestBytes, maxInFlight,
                bufferBudgetBytes, handshakeTimeout, controlSocket, log);
    }

    public ServerOptions withUnixSocket(Path v) {
        return new ServerOptions(bindAddress, port, v, readOnly, maxConnections, maxRequestBytes, maxInFlight,
                bufferBudgetBytes, handshakeTimeout, controlSocket, log);
    }

    public ServerOptions withReadOnly(boolean v) {
        return new ServerOptions(bindAddress, port, unixSocket, v, maxConnections, maxRequestBytes, maxInFlight,
                bufferBudgetBytes, handshakeTimeout, controlSocket, log);
    }

    public ServerOptions withMaxConnections(int v) {
        return new ServerOptions(bindAddress, port, unixSocket, readOnly, v, maxRequestBytes, maxInFlight,
                bufferBudgetBytes, handshakeTimeout, controlSocket, log);
    }

    public ServerOptions withMaxRequestBytes(int v) {
        return new ServerOptions(bindAddress, port, unixSocket, readOnly, maxConnections, v, maxInFlight,
                Math.max(bufferBudgetBytes, v), handshakeTimeout, controlSocket, log);
    }

    public ServerOptions withMaxInFlight(int v) {
        return new ServerOptions(bindAddress, port, unixSocket, readOnly, maxConnections, maxRequestBytes, v,
                bufferBudgetBytes, handshakeTimeout, controlSocket, log);
    }

    public ServerOptions withBufferBudgetBytes(long v) {
        return new ServerOptions(bindAddress, port, unixSocket, readOnly, maxConnections, maxRequestBytes, maxInFlight,
                v, handshakeTimeout, controlSocket, log);
    }

    public ServerOptions withHandshakeTimeout(Duration v) {
        return new ServerOptions(bindAddress, port, unixSocket, readOnly, maxConnections, maxRequestBytes, maxInFlight,
                bufferBudgetBytes, v, controlSocket, log);
    }

    public ServerOptions withControlSocket(boolean v) {
        return new ServerOptions(bindAddress, port, unixSocket, readOnly, maxConnections, maxRequestBytes, maxInFlight,
                bufferBudgetBytes, handshakeTimeout, v, log);
    }

    public ServerOptions withLog(Consumer<String> v) {
        return new ServerOptions(bindAddress, port, unixSocket, readOnly, maxConnections, maxRequestBytes, maxInFlight,
                bufferBudgetBytes, handshakeTimeout, controlSocket, v);
    }
}
