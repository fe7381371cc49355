package dev.varve.fsck;

/**
 * The CRC32C of two pieces of data laid end to end, from the CRC32C of each and the second's
 * length, without the data: {@code crc(A ‖ B) = crc(A) · x^(8·|B|) mod P ⊕ crc(B)}, in the
 * reflected bit order CRC32C uses (the method of zlib's {@code crc32_combine}). The data check
 * computes the CRC32C of every 4 KiB of a data segment as it reads the segment front to back,
 * and a block of 8 KiB or more is checked from its pieces' CRCs.
 */
final class Crc32cCombine {
    /** CRC32C's polynomial (Castagnoli), reflected. */
    private static final int POLY = 0x82F63B78;
    /** x^(2^k) mod P for k = 0..31, reflected: x^0 is the top bit. */
    private static final int[] X2N = new int[32];

    static {
        int p = 1 << 30; // x^1
        for (int k = 0; k < 32; k++) {
            X2N[k] = p;
            p = multiply(p, p);
        }
    }

    private Crc32cCombine() {
    }

    /** a · b mod P, both reflected polynomials of degree below 32. */
    static int multiply(int a, int b) {
        int m = 1 << 31;
        int p = 0;
        while (true) {
            if ((a & m) != 0) {
                p ^= b;
                if ((a & (m - 1)) == 0) {
                    return p;
                }
            }
            m >>>= 1;
            b = (b & 1) != 0 ? (b >>> 1) ^ POLY : b >>> 1;
        }
    }

    /** The operator that appends {@code bytes} bytes: x^(8·bytes) mod P, for {@link #combine(int, int, int)}. */
    static int operator(long bytes) {
        int p = 1 << 31; // x^0
        int k = 3; // 8 = 2^3 bits a byte
        for (long n = bytes; n != 0; n >>>= 1, k++) {
            if ((n & 1) != 0) {
                p = multiply(X2N[k & 31], p);
            }
        }
        return p;
    }

    /** The CRC32C of A ‖ B, given {@code crcA}, {@code crcB} and B's {@link #operator(long) operator}. */
    static int combine(int crcA, int crcB, int operatorB) {
        return multiply(operatorB, crcA) ^ crcB;
    }
}
