package dev.varve.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Blocking reads and writes of whole buffers on a socket channel. */
final class Wire {
    private Wire() {
    }

    /** Fills {@code b} to its limit. */
    static void readFully(ByteChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("the client closed the connection");
            }
        }
    }

    /** Reads and drops {@code n} bytes through {@code scratch}. */
    static void skip(ByteChannel ch, long n, ByteBuffer scratch) throws IOException {
        while (n > 0) {
            scratch.clear().limit((int) Math.min(scratch.capacity(), n));
            readFully(ch, scratch);
            n -= scratch.limit();
        }
    }

    /** Writes every buffer to its limit, together (one system call when the socket takes it all). */
    static void writeFully(GatheringByteChannel ch, ByteBuffer... bs) throws IOException {
        long left = 0;
        for (ByteBuffer b : bs) {
            left += b.remaining();
        }
        while (left > 0) {
            left -= ch.write(bs);
        }
    }

    /** Decodes strict UTF-8, or returns null when the bytes are not UTF-8. */
    static String utf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
