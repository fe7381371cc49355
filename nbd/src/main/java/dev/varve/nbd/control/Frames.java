package dev.varve.nbd.control;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * The binary frames that carry bytes on a control connection, between two JSON lines: a
 * request that moves data (read, send, write, receive ...) is answered with a JSON line (the
 * header, or the error that ends it), then frames, then a last JSON line.
 *
 * <pre>
 *   DATA      'D' | offset u64 | length u32 (1 .. MAX_DATA) | length bytes
 *   PROGRESS  'P' | done u64 | total u64                       (server to client only)
 *   END       'E'                                              then one JSON reply line
 *   ACK       'K' | done u64 | total u64 (-1: unknown)         (server to client, per DATA)
 *   FAILED    'X'                                              then one JSON error line
 *   ABORT     'A'                                              (client to server)
 * </pre>
 *
 * <p>Downloads (server to client) are DATA and PROGRESS frames then END: the socket's own
 * flow control bounds what is in flight. Uploads (client to server) are DATA frames, each
 * answered with ACK, or FAILED when the server cannot go on; then END (answered with the result
 * line) or ABORT (answered with a line once the server has cleaned up). An answer per frame
 * means a failure reaches the client at once, not after it has sent the rest.
 */
final class Frames {
    static final int DATA = 'D';
    static final int PROGRESS = 'P';
    static final int END = 'E';
    static final int ACK = 'K';
    static final int FAILED = 'X';
    static final int ABORT = 'A';

    /** The most bytes one DATA frame carries: what the CLI reads or writes at a time. */
    static final int MAX_DATA = 1 << 20;

    static final int TYPE_BYTES = 1;
    static final int DATA_HEADER_BYTES = TYPE_BYTES + Long.BYTES + Integer.BYTES;

    private Frames() {
    }

    static void writeData(DataOutputStream out, long offset, byte[] b, int off, int len) throws IOException {
        if (len <= 0 || len > MAX_DATA) {
            throw new IllegalStateException("invariant violated: a data frame of " + len + " bytes");
        }
        out.writeByte(DATA);
        out.writeLong(offset);
        out.writeInt(len);
        out.write(b, off, len);
    }

    static void writeCounts(DataOutputStream out, int type, long done, long total) throws IOException {
        out.writeByte(type);
        out.writeLong(done);
        out.writeLong(total);
    }

    /** The next frame's type; an end of stream here means the peer went away. */
    static int readType(InputStream in) throws IOException {
        int t = in.read();
        if (t < 0) {
            throw new EOFException("the peer closed the control connection in the middle of a transfer");
        }
        return t;
    }

    /**
     * The rest of a DATA frame after its type: its offset, and its bytes in {@code buf}.
     *
     * @return the frame's length
     */
    static int readData(DataInputStream in, byte[] buf, long[] offset) throws IOException {
        offset[0] = in.readLong();
        int len = in.readInt();
        if (len <= 0 || len > MAX_DATA || len > buf.length) {
            throw new IOException("control connection out of step: a data frame of " + len + " bytes (at most "
                    + Math.min(MAX_DATA, buf.length) + ")");
        }
        in.readFully(buf, 0, len);
        return len;
    }

    static IOException unexpected(int type, String where) {
        return new IOException("control connection out of step: frame '" + (char) type + "' (" + type + ") " + where);
    }
}
