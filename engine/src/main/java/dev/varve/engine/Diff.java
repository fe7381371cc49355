package dev.varve.engine;

import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.Node;
import dev.varve.engine.btree.TreeKind;
import dev.varve.engine.btree.TreePointer;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Changed-block tracking from the trees themselves: the blocks whose mapping differs between
 * two committed extent-map roots.
 *
 * <p>Both trees are walked together, each as a queue of pending subtrees and entries in key
 * order. When the heads of both queues are the same node (same log address) its whole subtree
 * is the same in both trees and is skipped; otherwise the larger head is opened. So only the
 * paths copied since the two roots diverged are read, and the cost follows the change, not
 * the volume. Skipping is sound whatever the trees' shapes: both queues hold everything not
 * yet consumed, in order, so a node at both heads has the same entries before it in each tree.
 *
 * <p>The entries that were not skipped are then compared block by block: a block differs
 * when one side maps it and the other does not (data against a hole), or when both map it to
 * different data addresses. A block rewritten with the same bytes counts as changed, as in
 * any changed-block tracking; a block covered by a skipped subtree cannot be covered by
 * anything else, since extents never overlap.
 */
final class Diff {
    private final Store store;
    private final int blockSize;
    private long nodesRead;

    private Diff(Store store, int blockSize) {
        this.store = store;
        this.blockSize = blockSize;
    }

    /** A pending subtree ({@code extent == null}) or an entry of a leaf. */
    private record Item(int level, long key, long address, int length, long generation, Extent extent) {
        boolean isNode() {
            return extent == null;
        }

        long end() {
            return key + extent.blocks;
        }

        long addressOf(long lba, int blockSize) {
            return extent.address + (lba - key) * blockSize;
        }
    }

    /** What {@link #between} found, and the tree nodes it read to find it. */
    record Result(List<ByteRange> ranges, long nodesRead) {
    }

    /**
     * The byte ranges, sorted and merged, that differ between {@code from} and {@code to}
     * ({@code VOL} or {@code VOL@SNAP}); what lies beyond the smaller size differs too.
     */
    static Result between(Store store, String from, String to) throws IOException {
        if (from.indexOf('@') < 0 || to.indexOf('@') < 0) {
            store.commit(); // a head's writes so far are in its committed root
        }
        // taken before the roots are read: no segment they point into can be deleted under the walk
        store.reclaimLock().readLock().lock();
        try {
            CommittedRoot[] r = store.committedRoots(from, to);
            return between(store, r[0], r[1]);
        } finally {
            store.reclaimLock().readLock().unlock();
        }
    }

    private static Result between(Store store, CommittedRoot a, CommittedRoot b) throws IOException {
        if (a.blockSize() != b.blockSize()) {
            throw new IllegalArgumentException(a.name() + " has " + a.blockSize() + "-byte blocks and " + b.name()
                    + " " + b.blockSize() + "-byte blocks; only devices with the same block size can be compared");
        }
        Diff d = new Diff(store, a.blockSize());
        List<ByteRange> out = new ArrayList<>();
        long bs = a.blockSize();
        long small = Math.min(a.size(), b.size());
        d.changedBlocks(a.root(), b.root(), (lba, end) -> {
            long from = lba * bs;
            long to = Math.min(end * bs, small);
            if (from < to) {
                add(out, from, to);
            }
        });
        if (a.size() != b.size()) {
            add(out, small, Math.max(a.size(), b.size()));
        }
        return new Result(List.copyOf(out), d.nodesRead);
    }

    private static void add(List<ByteRange> out, long from, long to) {
        int last = out.size() - 1;
        if (last >= 0 && out.get(last).end() == from) {
            out.set(last, new ByteRange(out.get(last).offset(), to - out.get(last).offset()));
        } else {
            out.add(new ByteRange(from, to - from));
        }
    }

    @FunctionalInterface
    private interface BlockSink {
        void changed(long lba, long end);
    }

    private void changedBlocks(TreePointer ra, TreePointer rb, BlockSink sink) throws IOException {
        if (ra.address() == rb.address()) {
            return;
        }
        Deque<Item> a = queue(ra);
        Deque<Item> b = queue(rb);
        List<Item> onlyA = new ArrayList<>();
        List<Item> onlyB = new ArrayList<>();
        while (!a.isEmpty() && !b.isEmpty()) {
            Item x = a.peekFirst();
            Item y = b.peekFirst();
            if (x.isNode() && y.isNode()) {
                if (x.address() == y.address()) {
                    a.pollFirst();
                    b.pollFirst();
                } else if (x.level() != y.level()) {
                    open(x.level() > y.level() ? a : b);
                } else if (x.key() != y.key()) {
                    open(x.key() < y.key() ? a : b);
                } else {
                    open(a);
                    open(b);
                }
            } else if (!x.isNode() && !y.isNode()) {
                if (x.key() <= y.key()) {
                    onlyA.add(a.pollFirst());
                }
                if (y.key() <= x.key()) {
                    onlyB.add(b.pollFirst());
                }
            } else if (!x.isNode()) {
                // a node's key is a lower bound of its subtree: an entry before it comes first
                if (x.key() < y.key()) {
                    onlyA.add(a.pollFirst());
                } else {
                    open(b);
                }
            } else if (y.key() < x.key()) {
                onlyB.add(b.pollFirst());
            } else {
                open(a);
            }
        }
        drain(a, onlyA);
        drain(b, onlyB);
        compare(onlyA, onlyB, sink);
    }

    private Deque<Item> queue(TreePointer root) throws IOException {
        Deque<Item> q = new ArrayDeque<>();
        if (!root.isEmpty()) {
            int height = 0;
            Node<Extent> n = load(root.address(), root.length(), root.generation());
            while (!n.isLeaf()) {
                n = load(n.childAddress(0), n.childLength(0), n.childGeneration(0));
                height++;
            }
            q.add(new Item(height, Long.MIN_VALUE, root.address(), root.length(), root.generation(), null));
        }
        return q;
    }

    /** Replaces the node at the head of {@code q} by its children, or its entries. */
    private void open(Deque<Item> q) throws IOException {
        Item x = q.pollFirst();
        Node<Extent> n = load(x.address(), x.length(), x.generation());
        for (int i = n.count() - 1; i >= 0; i--) {
            if (n.isLeaf()) {
                q.addFirst(new Item(-1, n.key(i), 0, 0, 0, n.value(i)));
            } else {
                q.addFirst(new Item(x.level() - 1, n.key(i), n.childAddress(i), n.childLength(i),
                        n.childGeneration(i), null));
            }
        }
    }

    private void drain(Deque<Item> q, List<Item> out) throws IOException {
        while (!q.isEmpty()) {
            if (q.peekFirst().isNode()) {
                open(q);
            } else {
                out.add(q.pollFirst());
            }
        }
    }

    private Node<Extent> load(long address, int length, long generation) throws IOException {
        nodesRead++;
        try {
            return store.cache().load(TreeKind.EXTENTS, Extent.CODEC, address, length, generation);
        } catch (CorruptionException e) {
            throw store.corrupted(e);
        }
    }

    /** Sweeps two sorted lists of non-overlapping extents and reports the blocks they map differently. */
    private void compare(List<Item> a, List<Item> b, BlockSink sink) {
        int i = 0;
        int j = 0;
        long p = Long.MIN_VALUE;
        while (i < a.size() || j < b.size()) {
            Item x = i < a.size() ? a.get(i) : null;
            Item y = j < b.size() ? b.get(j) : null;
            long xs = x == null ? Long.MAX_VALUE : Math.max(x.key(), p);
            long ys = y == null ? Long.MAX_VALUE : Math.max(y.key(), p);
            long at = Math.min(xs, ys);
            boolean inX = x != null && xs == at;
            boolean inY = y != null && ys == at;
            long end = Math.min(inX ? x.end() : xs, inY ? y.end() : ys);
            if (!(inX && inY && x.addressOf(at, blockSize) == y.addressOf(at, blockSize))) {
                sink.changed(at, end);
            }
            p = end;
            if (inX && x.end() == end) {
                i++;
            }
            if (inY && y.end() == end) {
                j++;
            }
        }
    }
}
