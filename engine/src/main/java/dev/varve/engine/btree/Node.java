package dev.varve.engine.btree;

import java.util.Arrays;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * One tree page, leaf or interior. A node is <em>clean</em> once written to the log: then it
 * has an address and is never changed again, so it can sit in a cache shared by every tree
 * that points at it. A <em>dirty</em> node belongs to exactly one tree head in the open
 * transaction group and is changed in place; writing it at commit makes it clean.
 *
 * <p>Payload layout (after the record header):
 * <pre>
 *  leaf:     count u16 | zero u16 | { key u64 | value (codec) } * count
 *  interior: count u16 | zero u16 | { key u64 | addr u64 | length u32 | generation u64 | minSegment u32 } * count
 * </pre>
 * An interior key is the lowest key of its child's subtree (or lower).
 */
public final class Node<V> {
    public static final int POINTER_BYTES = 8 + 8 + 4 + 8 + 4;
    static final int PREFIX_BYTES = 4;

    final boolean leaf;
    int count;
    long[] keys;
    Object[] values;          // leaf
    long[] childAddr;         // interior
    int[] childLen;
    long[] childGen;
    long[] childMinSeg;
    Node<V>[] children;       // interior: in-memory child, set while the child is dirty

    /** A leaf's payload bytes as encoded ({@link #encodedLength}), kept as entries change. */
    int bytes = PREFIX_BYTES;
    boolean dirty;
    long address;
    int length;
    long generation;
    long minSegment = Long.MAX_VALUE;

    @SuppressWarnings("unchecked")
    Node(boolean leaf, int capacity) {
        this.leaf = leaf;
        this.keys = new long[capacity];
        if (leaf) {
            values = new Object[capacity];
        } else {
            childAddr = new long[capacity];
            childLen = new int[capacity];
            childGen = new long[capacity];
            childMinSeg = new long[capacity];
            children = new Node[capacity];
        }
        this.dirty = true;
    }

    public boolean isLeaf() {
        return leaf;
    }

    public int count() {
        return count;
    }

    public long key(int i) {
        return keys[i];
    }

    @SuppressWarnings("unchecked")
    public V value(int i) {
        return (V) values[i];
    }

    public long childAddress(int i) {
        return childAddr[i];
    }

    public int childLength(int i) {
        return childLen[i];
    }

    public long childGeneration(int i) {
        return childGen[i];
    }

    public long childMinSegment(int i) {
        return childMinSeg[i];
    }

    /** The in-memory child, when it is dirty (not yet written); null otherwise. */
    public Node<V> dirtyChild(int i) {
        return children[i];
    }

    public boolean isDirty() {
        return dirty;
    }

    public long address() {
        return address;
    }

    public int length() {
        return length;
    }

    public long generation() {
        return generation;
    }

    public long minSegment() {
        return minSegment;
    }

    /** A dirty copy of a clean node, for path copying. */
    Node<V> copy(int extra) {
        Node<V> n = new Node<>(leaf, Math.max(keys.length, count + extra));
        n.count = count;
        n.bytes = bytes;
        System.arraycopy(keys, 0, n.keys, 0, count);
        if (leaf) {
            System.arraycopy(values, 0, n.values, 0, count);
        } else {
            System.arraycopy(childAddr, 0, n.childAddr, 0, count);
            System.arraycopy(childLen, 0, n.childLen, 0, count);
            System.arraycopy(childGen, 0, n.childGen, 0, count);
            System.arraycopy(childMinSeg, 0, n.childMinSeg, 0, count);
            System.arraycopy(children, 0, n.children, 0, count);
        }
        return n;
    }

    void ensureCapacity(int n) {
        if (keys.length >= n) {
            return;
        }
        int cap = Math.max(n, keys.length * 2);
        keys = Arrays.copyOf(keys, cap);
        if (leaf) {
            values = Arrays.copyOf(values, cap);
        } else {
            childAddr = Arrays.copyOf(childAddr, cap);
            childLen = Arrays.copyOf(childLen, cap);
            childGen = Arrays.copyOf(childGen, cap);
            childMinSeg = Arrays.copyOf(childMinSeg, cap);
            children = Arrays.copyOf(children, cap);
        }
    }

    /** Index of the last key at or below {@code key}; -1 when every key is above it. */
    int floorIndex(long key) {
        int lo = 0;
        int hi = count - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            long k = keys[mid];
            if (k <= key) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return hi;
    }

    int encodedLength(ValueCodec<V> codec) {
        int n = PREFIX_BYTES;
        if (leaf) {
            for (int i = 0; i < count; i++) {
                n += 8 + codec.encodedLength(value(i));
            }
        } else {
            n += count * POINTER_BYTES;
        }
        return n;
    }

    int encode(ValueCodec<V> codec, MutableDirectBuffer buf, int offset) {
        int p = offset;
        buf.putShort(p, (short) count);
        buf.putShort(p + 2, (short) 0);
        p += PREFIX_BYTES;
        for (int i = 0; i < count; i++) {
            buf.putLong(p, keys[i]);
            p += 8;
            if (leaf) {
                p += codec.encode(value(i), buf, p);
            } else {
                buf.putLong(p, childAddr[i]);
                buf.putInt(p + 8, childLen[i]);
                buf.putLong(p + 12, childGen[i]);
                buf.putInt(p + 20, (int) Math.min(childMinSeg[i], 0xFFFF_FFFFL));
                p += POINTER_BYTES - 8;
            }
        }
        return p - offset;
    }

    /**
     * Decodes a node payload; throws IllegalArgumentException on a payload that does not parse
     * (the caller turns it into a corruption error naming the address).
     */
    static <V> Node<V> decode(boolean leaf, ValueCodec<V> codec, DirectBuffer buf, int offset, int length) {
        int count = buf.getShort(offset) & 0xFFFF;
        Node<V> n = new Node<>(leaf, Math.max(count, 1));
        int p = offset + PREFIX_BYTES;
        int end = offset + length;
        int[] len = new int[1];
        long prev = Long.MIN_VALUE;
        for (int i = 0; i < count; i++) {
            if (p + 8 > end) {
                throw new IllegalArgumentException("node entry " + i + " runs past the record end");
            }
            long k = buf.getLong(p);
            if (i > 0 && k <= prev) {
                throw new IllegalArgumentException("keys out of order at entry " + i);
            }
            prev = k;
            n.keys[i] = k;
            p += 8;
            if (leaf) {
                n.values[i] = codec.decode(buf, p, len);
                p += len[0];
            } else {
                if (p + POINTER_BYTES - 8 > end) {
                    throw new IllegalArgumentException("pointer " + i + " runs past the record end");
                }
                n.childAddr[i] = buf.getLong(p);
                n.childLen[i] = buf.getInt(p + 8);
                n.childGen[i] = buf.getLong(p + 12);
                n.childMinSeg[i] = buf.getInt(p + 20) & 0xFFFF_FFFFL;
                p += POINTER_BYTES - 8;
            }
            if (p > end) {
                throw new IllegalArgumentException("node entry " + i + " runs past the record end");
            }
        }
        n.count = count;
        n.bytes = p - offset;
        n.dirty = false;
        return n;
    }
}
