package dev.varve.engine.stream;

import static dev.varve.engine.stream.StreamLayout.*;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * Writes a send stream: one BEGIN frame, DATA and HOLE frames, one END frame whose trailer
 * carries the counts and the stream CRC (over every earlier frame's header and CRC).
 */
public final class FrameWriter {
    private final OutputStream out;
    private final CRC32C frameCrc = new CRC32C();
    private final CRC32C streamCrc = new CRC32C();
    private final ByteBuffer head = ByteBuffer.allocate(HEADER_BYTES + END_PAYLOAD_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer tail = ByteBuffer.allocate(CRC_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private long sequence;
    private long bytes;
    private long dataBytes;
    private long holeBytes;
    private boolean begun;
    private boolean ended;

    public FrameWriter(OutputStream out) {
        this.out = new BufferedOutputStream(out, 1 << 16);
    }

    public void begin(StreamHeader header) throws IOException {
        if (begun) {
            throw new IllegalStateException("invariant violated: a stream has one BEGIN frame");
        }
        begun = true;
        byte[] p = header.encode();
        frame(TYPE_BEGIN, 0, p, 0, p.length);
    }

    public void data(long offset, byte[] b, int off, int len) throws IOException {
        if (len <= 0 || len > MAX_DATA_BYTES) {
            throw new IllegalArgumentException("a DATA frame carries 1 to " + MAX_DATA_BYTES + " bytes, not " + len);
        }
        head.clear();
        head.putLong(HEADER_BYTES + DATA_OFFSET_OFFSET, offset);
        frame(TYPE_DATA, DATA_BYTES_START, b, off, len);
        dataBytes += len;
    }

    public void hole(long offset, long length) throws IOException {
        head.clear();
        head.putLong(HEADER_BYTES + HOLE_OFFSET_OFFSET, offset);
        head.putLong(HEADER_BYTES + HOLE_LENGTH_OFFSET, length);
        frame(TYPE_HOLE, HOLE_PAYLOAD_BYTES, null, 0, 0);
        holeBytes += length;
    }

    /** Writes the trailer and flushes; the stream is complete. */
    public void end() throws IOException {
        head.clear();
        head.putLong(HEADER_BYTES + END_FRAMES_OFFSET, sequence);
        head.putLong(HEADER_BYTES + END_DATA_BYTES_OFFSET, dataBytes);
        head.putLong(HEADER_BYTES + END_HOLE_BYTES_OFFSET, holeBytes);
        head.putInt(HEADER_BYTES + END_STREAM_CRC_OFFSET, (int) streamCrc.getValue());
        head.putInt(HEADER_BYTES + END_RESERVED_OFFSET, 0);
        frame(TYPE_END, END_PAYLOAD_BYTES, null, 0, 0);
        ended = true;
        out.flush();
    }

    /**
     * One frame: the header and the first {@code fixed} payload bytes come from {@link #head}
     * (filled by the caller), the rest of the payload from {@code b}.
     */
    private void frame(byte type, int fixed, byte[] b, int off, int len) throws IOException {
        if (ended || (!begun && type != TYPE_BEGIN)) {
            throw new IllegalStateException("invariant violated: " + typeName(type) + " frame outside BEGIN..END");
        }
        head.put(TYPE_OFFSET, type);
        head.put(RESERVED_OFFSET, (byte) 0).put(RESERVED_OFFSET + 1, (byte) 0).put(RESERVED_OFFSET + 2, (byte) 0);
        head.putInt(LENGTH_OFFSET, fixed + len);
        head.putLong(SEQUENCE_OFFSET, sequence);
        byte[] h = head.array();
        frameCrc.reset();
        frameCrc.update(h, 0, HEADER_BYTES + fixed);
        if (len > 0) {
            frameCrc.update(b, off, len);
        }
        tail.putInt(0, (int) frameCrc.getValue());
        if (type != TYPE_END) {
            // the frame CRC stands for the payload: the stream CRC reads each byte once, not twice
            streamCrc.update(h, 0, HEADER_BYTES);
            streamCrc.update(tail.array(), 0, CRC_BYTES);
        }
        out.write(h, 0, HEADER_BYTES + fixed);
        if (len > 0) {
            out.write(b, off, len);
        }
        out.write(tail.array(), 0, CRC_BYTES);
        bytes += FRAME_OVERHEAD + fixed + len;
        sequence++;
    }

    /** Bytes written so far. */
    public long bytes() {
        return bytes;
    }

    public long frames() {
        return sequence;
    }

    public long dataBytes() {
        return dataBytes;
    }

    public long holeBytes() {
        return holeBytes;
    }
}
