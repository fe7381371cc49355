package dev.varve.nbd;

import static dev.varve.nbd.NbdProtocol.*;

import dev.varve.engine.BlockDevice;
import dev.varve.engine.OutOfSpaceException;
import dev.varve.engine.ReadOnlyException;
import dev.varve.engine.StoreClosedException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The transmission phase of one connection. This thread only reads requests (and WRITE
 * payloads, into pooled buffers); each request then runs on a worker, up to
 * {@link ServerOptions#maxInFlight()} at once, and replies as it finishes, in any order, as the
 * protocol allows. Replies are written whole under one lock, so they never interleave.
 *
 * <p>Durability follows the protocol: FLUSH, and FUA on a write, reply only after a store
 * flush made the data durable (intent records or a commit). The flush is store-wide, so a
 * FLUSH also covers writes other connections had acknowledged (CAN_MULTI_CONN).
 */
final class Transmission {
    /** The most chunks a structured READ reply is split into; busier ranges go as one data chunk. */
    private static final int MAX_READ_CHUNKS = 64;
    /** BLOCK_STATUS looks this far at most per request; the client asks again for the rest. */
    private static final long STATUS_SPAN = 512L << 20;
    private static final long STATUS_SPAN_ONE = 64L << 20;
    /**
     * The largest BLOCK_STATUS reply: 8,191 descriptors after the context id (fewer when the
     * largest request is smaller). A fragmented range gets a reply that covers a prefix of it, as
     * the protocol allows, instead of one that grows with the fragmentation.
     */
    private static final int MAX_STATUS_REPLY_BYTES = 64 << 10;
    private static final int STATUS_DESCRIPTOR_BYTES = 8;
    /** Blocks the engine maps per call, so that no list of runs it builds grows with the range either. */
    private static final long STATUS_WINDOW_BLOCKS = 8192;
    /** Zeroes written per step for WRITE_ZEROES with NO_HOLE. */
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();
    private static final int MAX_MESSAGE_BYTES = 1024;

    private final Connection conn;
    private final NbdServer server;
    private final SocketChannel ch;
    private final Export export;
    private final BlockDevice dev;
    private final boolean structured;
    private final boolean baseAllocation;
    private final int maxRequest;
    private final int maxInFlight;
    private final BufferPool pool;
    private final Semaphore slots;
    private final Object replyLock = new Object();

    /** One request as read from the wire. */
    private record Request(int type, int flags, long cookie, long offset, long length, ByteBuffer buffer) {
    }

    /** A request that fails with an NBD error (not a bug, not an I/O failure). */
    private static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        final int errno;

        Refused(int errno, String message) {
            super(message, null, false, false);
            this.errno = errno;
        }
    }

    Transmission(Connection conn, NbdServer server, Handshake.Result r) {
        this.conn = conn;
        this.server = server;
        this.ch = conn.channel();
        this.export = r.export();
        this.dev = export.device();
        this.structured = r.structuredReplies();
        this.baseAllocation = r.baseAllocation();
        this.maxRequest = server.options().maxRequestBytes();
        this.maxInFlight = server.options().maxInFlight();
        this.pool = server.buffers();
        this.slots = new Semaphore(maxInFlight);
    }

    /** Reads requests until DISC, end of stream or a broken frame; then waits for those in flight. */
    void run() throws IOException {
        ByteBuffer head = ByteBuffer.allocate(REQUEST_BYTES);
        try {
            while (true) {
                head.clear();
                Wire.readFully(ch, head);
                if (head.getInt(0) != REQUEST_MAGIC) {
                    throw new ProtocolViolation("request without the request magic");
                }
                int flags = Short.toUnsignedInt(head.getShort(4));
                int type = Short.toUnsignedInt(head.getShort(6));
                long cookie = head.getLong(8);
                long offset = head.getLong(16);
                long length = Integer.toUnsignedLong(head.getInt(24));
                if (type == CMD_DISC) {
                    return;
                }
                take(slots, 1);
                ByteBuffer buffer = null;
                try {
                    if (type == CMD_WRITE) {
                        if (length > maxRequest) {
                            // the payload cannot be taken in, and skipping it would mean reading
                            // gigabytes from a client already wrong about the limits
                            reply(cookie, EINVAL, "WRITE of " + length + " bytes is over the maximum of " + maxRequest
                                    + "; disconnecting");
                            throw new ProtocolViolation("WRITE payload over the maximum");
                        }
                        buffer = acquire((int) length);
                        Wire.readFully(ch, buffer);
                        buffer.flip();
                    } else if (type == CMD_READ && length > 0 && length <= maxRequest) {
                        buffer = acquire((int) length);
                    } else if (type == CMD_BLOCK_STATUS && baseAllocation) {
                        // the reply counts against the budget like a READ's data
                        buffer = acquire(statusReplyBytes(flags));
                    }
                    Request r = new Request(type, flags, cookie, offset, length, buffer);
                    server.workers().execute(() -> execute(r));
                } catch (IOException | RuntimeException e) {
                    pool.release(buffer);
                    slots.release();
                    if (e instanceof RejectedExecutionException) {
                        throw new ClosedChannelException();
                    }
                    throw e;
                }
            }
        } finally {
            // nothing this connection started may still be writing when it counts as closed
            slots.acquireUninterruptibly(maxInFlight);
            slots.release(maxInFlight);
        }
    }

    /** Waits for a permit, giving up when the connection is dropped meanwhile. */
    private void take(Semaphore s, int permits) throws IOException {
        try {
            while (!s.tryAcquire(permits, 100, TimeUnit.MILLISECONDS)) {
                if (!ch.isOpen()) {
                    throw new ClosedChannelException();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ClosedChannelException();
        }
    }

    private ByteBuffer acquire(int bytes) throws IOException {
        while (true) {
            ByteBuffer b = pool.tryAcquire(bytes, 100);
            if (b != null) {
                return b;
            }
            if (!ch.isOpen()) {
                throw new ClosedChannelException();
            }
        }
    }

    // ------------------------------------------------------------------ one request, on a worker

    private void execute(Request r) {
        try {
            try {
                switch (r.type) {
                    case CMD_READ -> read(r);
                    case CMD_WRITE -> write(r);
                    case CMD_FLUSH -> {
                        check(r, 0);
                        dev.flush();
                        reply(r.cookie, 0, null);
                    }
                    case CMD_TRIM -> trim(r);
                    case CMD_WRITE_ZEROES -> writeZeroes(r);
                    case CMD_BLOCK_STATUS -> blockStatus(r);
                    default -> throw new Refused(EINVAL, commandName(r.type) + " is not supported");
                }
            } catch (Refused e) {
                reply(r.cookie, e.errno, e.getMessage());
            } catch (IllegalArgumentException e) {
                // the device changed size under the request (a revert or resize)
                reply(r.cookie, EINVAL, e.getMessage());
            } catch (IOException e) {
                reply(r.cookie, errno(e), e.getMessage());
            } catch (RuntimeException e) {
                server.internalError(conn, e);
                reply(r.cookie, EIO, "internal error: " + e);
            } catch (Error e) {
                // nothing about this connection can be trusted now, and without a reply its client
                // would wait forever: hang up on it
                server.internalError(conn, e);
                conn.drop();
            }
        } catch (IOException e) {
            // the reply could not be sent: the client is gone; make the reader notice
            conn.drop();
        } finally {
            pool.release(r.buffer);
            slots.release();
        }
    }

    /** The NBD error for an engine failure. */
    static int errno(IOException e) {
        if (e instanceof ReadOnlyException) {
            return EPERM;
        }
        if (e instanceof OutOfSpaceException) {
            return ENOSPC;
        }
        if (e instanceof StoreClosedException) {
            return ESHUTDOWN;
        }
        // corruption (the store turned read-only), a destroyed volume, a failed disk
        return EIO;
    }

    /** Refuses flags the command does not take, writes to a read-only export, and bad ranges. */
    private void check(Request r, int allowedFlags) throws Refused {
        int allowed = allowedFlags | CMD_FLAG_FUA;
        if ((r.flags & ~allowed) != 0) {
            throw new Refused(EINVAL, "flags 0x" + Integer.toHexString(r.flags) + " are not valid for "
                    + commandName(r.type));
        }
        boolean writes = r.type == CMD_WRITE || r.type == CMD_TRIM || r.type == CMD_WRITE_ZEROES;
        if (writes && export.readOnly()) {
            throw new Refused(EPERM, export.name() + " is read-only" + (export.isSnapshot()
                    ? " (a snapshot; clone it for a writable volume)" : ""));
        }
        if (r.type == CMD_FLUSH) {
            return;
        }
        long size = dev.size();
        if (r.offset < 0 || r.offset > size || r.length > size - r.offset) {
            // the protocol asks for ENOSPC on writes past the end, EINVAL on everything else
            int errno = r.type == CMD_WRITE || r.type == CMD_WRITE_ZEROES ? ENOSPC : EINVAL;
            throw new Refused(errno, "range [" + Long.toUnsignedString(r.offset) + ", +" + r.length + ") is past the end of "
                    + export.name() + " (" + size + " bytes)");
        }
    }

    private void read(Request r) throws IOException, Refused {
        check(r, structured ? CMD_FLAG_DF : 0);
        if (r.length > maxRequest) {
            throw new Refused(EINVAL, "READ of " + r.length + " bytes is over the maximum of " + maxRequest);
        }
        if (r.length == 0) {
            if (structured) {
                chunk(r.cookie, REPLY_FLAG_DONE, REPLY_TYPE_NONE);
            } else {
                reply(r.cookie, 0, null);
            }
            return;
        }
        ByteBuffer buf = r.buffer;
        if (!structured) {
            dev.read(r.offset, buf.duplicate());
            synchronized (replyLock) {
                Wire.writeFully(ch, simpleHeader(r.cookie, 0), buf.duplicate());
            }
            return;
        }
        // data and holes as the map has them, so the client learns where the holes are
        List<long[]> runs = new ArrayList<>();
        if ((r.flags & CMD_FLAG_DF) == 0) {
            dev.mapAllocation(r.offset, r.length, (o, l, allocated) -> runs.add(new long[] {o, l, allocated ? 1 : 0}));
        }
        if (runs.isEmpty() || runs.size() > MAX_READ_CHUNKS) {
            runs.clear();
            runs.add(new long[] {r.offset, r.length, 1});
        }
        for (long[] run : runs) {
            if (run[2] == 1) {
                dev.read(run[0], slice(buf, (int) (run[0] - r.offset), (int) run[1]));
            }
        }
        synchronized (replyLock) {
            for (int i = 0; i < runs.size(); i++) {
                long[] run = runs.get(i);
                int flags = i == runs.size() - 1 ? REPLY_FLAG_DONE : 0;
                if (run[2] == 1) {
                    ByteBuffer off = ByteBuffer.allocate(8).putLong(0, run[0]);
                    Wire.writeFully(ch, chunkHeader(r.cookie, flags, REPLY_TYPE_OFFSET_DATA, 8 + run[1]), off,
                            slice(buf, (int) (run[0] - r.offset), (int) run[1]));
                } else {
                    ByteBuffer hole = ByteBuffer.allocate(12).putLong(0, run[0]).putInt(8, (int) run[1]);
                    Wire.writeFully(ch, chunkHeader(r.cookie, flags, REPLY_TYPE_OFFSET_HOLE, 12), hole);
                }
            }
        }
    }

    private void write(Request r) throws IOException, Refused {
        check(r, 0);
        if (r.length > 0) {
            dev.write(r.offset, r.buffer.duplicate());
        }
        finish(r);
    }

    private void trim(Request r) throws IOException, Refused {
        check(r, 0);
        if (r.length > 0) {
            dev.trim(r.offset, r.length);
        }
        finish(r);
    }

    private void writeZeroes(Request r) throws IOException, Refused {
        check(r, CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO);
        boolean noHole = (r.flags & CMD_FLAG_NO_HOLE) != 0;
        if (noHole && (r.flags & CMD_FLAG_FAST_ZERO) != 0) {
            // allocated zeroes are written like any data: not faster than the client's own write
            throw new Refused(ENOTSUP, "zeroing without holes is not faster than writing");
        }
        long done = 0;
        while (done < r.length) {
            long n = noHole ? Math.min(ZEROES.capacity(), r.length - done) : r.length - done;
            long at = r.offset + done;
            if (noHole) {
                dev.write(at, ZEROES.duplicate().limit((int) n));
            } else {
                dev.writeZeroes(at, n);
            }
            done += n;
        }
        finish(r);
    }

    /** FUA: the reply waits for a store flush that makes the write durable. */
    private void finish(Request r) throws IOException {
        if ((r.flags & CMD_FLAG_FUA) != 0) {
            dev.flush();
        }
        reply(r.cookie, 0, null);
    }

    /** The reply buffer a BLOCK_STATUS request takes: the context id and whole descriptors. */
    private int statusReplyBytes(int flags) {
        if ((flags & CMD_FLAG_REQ_ONE) != 0) {
            return 4 + STATUS_DESCRIPTOR_BYTES;
        }
        int descriptors = (Math.min(MAX_STATUS_REPLY_BYTES, maxRequest) - 4) / STATUS_DESCRIPTOR_BYTES;
        return 4 + STATUS_DESCRIPTOR_BYTES * descriptors;
    }

    private void blockStatus(Request r) throws IOException, Refused {
        check(r, CMD_FLAG_REQ_ONE);
        if (!baseAllocation) {
            throw new Refused(EINVAL, "BLOCK_STATUS needs the base:allocation context (SET_META_CONTEXT)");
        }
        if (r.length == 0) {
            throw new Refused(EINVAL, "BLOCK_STATUS of 0 bytes");
        }
        boolean one = (r.flags & CMD_FLAG_REQ_ONE) != 0;
        long end = r.offset + Math.min(r.length, one ? STATUS_SPAN_ONE : STATUS_SPAN);
        StatusReply reply = new StatusReply(r.buffer, r.offset);
        long window = STATUS_WINDOW_BLOCKS * dev.blockSize();
        for (long at = r.offset; at < end && !reply.full; at += window) {
            dev.mapAllocation(at, Math.min(window, end - at), reply::add);
        }
        if (reply.descriptors == 0) {
            throw new IllegalStateException("invariant violated: no allocation runs in a non-empty range of "
                    + export.name());
        }
        ByteBuffer payload = reply.payload.flip();
        synchronized (replyLock) {
            Wire.writeFully(ch, chunkHeader(r.cookie, REPLY_FLAG_DONE, REPLY_TYPE_BLOCK_STATUS, payload.remaining()),
                    payload);
        }
    }

    /**
     * The descriptors of a BLOCK_STATUS reply, written into its buffer as the runs come: a run
     * of the same state as the last descriptor lengthens it (runs meet at window edges), and
     * once the buffer is full the next different run ends the reply.
     */
    private final class StatusReply {
        final ByteBuffer payload;
        final int maxDescriptors;
        long next;
        int descriptors;
        int lastState;
        boolean full;

        StatusReply(ByteBuffer payload, long offset) {
            this.payload = payload;
            this.maxDescriptors = (payload.limit() - 4) / STATUS_DESCRIPTOR_BYTES;
            this.next = offset;
            payload.putInt(Handshake.BASE_ALLOCATION_ID);
        }

        void add(long offset, long length, boolean allocated) {
            if (full) {
                return;
            }
            if (offset != next || length <= 0) {
                throw new IllegalStateException("invariant violated: the allocation map of " + export.name()
                        + " gave the run [" + offset + ", +" + length + ") where " + next + " was next");
            }
            next = offset + length;
            int state = allocated ? 0 : STATE_HOLE | STATE_ZERO;
            if (descriptors > 0 && state == lastState) {
                // a reply spans at most STATUS_SPAN bytes, so a descriptor's length stays in a u32
                int at = payload.position() - STATUS_DESCRIPTOR_BYTES;
                payload.putInt(at, (int) (payload.getInt(at) + length));
            } else if (descriptors == maxDescriptors) {
                full = true;
            } else {
                payload.putInt((int) length).putInt(state);
                descriptors++;
                lastState = state;
            }
        }
    }

    // ------------------------------------------------------------------ replies

    /** Success (error 0) or an error; structured replies carry the message. */
    private void reply(long cookie, int error, String message) throws IOException {
        if (error != 0 && structured) {
            byte[] m = message == null ? new byte[0] : message.getBytes(StandardCharsets.UTF_8);
            int n = Math.min(m.length, MAX_MESSAGE_BYTES);
            ByteBuffer p = ByteBuffer.allocate(6 + n);
            p.putInt(error).putShort((short) n).put(m, 0, n).flip();
            synchronized (replyLock) {
                Wire.writeFully(ch, chunkHeader(cookie, REPLY_FLAG_DONE, REPLY_TYPE_ERROR, p.remaining()), p);
            }
            return;
        }
        synchronized (replyLock) {
            Wire.writeFully(ch, simpleHeader(cookie, error));
        }
    }

    private void chunk(long cookie, int flags, int type) throws IOException {
        synchronized (replyLock) {
            Wire.writeFully(ch, chunkHeader(cookie, flags, type, 0));
        }
    }

    private static ByteBuffer simpleHeader(long cookie, int error) {
        ByteBuffer h = ByteBuffer.allocate(SIMPLE_REPLY_BYTES);
        h.putInt(SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie).flip();
        return h;
    }

    private static ByteBuffer chunkHeader(long cookie, int flags, int type, long length) {
        ByteBuffer h = ByteBuffer.allocate(CHUNK_HEADER_BYTES);
        h.putInt(STRUCTURED_REPLY_MAGIC).putShort((short) flags).putShort((short) type).putLong(cookie)
                .putInt((int) length).flip();
        return h;
    }

    private static ByteBuffer slice(ByteBuffer b, int at, int n) {
        ByteBuffer s = b.duplicate();
        s.limit(at + n).position(at);
        return s;
    }
}
