package dev.varve.engine.btree;

import dev.varve.engine.LogAddress;
import java.util.Arrays;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * A run of logical blocks stored contiguously in a data segment: the value of an extent map
 * entry whose key is the first logical block. Every block's CRC32C lives here (as ZFS keeps
 * checksums in block pointers), so a block read back is verified against its pointer.
 * <pre>
 *  blocks u32 | address u64 | birth generation u64 | crc32c u32 * blocks
 * </pre>
 */
public final class Extent {
    /** Longest extent: longer writes become several extents, so a leaf stays a few KiB. */
    public static final int MAX_BLOCKS = 64;
    public static final int FIXED_BYTES = 4 + 8 + 8;

    public final int blocks;
    public final long address;
    public final long birth;
    private final int[] crcs;

    public Extent(int blocks, long address, long birth, int[] crcs) {
        if (blocks <= 0 || blocks > MAX_BLOCKS || crcs.length != blocks) {
            throw new IllegalArgumentException("invariant violated: extent of " + blocks + " blocks with "
                    + crcs.length + " checksums");
        }
        this.blocks = blocks;
        this.address = address;
        this.birth = birth;
        this.crcs = crcs;
    }

    public int crc(int block) {
        return crcs[block];
    }

    /** The blocks {@code [from, from+count)} of this extent as an extent of their own. */
    public Extent slice(int from, int count, int blockSize) {
        return new Extent(count, address + (long) from * blockSize, birth,
                Arrays.copyOfRange(crcs, from, from + count));
    }

    /** This extent followed by {@code next}, which must start where this one ends in the log. */
    public Extent concat(Extent next) {
        int[] c = Arrays.copyOf(crcs, blocks + next.blocks);
        System.arraycopy(next.crcs, 0, c, blocks, next.blocks);
        return new Extent(blocks + next.blocks, address, birth, c);
    }

    @Override
    public String toString() {
        return "Extent[" + blocks + " blocks at " + LogAddress.toString(address) + ", born " + birth + "]";
    }

    public static final ValueCodec<Extent> CODEC = new ValueCodec<>() {
        @Override
        public int encodedLength(Extent e) {
            return FIXED_BYTES + 4 * e.blocks;
        }

        @Override
        public int encode(Extent e, MutableDirectBuffer buf, int offset) {
            buf.putInt(offset, e.blocks);
            buf.putLong(offset + 4, e.address);
            buf.putLong(offset + 12, e.birth);
            int p = offset + FIXED_BYTES;
            for (int i = 0; i < e.blocks; i++) {
                buf.putInt(p, e.crcs[i]);
                p += 4;
            }
            return p - offset;
        }

        @Override
        public Extent decode(DirectBuffer buf, int offset, int[] lengthOut) {
            int blocks = buf.getInt(offset);
            if (blocks <= 0 || blocks > MAX_BLOCKS) {
                throw new IllegalArgumentException("extent length " + blocks + " out of range");
            }
            if (offset + FIXED_BYTES + 4L * blocks > buf.capacity()) {
                throw new IllegalArgumentException("extent runs past the record end");
            }
            long addr = buf.getLong(offset + 4);
            long birth = buf.getLong(offset + 12);
            int[] c = new int[blocks];
            int p = offset + FIXED_BYTES;
            for (int i = 0; i < blocks; i++) {
                c[i] = buf.getInt(p);
                p += 4;
            }
            lengthOut[0] = p - offset;
            return new Extent(blocks, addr, birth, c);
        }

        @Override
        public long minSegment(Extent e) {
            return LogAddress.segment(e.address);
        }
    };
}
