package dev.varve.fsck;

import java.util.Arrays;

/**
 * Byte ranges [from, to) of one segment, gathered in any order and merged once, when first
 * measured. The check gathers one per extent it reaches (every data block a tree points at)
 * and one per data summary entry (every block written), tens of thousands for a store of a
 * few hundred MiB, and only ever asks how many bytes of one set the other does not cover.
 *
 * <p>Kept as two growing arrays, the starts and the ends, each sorted on its own: the union
 * of ranges is where more starts than ends lie at or before a point, so the pairs need not
 * stay together. A {@code TreeMap} merged as it went cost three boxed longs and two map
 * entries per range: about 4 MB of fresh heap per check of that store, and memory a process
 * touches for the first time costs a page fault per 4 KiB (20 us each on the benchmark's VM).
 */
final class ByteRanges {
    private long[] starts = new long[16];
    private long[] ends = new long[16];
    private int size;
    private boolean merged = true;

    /** Adds [from, to); an empty range adds nothing. */
    void add(long from, long to) {
        if (from >= to) {
            return;
        }
        if (size == starts.length) {
            starts = Arrays.copyOf(starts, size * 2);
            ends = Arrays.copyOf(ends, size * 2);
        }
        starts[size] = from;
        ends[size] = to;
        size++;
        merged = false;
    }

    /** Bytes of these ranges that {@code other} (may be null) does not cover. */
    long bytesNotIn(ByteRanges other) {
        merge();
        if (other != null) {
            other.merge();
        }
        long n = 0;
        int j = 0;
        for (int i = 0; i < size; i++) {
            long at = starts[i];
            long end = ends[i];
            if (other != null) {
                while (j < other.size && other.ends[j] <= at) {
                    j++;
                }
                for (int k = j; k < other.size && other.starts[k] < end; k++) {
                    n += Math.max(0, other.starts[k] - at);
                    at = Math.max(at, Math.min(end, other.ends[k]));
                }
            }
            n += end - at;
        }
        return n;
    }

    /**
     * Sorts the starts and the ends apart and sweeps them (a start before an end at the same
     * offset, so ranges that touch merge): a merged range opens where the count of open ranges
     * leaves 0 and closes where it returns to 0. The k-th merged range is written once k+1
     * starts and k+1 ends have been read, so it may overwrite what was read.
     */
    private void merge() {
        if (merged) {
            return;
        }
        Arrays.sort(starts, 0, size);
        Arrays.sort(ends, 0, size);
        int k = 0;
        int i = 0;
        int open = 0;
        long from = 0;
        for (int j = 0; j < size; ) {
            if (i < size && starts[i] <= ends[j]) {
                if (open++ == 0) {
                    from = starts[i];
                }
                i++;
            } else {
                if (--open == 0) {
                    starts[k] = from;
                    ends[k] = ends[j];
                    k++;
                }
                j++;
            }
        }
        size = k;
        merged = true;
    }
}
