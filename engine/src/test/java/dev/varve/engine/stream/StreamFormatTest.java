package dev.varve.engine.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.Map;
import java.util.UUID;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** Pins the send stream's bytes, and what the reader refuses. */
class StreamFormatTest {
    private static final UUID SNAP = UUID.fromString("00112233-4455-6677-8899-aabbccddeeff");
    private static final UUID BASE = UUID.fromString("ffeeddcc-bbaa-9988-7766-554433221100");

    private static StreamHeader header(UUID base, int version) {
        return new StreamHeader(version, SNAP, base, null, 1 << 20, 4096, false, 0, 4096, 1_700_000_000_000L, "vm", "s1",
                base == null ? "" : "s0", Map.of("k", "v"));
    }

    private static byte[] stream(StreamHeader h) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        FrameWriter w = new FrameWriter(out);
        w.begin(h);
        byte[] block = new byte[4096];
        block[0] = 42;
        w.data(8192, block, 0, block.length);
        if (h.incremental()) {
            w.hole(65536, 8192);
        }
        w.end();
        return out.toByteArray();
    }

    @Test
    void theBytesArePinned() throws Exception {
        byte[] s = stream(header(BASE, StreamLayout.VERSION));
        ByteBuffer b = ByteBuffer.wrap(s).order(ByteOrder.LITTLE_ENDIAN);
        int beginLen = b.getInt(4);
        // BEGIN: fixed part, three names (u16 + 2 bytes each), one property
        assertEquals(StreamLayout.BEGIN_FIXED_BYTES + 3 * (2 + 2) + 4 + (4 + 1 + 4 + 1), beginLen);
        assertEquals(104, StreamLayout.BEGIN_FIXED_BYTES);
        assertEquals("01000000" + "82000000" + "0000000000000000", HexFormat.of().formatHex(s, 0, 16),
                "type, zero, payload length 130, sequence 0");
        assertEquals("5641525653454e44", HexFormat.of().formatHex(s, 16, 24), "the magic reads VARVSEND");
        assertEquals(StreamLayout.VERSION, b.getInt(16 + 8));
        assertEquals(StreamLayout.FLAG_INCREMENTAL, b.getInt(16 + 12));
        assertEquals("8899aabbccddeeff0011223344556677", HexFormat.of().formatHex(s, 16 + 32, 16 + 48),
                "a guid is its two longs, most significant first, each little-endian");
        assertEquals(1 << 20, b.getLong(16 + 64));
        assertEquals(4096, b.getInt(16 + 72));
        assertEquals(4096, b.getLong(16 + 88));
        CRC32C crc = new CRC32C();
        crc.update(s, 0, 16 + beginLen);
        assertEquals((int) crc.getValue(), b.getInt(16 + beginLen), "the CRC covers the header and the payload");

        int data = 16 + beginLen + 4;
        assertEquals(StreamLayout.TYPE_DATA, s[data]);
        assertEquals(8 + 4096, b.getInt(data + 4));
        assertEquals(1, b.getLong(data + 8), "sequence");
        assertEquals(8192, b.getLong(data + 16));
        assertEquals(42, s[data + 24]);
        int hole = data + StreamLayout.FRAME_OVERHEAD + 8 + 4096;
        assertEquals(StreamLayout.TYPE_HOLE, s[hole]);
        assertEquals(65536, b.getLong(hole + 16));
        assertEquals(8192, b.getLong(hole + 24));
        int end = hole + StreamLayout.FRAME_OVERHEAD + 16;
        assertEquals(StreamLayout.TYPE_END, s[end]);
        assertEquals(3, b.getLong(end + 16), "frames before END");
        assertEquals(4096, b.getLong(end + 24));
        assertEquals(8192, b.getLong(end + 32));
        crc.reset();
        for (int frame : new int[] {0, data, hole}) {
            int len = b.getInt(frame + 4);
            crc.update(s, frame, 16);
            crc.update(s, frame + 16 + len, 4);
        }
        assertEquals((int) crc.getValue(), b.getInt(end + 40), "the stream CRC covers each frame's header and CRC");
        assertEquals(end + StreamLayout.FRAME_OVERHEAD + StreamLayout.END_PAYLOAD_BYTES, s.length);
    }

    @Test
    void aStreamReadsBack() throws Exception {
        StreamHeader h = header(BASE, StreamLayout.VERSION);
        FrameReader r = new FrameReader(new ByteArrayInputStream(stream(h)));
        assertEquals(h, r.begin());
        assertEquals(StreamLayout.TYPE_DATA, r.next());
        assertEquals(8192, r.offset());
        assertEquals(4096, r.length());
        assertEquals(42, r.buffer()[r.dataStart()]);
        assertEquals(StreamLayout.TYPE_HOLE, r.next());
        assertEquals(StreamLayout.TYPE_END, r.next());
        StreamHeader full = new FrameReader(new ByteArrayInputStream(stream(header(null, 1)))).begin();
        assertNull(full.baseGuid());
    }

    @Test
    void aNewerVersionIsRefused() throws Exception {
        byte[] s = stream(header(null, StreamLayout.VERSION + 1));
        StreamVersionException e = assertThrows(StreamVersionException.class,
                () -> new FrameReader(new ByteArrayInputStream(s)).begin());
        assertTrue(e.getMessage().contains("newer"), e.getMessage());
    }

    @Test
    void framesOutOfOrderAreRefused() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        FrameWriter w = new FrameWriter(out);
        w.begin(header(BASE, 1));
        w.hole(65536, 4096);
        w.hole(8192, 4096);
        w.end();
        FrameReader r = new FrameReader(new ByteArrayInputStream(out.toByteArray()));
        r.begin();
        r.next();
        CorruptStreamException e = assertThrows(CorruptStreamException.class, r::next);
        assertTrue(e.getMessage().contains("after the previous frame"), e.getMessage());
    }

    @Test
    void aDroppedFrameIsCaughtBySequence() throws Exception {
        byte[] s = stream(header(BASE, 1));
        int beginEnd = 16 + ByteBuffer.wrap(s).order(ByteOrder.LITTLE_ENDIAN).getInt(4) + 4;
        int dataLen = StreamLayout.FRAME_OVERHEAD + 8 + 4096;
        byte[] dropped = new byte[s.length - dataLen];
        System.arraycopy(s, 0, dropped, 0, beginEnd);
        System.arraycopy(s, beginEnd + dataLen, dropped, beginEnd, s.length - beginEnd - dataLen);
        FrameReader r = new FrameReader(new ByteArrayInputStream(dropped));
        r.begin();
        CorruptStreamException e = assertThrows(CorruptStreamException.class, r::next);
        assertTrue(e.getMessage().contains("lost, repeated or reordered"), e.getMessage());
    }

    @Test
    void resumeTokensRoundTrip() {
        ResumeToken t = new ResumeToken(SNAP, null, 1 << 20);
        assertEquals("varve1:00112233-4455-6677-8899-aabbccddeeff:full:1048576", t.toString());
        assertEquals(t, ResumeToken.parse(t.toString()));
        ResumeToken i = new ResumeToken(SNAP, BASE, 4096);
        assertEquals(i, ResumeToken.parse(" " + i + "\n"));
        assertThrows(IllegalArgumentException.class, () -> ResumeToken.parse("varve1:nope"));
    }
}
