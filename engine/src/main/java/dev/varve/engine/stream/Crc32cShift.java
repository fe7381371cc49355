package dev.varve.engine.stream;

/**
 * Extends a CRC32C over a fixed number of further bytes whose own CRC32C is known, without
 * reading them again: {@code crc(A ‖ B) = shift(crc(A)) ^ crc(B)} for every B of
 * {@code length} bytes (the combination zlib's {@code crc32_combine} uses). Shifting a CRC over
 * {@code length} zero bytes is linear over GF(2), so it is built once as four byte-indexed
 * tables and applied with four lookups. A send uses it to checksum a DATA frame from the
 * per-block CRCs its read has just verified, instead of a second pass over the data.
 */
public final class Crc32cShift {
    /** CRC32C (Castagnoli), reflected. */
    private static final int POLY = 0x82F63B78;

    private final long length;
    private final int[] table = new int[4 * 256];

    public Crc32cShift(long length) {
        if (length < 0) {
            throw new IllegalArgumentException("a length in bytes, not " + length);
        }
        this.length = length;
        // the image of each basis bit under "feed length zero bytes", by squaring: the operator
        // for one zero bit, then 2, 4, 8 ... bits, applied for each set bit of length * 8
        int[] op = new int[32];
        op[0] = POLY;
        for (int i = 1; i < 32; i++) {
            op[i] = 1 << (i - 1);
        }
        int[] result = identity();
        long bits = length * 8;
        while (bits != 0) {
            if ((bits & 1) != 0) {
                result = compose(op, result);
            }
            bits >>>= 1;
            if (bits != 0) {
                op = compose(op, op);
            }
        }
        for (int k = 0; k < 4; k++) {
            for (int b = 0; b < 256; b++) {
                int v = 0;
                for (int j = 0; j < 8; j++) {
                    if ((b & (1 << j)) != 0) {
                        v ^= result[8 * k + j];
                    }
                }
                table[k * 256 + b] = v;
            }
        }
    }

    /** The number of bytes this shift spans. */
    public long length() {
        return length;
    }

    /** {@code crc(A ‖ B)} from {@code crcA = crc(A)} and {@code crcB = crc(B)}, B being {@link #length()} bytes. */
    public int combine(int crcA, int crcB) {
        return shift(crcA) ^ crcB;
    }

    /** {@code crcA} carried over {@link #length()} zero bytes (unconditioned). */
    public int shift(int crc) {
        return table[crc & 0xff] ^ table[256 + ((crc >>> 8) & 0xff)] ^ table[512 + ((crc >>> 16) & 0xff)]
                ^ table[768 + (crc >>> 24)];
    }

    private static int[] identity() {
        int[] m = new int[32];
        for (int i = 0; i < 32; i++) {
            m[i] = 1 << i;
        }
        return m;
    }

    /** {@code a} after {@code b}: column i of the result is a applied to column i of b. */
    private static int[] compose(int[] a, int[] b) {
        int[] m = new int[32];
        for (int i = 0; i < 32; i++) {
            m[i] = apply(a, b[i]);
        }
        return m;
    }

    private static int apply(int[] m, int v) {
        int r = 0;
        for (int i = 0; v != 0; i++, v >>>= 1) {
            if ((v & 1) != 0) {
                r ^= m[i];
            }
        }
        return r;
    }
}
