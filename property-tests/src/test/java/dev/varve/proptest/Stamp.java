package dev.varve.proptest;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/**
 * A self-describing 4 KiB block: who wrote it (writer, sequence number, block) and a fill
 * derived from those, so any block read back can be checked on its own: torn, misplaced or
 * foreign content shows up without knowing what should be there.
 */
final class Stamp {
    static final int BLOCK = 4096;
    private static final long MAGIC = 0x504D4154535F5256L;

    final long writer;
    final long seq;
    final long block;

    Stamp(long writer, long seq, long block) {
        this.writer = writer;
        this.seq = seq;
        this.block = block;
    }

    byte[] bytes() {
        byte[] b = new byte[BLOCK];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(MAGIC).putLong(writer).putLong(seq).putLong(block);
        SplittableRandom r = new SplittableRandom(writer * 1_000_003L + seq * 31 + block);
        for (int i = 32; i < BLOCK; i += 8) {
            bb.putLong(i, r.nextLong());
        }
        return b;
    }

    /**
     * Decodes a block read back: null for a never-written (all-zero) block.
     *
     * @throws AssertionError when the block is neither zero nor an intact stamp
     */
    static Stamp parse(byte[] b, int off, long expectBlock) {
        ByteBuffer bb = ByteBuffer.wrap(b, off, BLOCK).slice().order(ByteOrder.LITTLE_ENDIAN);
        if (bb.getLong(0) == 0) {
            for (int i = 0; i < BLOCK; i++) {
                if (b[off + i] != 0) {
                    throw new AssertionError("block " + expectBlock + " is neither zero nor a stamp");
                }
            }
            return null;
        }
        if (bb.getLong(0) != MAGIC) {
            throw new AssertionError("block " + expectBlock + " holds foreign bytes");
        }
        Stamp s = new Stamp(bb.getLong(8), bb.getLong(16), bb.getLong(24));
        if (s.block != expectBlock) {
            throw new AssertionError("block " + expectBlock + " holds block " + s.block + "'s content");
        }
        if (!java.util.Arrays.equals(s.bytes(), 0, BLOCK, b, off, off + BLOCK)) {
            throw new AssertionError("block " + expectBlock + " is torn (stamp " + s + ")");
        }
        return s;
    }

    @Override
    public String toString() {
        return "writer " + writer + " seq " + seq + " block " + block;
    }
}
