package dev.varve.engine.stream;

import static dev.varve.engine.stream.StreamLayout.*;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.zip.CRC32C;

/**
 * Writes a send stream: one BEGIN frame, DATA and HOLE frames, one END frame whose trailer
 * carries the counts and the stream CRC (over every earlier frame's header and CRC).
 */
public final class FrameWriter {
    /** Small pieces (headers, trailers, small payloads) gather here before a channel write. */
    private static final int STAGE_BYTES = 1 << 16;
    private final OutputStream out;
    private final WritableByteChannel channel;
    private final ByteBuffer stage;
    private byte[] copy;
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
        this.channel = null;
        this.stage = null;
    }

    /** A writer onto a channel: DATA given as a direct buffer goes out with no copy. */
    public FrameWriter(WritableByteChannel channel) {
        this.out = null;
        this.channel = channel;
        this.stage = ByteBuffer.allocate(STAGE_BYTES);
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

    /**
     * A DATA frame of whole blocks whose CRC32Cs the caller has just verified: the frame's CRC
     * is chained from them ({@link Crc32cShift}) rather than computed over the data again.
     *
     * @param data    {@code n * shift.length()} bytes, consumed
     * @param crcs    the CRC32C of each of the n blocks, in order
     * @param shift   the shift over one block's length
     */
    public void dataBlocks(long offset, ByteBuffer data, int[] crcs, Crc32cShift shift) throws IOException {
        int len = data.remaining();
        if (len <= 0 || len > MAX_DATA_BYTES || len % shift.length() != 0 || crcs.length < len / shift.length()) {
            throw new IllegalArgumentException("a DATA frame of blocks carries 1 to " + MAX_DATA_BYTES + " bytes in whole "
                    + shift.length() + "-byte blocks with a CRC for each, not " + len + " bytes and " + crcs.length + " CRCs");
        }
        head.clear();
        head.putLong(HEADER_BYTES + DATA_OFFSET_OFFSET, offset);
        int n = (int) (len / shift.length());
        startFrame(TYPE_DATA, DATA_BYTES_START, len);
        int crc = (int) frameCrc.getValue();
        for (int i = 0; i < n; i++) {
            crc = shift.combine(crc, crcs[i]);
        }
        endFrame(TYPE_DATA, DATA_BYTES_START, crc, null, 0, len, data);
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
        if (out != null) {
            out.flush();
        } else {
            drain();
        }
    }

    /**
     * One frame: the header and the first {@code fixed} payload bytes come from {@link #head}
     * (filled by the caller), the rest of the payload from {@code b}.
     */
    private void frame(byte type, int fixed, byte[] b, int off, int len) throws IOException {
        startFrame(type, fixed, len);
        if (len > 0) {
            frameCrc.update(b, off, len);
        }
        endFrame(type, fixed, (int) frameCrc.getValue(), b, off, len, null);
    }

    /** Fills the frame header in {@link #head} and starts the frame CRC over it. */
    private void startFrame(byte type, int fixed, int len) {
        if (ended || (!begun && type != TYPE_BEGIN)) {
            throw new IllegalStateException("invariant violated: " + typeName(type) + " frame outside BEGIN..END");
        }
        head.put(TYPE_OFFSET, type);
        head.put(RESERVED_OFFSET, (byte) 0).put(RESERVED_OFFSET + 1, (byte) 0).put(RESERVED_OFFSET + 2, (byte) 0);
        head.putInt(LENGTH_OFFSET, fixed + len);
        head.putLong(SEQUENCE_OFFSET, sequence);
        frameCrc.reset();
        frameCrc.update(head.array(), 0, HEADER_BYTES + fixed);
    }

    /** Writes the header, the payload (from {@code b} or {@code buf}) and the frame CRC. */
    private void endFrame(byte type, int fixed, int crc, byte[] b, int off, int len, ByteBuffer buf) throws IOException {
        byte[] h = head.array();
        tail.putInt(0, crc);
        if (type != TYPE_END) {
            // the frame CRC stands for the payload: the stream CRC reads each byte once, not twice
            streamCrc.update(h, 0, HEADER_BYTES);
            streamCrc.update(tail.array(), 0, CRC_BYTES);
        }
        put(h, 0, HEADER_BYTES + fixed);
        if (buf != null) {
            put(buf);
        } else if (len > 0) {
            put(b, off, len);
        }
        put(tail.array(), 0, CRC_BYTES);
        bytes += FRAME_OVERHEAD + fixed + len;
        sequence++;
    }

    private void put(byte[] b, int off, int len) throws IOException {
        if (out != null) {
            out.write(b, off, len);
            return;
        }
        if (len > stage.remaining()) {
            drain();
        }
        if (len > stage.remaining()) {
            writeFully(ByteBuffer.wrap(b, off, len));
        } else {
            stage.put(b, off, len);
        }
    }

    private void put(ByteBuffer buf) throws IOException {
        if (out == null) {
            drain();
            writeFully(buf);
            return;
        }
        if (copy == null) {
            copy = new byte[STAGE_BYTES];
        }
        while (buf.hasRemaining()) {
            int n = Math.min(copy.length, buf.remaining());
            buf.get(copy, 0, n);
            out.write(copy, 0, n);
        }
    }

    private void drain() throws IOException {
        stage.flip();
        writeFully(stage);
        stage.clear();
    }

    private void writeFully(ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            channel.write(buf);
        }
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
