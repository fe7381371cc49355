package dev.varve.engine;

/** A range of bytes of a volume or snapshot: {@code [offset, offset + length)}. */
public record ByteRange(long offset, long length) {
    public ByteRange {
        if (offset < 0 || length <= 0) {
            throw new IllegalArgumentException("invariant violated: range [" + offset + ", +" + length + ")");
        }
    }

    public long end() {
        return offset + length;
    }
}
