package dev.varve.engine.stream;

import static dev.varve.engine.stream.StreamLayout.*;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * Reads and verifies a send stream one frame at a time. A frame is returned only after its
 * checksum, its sequence number and its place in the stream (block-aligned, inside the volume,
 * after the frame before it) have been checked; the END frame is returned only after the
 * trailer matches every frame before it. Anything else is a {@link StreamException}.
 */
public final class FrameReader {
    private final InputStream in;
    private final CRC32C frameCrc = new CRC32C();
    private final CRC32C streamCrc = new CRC32C();
    private byte[] buf = new byte[HEADER_BYTES + (64 << 10) + CRC_BYTES];
    private ByteBuffer view = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
    private StreamHeader header;
    private long position;
    private long sequence;
    private long dataBytes;
    private long holeBytes;
    private long nextOffset;
    private boolean ended;

    private byte type;
    private long offset;
    private long length;

    public FrameReader(InputStream in) {
        this.in = in;
    }

    /** Reads the BEGIN frame. */
    public StreamHeader begin() throws IOException {
        if (header != null) {
            throw new IllegalStateException("invariant violated: begin() twice");
        }
        int len = readFrame();
        header = StreamHeader.decode(payload(len), len);
        nextOffset = header.resumeOffset();
        return header;
    }

    /**
     * Reads the next frame and returns its type: {@link StreamLayout#TYPE_DATA} (see
     * {@link #offset()}, {@link #length()}, {@link #buffer()}, {@link #dataStart()}),
     * {@link StreamLayout#TYPE_HOLE}, or {@link StreamLayout#TYPE_END} once the whole stream
     * has verified.
     */
    public byte next() throws IOException {
        if (header == null || ended) {
            throw new IllegalStateException("invariant violated: next() before begin() or after END");
        }
        long at = position;
        long index = sequence;
        int len = readFrame();
        switch (type) {
            case TYPE_DATA -> {
                offset = view.getLong(HEADER_BYTES + DATA_OFFSET_OFFSET);
                length = len - DATA_BYTES_START;
                checkRange(at, index);
                dataBytes += length;
            }
            case TYPE_HOLE -> {
                offset = view.getLong(HEADER_BYTES + HOLE_OFFSET_OFFSET);
                length = view.getLong(HEADER_BYTES + HOLE_LENGTH_OFFSET);
                checkRange(at, index);
                holeBytes += length;
            }
            case TYPE_END -> checkTrailer(at);
            default -> throw corrupt(at, index, "a second BEGIN frame");
        }
        return type;
    }

    public long offset() {
        return offset;
    }

    public long length() {
        return length;
    }

    /** The buffer holding the current DATA frame's bytes, from {@link #dataStart()}. */
    public byte[] buffer() {
        return buf;
    }

    public int dataStart() {
        return HEADER_BYTES + DATA_BYTES_START;
    }

    /** Stream bytes read so far. */
    public long position() {
        return position;
    }

    public long dataBytes() {
        return dataBytes;
    }

    public long holeBytes() {
        return holeBytes;
    }

    private byte[] payload(int len) {
        byte[] p = new byte[len];
        System.arraycopy(buf, HEADER_BYTES, p, 0, len);
        return p;
    }

    /** Reads one whole frame into {@link #buf} and checks its framing; returns its payload length. */
    private int readFrame() throws IOException {
        long at = position;
        long index = sequence;
        boolean first = header == null;
        readFully(0, HEADER_BYTES, "inside the header of frame " + index);
        type = buf[TYPE_OFFSET];
        long len = view.getInt(LENGTH_OFFSET) & 0xFFFF_FFFFL;
        if (first && (type != TYPE_BEGIN || len < BEGIN_FIXED_BYTES || len > MAX_BEGIN_PAYLOAD)) {
            throw new CorruptStreamException("not a Varve send stream: it does not start with a BEGIN frame");
        }
        long min;
        long max;
        switch (type) {
            case TYPE_BEGIN -> {
                min = BEGIN_FIXED_BYTES;
                max = MAX_BEGIN_PAYLOAD;
            }
            case TYPE_DATA -> {
                min = DATA_BYTES_START + 1;
                max = DATA_BYTES_START + MAX_DATA_BYTES;
            }
            case TYPE_HOLE -> min = max = HOLE_PAYLOAD_BYTES;
            case TYPE_END -> min = max = END_PAYLOAD_BYTES;
            default -> throw corrupt(at, index, "unknown frame type " + type);
        }
        if (len < min || len > max) {
            throw corrupt(at, index, "a " + typeName(type) + " frame of " + len + " payload bytes (expected "
                    + (min == max ? String.valueOf(min) : min + " to " + max) + ")");
        }
        int total = HEADER_BYTES + (int) len + CRC_BYTES;
        if (buf.length < total) {
            byte[] b = new byte[Math.max(total, Math.min(buf.length * 2, HEADER_BYTES + MAX_BEGIN_PAYLOAD + CRC_BYTES))];
            System.arraycopy(buf, 0, b, 0, HEADER_BYTES);
            buf = b;
            view = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
        }
        readFully(HEADER_BYTES, total - HEADER_BYTES, "inside frame " + index + " (" + typeName(type) + ", "
                + (total - FRAME_OVERHEAD) + " payload bytes)");
        if (first && view.getLong(HEADER_BYTES + MAGIC_OFFSET) != MAGIC) {
            throw new CorruptStreamException("not a Varve send stream: its first frame lacks the magic number");
        }
        frameCrc.reset();
        frameCrc.update(buf, 0, total - CRC_BYTES);
        int want = view.getInt(total - CRC_BYTES);
        if ((int) frameCrc.getValue() != want) {
            throw corrupt(at, index, "the " + typeName(type) + " frame fails its checksum (expected "
                    + Integer.toHexString(want) + ", found " + Integer.toHexString((int) frameCrc.getValue()) + ")");
        }
        long seq = view.getLong(SEQUENCE_OFFSET);
        if (seq != index) {
            throw corrupt(at, index, "the frame carries sequence number " + seq
                    + ": a frame was lost, repeated or reordered");
        }
        if (type != TYPE_END) {
            streamCrc.update(buf, 0, HEADER_BYTES);
            streamCrc.update(buf, total - CRC_BYTES, CRC_BYTES);
        }
        sequence++;
        return (int) len;
    }

    private void checkRange(long at, long index) throws CorruptStreamException {
        int bs = header.blockSize();
        if (length <= 0 || offset < nextOffset || offset % bs != 0 || length % bs != 0
                || length > header.size() - offset) {
            throw corrupt(at, index, "a " + typeName(type) + " frame for [" + offset + ", " + (offset + length)
                    + ") does not fit: frames must be block-aligned (" + bs + "), inside the volume (" + header.size()
                    + " bytes) and after the previous frame (which ended at " + nextOffset + ")");
        }
        nextOffset = offset + length;
    }

    private void checkTrailer(long at) throws CorruptStreamException {
        long frames = view.getLong(HEADER_BYTES + END_FRAMES_OFFSET);
        long data = view.getLong(HEADER_BYTES + END_DATA_BYTES_OFFSET);
        long holes = view.getLong(HEADER_BYTES + END_HOLE_BYTES_OFFSET);
        int crc = view.getInt(HEADER_BYTES + END_STREAM_CRC_OFFSET);
        long index = sequence - 1;
        if (frames != index) {
            throw corrupt(at, index, "the trailer counts " + frames + " frames before it, the stream had " + index);
        }
        if ((int) streamCrc.getValue() != crc) {
            throw corrupt(at, index, "the whole-stream checksum does not match (expected " + Integer.toHexString(crc)
                    + ", found " + Integer.toHexString((int) streamCrc.getValue()) + ")");
        }
        if (data != dataBytes || holes != holeBytes || data != header.dataBytes()) {
            throw corrupt(at, index, "the trailer counts " + data + " data and " + holes + " hole bytes, the stream had "
                    + dataBytes + " and " + holeBytes + " (its header announced " + header.dataBytes() + " data bytes)");
        }
        ended = true;
    }

    private void readFully(int off, int len, String where) throws TruncatedStreamException {
        int done = 0;
        try {
            while (done < len) {
                int n = in.read(buf, off + done, len - done);
                if (n < 0) {
                    position += done;
                    throw new TruncatedStreamException("the stream ended after " + position + " bytes, " + where
                            + ", before its END frame");
                }
                done += n;
            }
        } catch (TruncatedStreamException e) {
            throw e;
        } catch (IOException e) {
            position += done;
            throw new TruncatedStreamException("reading the stream failed after " + position + " bytes, " + where
                    + ": " + e.getMessage(), e);
        }
        position += len;
    }

    private static CorruptStreamException corrupt(long at, long index, String what) {
        return new CorruptStreamException("corrupt send stream: frame " + index + " at stream byte " + at + ": " + what);
    }
}
