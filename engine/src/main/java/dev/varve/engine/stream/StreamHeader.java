package dev.varve.engine.stream;

import static dev.varve.engine.stream.StreamLayout.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/**
 * What a stream's BEGIN frame says: which snapshot it carries, from which base (an incremental),
 * the volume's geometry, where a resumed stream starts, and the snapshot's properties.
 *
 * @param snapshotGuid the identity of the snapshot the stream recreates
 * @param baseGuid     the snapshot an incremental applies onto; null for a full stream
 * @param parentGuid   the sent snapshot's parent on its sender, or null: the receiver hangs the
 *                     new snapshot under it when it has that snapshot too
 * @param resumeOffset a resumed stream carries only what lies at or after this byte offset
 * @param dataBytes    the DATA bytes that follow (the END trailer repeats and checks it)
 */
public record StreamHeader(int version, UUID snapshotGuid, UUID baseGuid, UUID parentGuid, long size, int blockSize,
                           boolean resumed, long resumeOffset, long dataBytes, long createdMillis,
                           String volumeName, String snapshotName, String baseName,
                           Map<String, String> properties) {

    public StreamHeader {
        properties = Collections.unmodifiableMap(new TreeMap<>(properties));
        baseName = baseName == null ? "" : baseName;
    }

    public boolean incremental() {
        return baseGuid != null;
    }

    /** {@code VOLUME@SNAP} as the sender named it. */
    public String sentName() {
        return volumeName + "@" + snapshotName;
    }

    byte[] encode() {
        byte[][] names = {utf8(volumeName), utf8(snapshotName), utf8(baseName)};
        int n = BEGIN_FIXED_BYTES + 4;
        for (byte[] s : names) {
            n += 2 + s.length;
        }
        for (Map.Entry<String, String> kv : properties.entrySet()) {
            n += 8 + utf8(kv.getKey()).length + utf8(kv.getValue()).length;
        }
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(MAGIC_OFFSET, MAGIC);
        b.putInt(VERSION_OFFSET, version);
        b.putInt(FLAGS_OFFSET, (incremental() ? FLAG_INCREMENTAL : 0) | (resumed ? FLAG_RESUMED : 0));
        putGuid(b, SNAPSHOT_GUID_OFFSET, snapshotGuid);
        putGuid(b, BASE_GUID_OFFSET, baseGuid);
        putGuid(b, PARENT_GUID_OFFSET, parentGuid);
        b.putLong(SIZE_OFFSET, size);
        b.putInt(BLOCK_SIZE_OFFSET, blockSize);
        b.putLong(RESUME_OFFSET_OFFSET, resumeOffset);
        b.putLong(DATA_BYTES_OFFSET, dataBytes);
        b.putLong(CREATED_OFFSET, createdMillis);
        b.position(BEGIN_FIXED_BYTES);
        for (byte[] s : names) {
            if (s.length > 0xFFFF) {
                throw new IllegalArgumentException("name longer than 65535 bytes");
            }
            b.putShort((short) s.length).put(s);
        }
        b.putInt(properties.size());
        for (Map.Entry<String, String> kv : properties.entrySet()) {
            byte[] k = utf8(kv.getKey());
            byte[] v = utf8(kv.getValue());
            b.putInt(k.length).put(k).putInt(v.length).put(v);
        }
        return b.array();
    }

    /** Decodes a BEGIN payload whose frame checksum has been verified. */
    static StreamHeader decode(byte[] payload, int length) throws StreamException {
        ByteBuffer b = ByteBuffer.wrap(payload, 0, length).order(ByteOrder.LITTLE_ENDIAN);
        if (length < BEGIN_FIXED_BYTES) {
            throw new CorruptStreamException("the BEGIN frame is " + length + " bytes, shorter than its fixed "
                    + BEGIN_FIXED_BYTES);
        }
        int version = b.getInt(VERSION_OFFSET);
        if (version > VERSION) {
            throw new StreamVersionException("the stream is format version " + version + ", newer than this Varve reads ("
                    + VERSION + "); receive it with a newer Varve");
        }
        if (version < OLDEST_READABLE) {
            throw new StreamVersionException("the stream is format version " + version + ", older than this Varve reads ("
                    + OLDEST_READABLE + " to " + VERSION + ")");
        }
        int flags = b.getInt(FLAGS_OFFSET);
        UUID base = getGuid(b, BASE_GUID_OFFSET);
        if (((flags & FLAG_INCREMENTAL) != 0) != (base != null) || (flags & ~(FLAG_INCREMENTAL | FLAG_RESUMED)) != 0) {
            throw new CorruptStreamException("the BEGIN frame's flags " + flags + " do not agree with its base identity");
        }
        UUID snap = getGuid(b, SNAPSHOT_GUID_OFFSET);
        long size = b.getLong(SIZE_OFFSET);
        int blockSize = b.getInt(BLOCK_SIZE_OFFSET);
        long resume = b.getLong(RESUME_OFFSET_OFFSET);
        long dataBytes = b.getLong(DATA_BYTES_OFFSET);
        if (snap == null || blockSize < 512 || blockSize > 65536 || Integer.bitCount(blockSize) != 1 || size <= 0
                || size % blockSize != 0 || resume < 0 || resume > size || resume % blockSize != 0 || dataBytes < 0) {
            throw new CorruptStreamException("the BEGIN frame describes an impossible volume (size " + size
                    + ", block size " + blockSize + ", resume offset " + resume + ")");
        }
        try {
            b.position(BEGIN_FIXED_BYTES);
            String volume = string(b, b.getShort() & 0xFFFF);
            String snapshot = string(b, b.getShort() & 0xFFFF);
            String baseName = string(b, b.getShort() & 0xFFFF);
            int count = b.getInt();
            if (count < 0 || count > b.remaining() / 8) {
                throw new CorruptStreamException("the BEGIN frame claims " + count + " properties");
            }
            Map<String, String> props = new TreeMap<>();
            for (int i = 0; i < count; i++) {
                String k = string(b, b.getInt());
                props.put(k, string(b, b.getInt()));
            }
            if (b.hasRemaining()) {
                throw new CorruptStreamException("the BEGIN frame has " + b.remaining() + " bytes after its properties");
            }
            return new StreamHeader(version, snap, base, getGuid(b, PARENT_GUID_OFFSET), size, blockSize,
                    (flags & FLAG_RESUMED) != 0, resume, dataBytes, b.getLong(CREATED_OFFSET), volume, snapshot, baseName,
                    props);
        } catch (RuntimeException e) {
            throw new CorruptStreamException("the BEGIN frame's names or properties do not decode: " + e, e);
        }
    }

    private static String string(ByteBuffer b, int len) throws CorruptStreamException {
        if (len < 0 || len > b.remaining()) {
            throw new CorruptStreamException("a string of " + len + " bytes runs past the end of the BEGIN frame");
        }
        ByteBuffer s = b.slice();
        s.limit(len);
        b.position(b.position() + len);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(s).toString();
        } catch (CharacterCodingException e) {
            throw new CorruptStreamException("a name or property in the BEGIN frame is not UTF-8");
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void putGuid(ByteBuffer b, int at, UUID g) {
        b.putLong(at, g == null ? 0 : g.getMostSignificantBits());
        b.putLong(at + 8, g == null ? 0 : g.getLeastSignificantBits());
    }

    /** The all-zero identity means none. */
    private static UUID getGuid(ByteBuffer b, int at) {
        long hi = b.getLong(at);
        long lo = b.getLong(at + 8);
        return hi == 0 && lo == 0 ? null : new UUID(hi, lo);
    }
}
