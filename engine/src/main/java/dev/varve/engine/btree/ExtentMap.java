package dev.varve.engine.btree;

import java.io.IOException;
import org.agrona.collections.LongArrayList;

/**
 * A volume's map from logical block number to {@link Extent}s, over a {@link CowTree}. Extents
 * never overlap; blocks no extent covers are holes and read as zeros.
 */
public final class ExtentMap {
    private final CowTree<Extent> tree;
    private final int blockSize;

    public ExtentMap(CowTree<Extent> tree, int blockSize) {
        this.tree = tree;
        this.blockSize = blockSize;
    }

    public CowTree<Extent> tree() {
        return tree;
    }

    /** Receives the runs of a mapped range in order: an extent piece, or a hole (extent null). */
    @FunctionalInterface
    public interface RunVisitor {
        /**
         * @param lba    first logical block of the run
         * @param count  blocks in the run
         * @param extent the extent holding it, or null for a hole
         * @param skip   index of the run's first block inside the extent
         */
        void run(long lba, long count, Extent extent, int skip) throws IOException;
    }

    /**
     * Visits every run of {@code [lba, lba+count)}, holes included, in order. The leaf one
     * descent reaches holds the floor of {@code lba} whenever it has a key at or below it; a
     * range that stays within that leaf (a block read almost always does) is mapped from it
     * alone, and anything else by a scan from where the leaf left off.
     */
    public void map(long lba, long count, RunVisitor visitor) throws IOException {
        Runs runs = new Runs(lba, lba + count, visitor);
        Node<Extent> leaf = tree.leafFor(lba);
        int j = leaf == null ? -1 : leaf.floorIndex(lba);
        if (j >= 0) {
            for (; j < leaf.count; j++) {
                if (!runs.take(leaf.keys[j], leaf.value(j))) {
                    runs.holeToEnd();
                    return;
                }
            }
        }
        // no floor in that leaf, or it ran out: the entries from the cursor on, whatever leaf holds them
        tree.scan(runs.cursor, runs::take);
        runs.holeToEnd();
    }

    /** Turns the entries of a range, taken in key order, into runs: extent pieces and the holes between. */
    private static final class Runs {
        private final long end;
        private final RunVisitor visitor;
        long cursor;

        Runs(long from, long end, RunVisitor visitor) {
            this.cursor = from;
            this.end = end;
            this.visitor = visitor;
        }

        /** Takes the entry at {@code key}; false once the range is covered or the entry starts past it. */
        boolean take(long key, Extent e) throws IOException {
            long eEnd = key + e.blocks;
            if (eEnd <= cursor) {
                return true;
            }
            if (key >= end) {
                return false;
            }
            if (key > cursor) {
                visitor.run(cursor, key - cursor, null, 0);
                cursor = key;
            }
            long stop = Math.min(eEnd, end);
            visitor.run(cursor, stop - cursor, e, (int) (cursor - key));
            cursor = stop;
            return stop < end;
        }

        void holeToEnd() throws IOException {
            if (cursor < end) {
                visitor.run(cursor, end - cursor, null, 0);
            }
        }
    }

    /** The extent holding block {@code lba}, or null when it is a hole. */
    public Extent extentAt(long lba) throws IOException {
        java.util.Map.Entry<Long, Extent> f = tree.floorEntry(lba);
        return f != null && f.getKey() + f.getValue().blocks > lba ? f.getValue() : null;
    }

    /** Maps {@code [lba, lba+e.blocks)} to {@code e}, replacing whatever was there. */
    public void insert(long lba, Extent e) throws IOException {
        // the entry before lba (a run this write may continue) and the one at or before it
        long prevKey = -1;
        Extent prev = null;
        long atKey = -1;
        Extent at = null;
        Node<Extent> leaf = tree.leafFor(lba);
        int i = leaf == null ? -1 : leaf.floorIndex(lba);
        if (i >= 0 && (leaf.keys[i] < lba || i > 0 || lba == 0)) {
            // the common case, in one descent: both are in this leaf
            atKey = leaf.keys[i];
            at = leaf.value(i);
            int p = atKey < lba ? i : i - 1;
            if (p >= 0) {
                prevKey = leaf.keys[p];
                prev = leaf.value(p);
            }
        } else {
            java.util.Map.Entry<Long, Extent> pe = lba > 0 ? tree.floorEntry(lba - 1) : null;
            if (pe != null) {
                prevKey = pe.getKey();
                prev = pe.getValue();
            }
            java.util.Map.Entry<Long, Extent> ae = tree.floorEntry(lba);
            if (ae != null) {
                atKey = ae.getKey();
                at = ae.getValue();
            }
        }
        if (prev != null && mergeable(prevKey, prev, lba, e)) {
            punch(lba, e.blocks);
            tree.put(prevKey, prev.concat(e));
        } else if (at != null && atKey == lba && at.blocks == e.blocks) {
            tree.put(lba, e); // the same blocks written again as they were (a random overwrite): one change
        } else {
            punch(lba, e.blocks);
            tree.put(lba, e);
        }
    }

    /** True when {@code e} at {@code lba} continues {@code p} at {@code key}, in the map and in the log. */
    private boolean mergeable(long key, Extent p, long lba, Extent e) {
        return key + p.blocks == lba && p.birth == e.birth && p.blocks + e.blocks <= Extent.MAX_BLOCKS
                && p.address + (long) p.blocks * blockSize == e.address;
    }

    /** Unmaps {@code [lba, lba+count)}: afterwards it is a hole. */
    public void punch(long lba, long count) throws IOException {
        long end = lba + count;
        long f = tree.floorKey(lba);
        if (f != Long.MIN_VALUE && f < lba) {
            Extent e = tree.get(f);
            long eEnd = f + e.blocks;
            if (eEnd > lba) {
                tree.put(f, e.slice(0, (int) (lba - f), blockSize));
                if (eEnd > end) {
                    tree.put(end, e.slice((int) (end - f), (int) (eEnd - end), blockSize));
                    return;
                }
            }
        }
        LongArrayList keys = new LongArrayList();
        tree.scan(lba, (key, e) -> {
            if (key >= end) {
                return false;
            }
            if (key >= lba) {
                keys.addLong(key);
            }
            return true;
        });
        for (int i = 0; i < keys.size(); i++) {
            long k = keys.getLong(i);
            Extent e = tree.get(k);
            tree.remove(k);
            long eEnd = k + e.blocks;
            if (eEnd > end) {
                tree.put(end, e.slice((int) (end - k), (int) (eEnd - end), blockSize));
            }
        }
    }
}
