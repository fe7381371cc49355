package dev.varve.nbd.control;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * The server's side of an upload (see {@link Frames}): reads the client's DATA frames one at a
 * time and answers each with an ACK before reading the next, so a failure can be answered in
 * place of an ACK. Whatever happens, the connection is left between requests again: after END
 * the result line, after ABORT a line once the caller has cleaned up, after a failure the error
 * in answer to the client's next frame. When the client goes away (or falls out of step) the
 * connection cannot be answered any more: {@link #fail} rethrows and the connection closes.
 */
final class Inbound {
    private final DataInputStream in;
    private final DataOutputStream out;
    private final byte[] buf = new byte[Frames.MAX_DATA];
    private final long[] offset = new long[1];
    private int length;

    /** A DATA frame was read and not answered yet. */
    private boolean unanswered;
    /** END was read: the client waits for one line. */
    private boolean ended;
    /** ABORT was read: the client waits for one line. */
    private boolean aborted;
    /** The client went away or sent what is not a frame: nothing more can be said to it. */
    private boolean broken;

    /** What the ACKs report: bytes taken so far and the total (-1: unknown). */
    private volatile long done;
    private volatile long total = -1;

    /** Thrown out of {@link #next} when the client sends ABORT. */
    static final class AbortedException extends IOException {
        private static final long serialVersionUID = 1L;

        AbortedException() {
            super("the client stopped the transfer");
        }
    }

    Inbound(DataInputStream in, DataOutputStream out) {
        this.in = in;
        this.out = out;
    }

    /**
     * Answers the previous DATA frame and reads the next.
     *
     * @return false at END
     * @throws AbortedException at ABORT
     */
    boolean next() throws IOException {
        answer();
        int t = readType();
        switch (t) {
            case Frames.DATA -> {
                try {
                    length = Frames.readData(in, buf, offset);
                } catch (IOException e) {
                    broken = true;
                    throw e;
                }
                unanswered = true;
                return true;
            }
            case Frames.END -> {
                ended = true;
                return false;
            }
            case Frames.ABORT -> {
                aborted = true;
                throw new AbortedException();
            }
            default -> {
                broken = true;
                throw Frames.unexpected(t, "in an upload");
            }
        }
    }

    /** The current frame's offset (where a write goes; ignored by a stream). */
    long offset() {
        return offset[0];
    }

    int length() {
        return length;
    }

    /** The current frame's bytes, {@code [0, length())}; overwritten by the next frame. */
    byte[] buffer() {
        return buf;
    }

    void progress(long doneBytes, long totalBytes) {
        this.done = doneBytes;
        this.total = totalBytes;
    }

    /** The frames' bytes in order, their offsets ignored: what a receive reads; -1 at END. */
    InputStream stream() {
        return new InputStream() {
            private int pos;
            private int end;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) {
                    return 0;
                }
                while (pos == end) {
                    if (ended || !next()) {
                        return -1;
                    }
                    pos = 0;
                    end = length;
                }
                int n = Math.min(len, end - pos);
                System.arraycopy(buf, pos, b, off, n);
                pos += n;
                return n;
            }
        };
    }

    /**
     * Ends a transfer that worked: what the client still sends is answered and dropped (a
     * receive need not read its input to the end), then the result goes in answer to END.
     */
    void finish(Object result) throws IOException {
        try {
            while (!ended && !aborted && next()) {
                // the bytes past what the request used
            }
        } catch (AbortedException e) {
            // too late to stop anything: the result stands, and ABORT still gets its line
        }
        JsonLines.write(out, ControlServer.ok(result));
    }

    /**
     * Ends a transfer that failed, once the caller has cleaned up: the error answers the frame
     * the client is waiting on (or its next one). After ABORT the client hears only that the
     * server is done.
     */
    void fail(Exception e) throws IOException {
        if (broken) {
            throw e instanceof IOException io ? io : new IOException(e);
        }
        if (aborted) {
            JsonLines.write(out, ControlServer.ok(null));
            return;
        }
        if (!unanswered && !ended) {
            // the client sends on until answered: take its next frame and answer that
            int t = readType();
            switch (t) {
                case Frames.DATA -> {
                    Frames.readData(in, buf, offset);
                    unanswered = true;
                }
                case Frames.END -> ended = true;
                case Frames.ABORT -> {
                    aborted = true;
                    JsonLines.write(out, ControlServer.ok(null));
                    return;
                }
                default -> {
                    broken = true;
                    throw Frames.unexpected(t, "in an upload");
                }
            }
        }
        if (unanswered) {
            unanswered = false;
            out.writeByte(Frames.FAILED);
        }
        JsonLines.write(out, ControlServer.error(e));
    }

    private void answer() throws IOException {
        if (unanswered) {
            unanswered = false;
            try {
                Frames.writeCounts(out, Frames.ACK, done, total);
                out.flush();
            } catch (IOException e) {
                broken = true;
                throw e;
            }
        }
    }

    private int readType() throws IOException {
        try {
            return Frames.readType(in);
        } catch (IOException e) {
            broken = true;
            throw e;
        }
    }
}
