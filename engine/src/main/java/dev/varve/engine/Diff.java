package dev.varve.engine;

import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.Node;
import dev.varve.engine.btree.NodeCache;
import dev.varve.engine.btree.TreeKind;
import dev.varve.engine.btree.TreePointer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Changed-block tracking from the trees themselves: the blocks whose mapping differs between
 * two committed extent-map roots.
 *
 * <p>Both trees are walked together, a level at a time from the top. At each level, a node
 * that both trees hold there (the same log address) is dropped from both: its subtree is the
 * same in each, and since a tree's extents never overlap, the blocks it maps are mapped by
 * nothing else in either tree, so they cannot differ. What is left of the level is loaded in
 * one call ({@link dev.varve.engine.btree.NodeCache#loadAll}), which reads nodes lying near
 * each other in the log in one I/O, and its nodes' children make the next level. So only the
 * paths copied since the two roots diverged are read, and the cost follows the change, not the
 * volume. A commit writes the changed nodes of each level side by side, so a level costs one
 * read for the newer tree and, for the older one, one for each commit its changed nodes came
 * from (for leaves, about one per changed leaf).
 *
 * <p>A tree a level taller than the other (it grew while the other stayed) is walked alone
 * down to the other's height first. The heights are compared without descending to a leaf
 * when the roots share a child: a node both trees hold has the same height under it in each.
 *
 * <p>The entries of the leaves reached are then compared block by block: a block differs when
 * one side maps it and the other does not (data against a hole), or when both map it to
 * different data addresses. A block rewritten with the same bytes counts as changed, as in
 * any changed-block tracking.
 *
 * <p>Most diffs are between a snapshot and a later point of the same line (a backup's
 * incremental). When one tree descends from the other and no block was unmapped since the
 * older was taken ({@link CommittedRoot#bornAfter}), only the newer tree is read, as ZFS's
 * birth-time traversal does: an extent born after the older snapshot is a write since, and
 * differs; one born before it is the older tree's own, and nothing else can differ (a hole in
 * the newer tree was a hole then, since nothing was unmapped). A node holds no extent born
 * after the commit that wrote it, so only the nodes written since are read: the older tree's
 * changed leaves, which many commits over a volume's life scatter across the log, are not
 * read at all. The same blocks come out as from the walk of both trees.
 */
final class Diff {
    /**
     * Bytes read before the newer root: about what one random read costs on a disk that reads
     * 1 GB/s sequentially after 0.5 ms to reach a place, so it costs at most one read it saves.
     */
    static final int READ_BEHIND = 512 << 10;

    private final Store store;
    private final int blockSize;
    private long nodesRead;

    private Diff(Store store, int blockSize) {
        this.store = store;
        this.blockSize = blockSize;
    }

    /** An entry of a leaf: the extent that maps blocks {@code key} onwards. */
    private record Entry(long key, Extent extent) {
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
        return between(store, from, to, false);
    }

    /** As above; with {@code bothTrees}, both trees are walked even when one descends from the other (for tests). */
    static Result between(Store store, String from, String to, boolean bothTrees) throws IOException {
        if (from.indexOf('@') < 0 || to.indexOf('@') < 0) {
            store.commit(); // a head's writes so far are in its committed root
        }
        // taken before the roots are read: no segment they point into can be deleted under the walk
        store.reclaimLock().readLock().lock();
        try {
            CommittedRoot[] r = store.committedRoots(from, to);
            return between(store, r[0], r[1], bothTrees);
        } finally {
            store.reclaimLock().readLock().unlock();
        }
    }

    private static Result between(Store store, CommittedRoot a, CommittedRoot b, boolean bothTrees) throws IOException {
        if (a.blockSize() != b.blockSize()) {
            throw new IllegalArgumentException(a.name() + " has " + a.blockSize() + "-byte blocks and " + b.name()
                    + " " + b.blockSize() + "-byte blocks; only devices with the same block size can be compared");
        }
        Diff d = new Diff(store, a.blockSize());
        List<ByteRange> out = new ArrayList<>();
        long bs = a.blockSize();
        long small = Math.min(a.size(), b.size());
        BlockSink sink = (lba, end) -> {
            long from = lba * bs;
            long to = Math.min(end * bs, small);
            if (from < to) {
                add(out, from, to);
            }
        };
        if (b.bornAfter() >= 0 && !bothTrees) {
            d.bornAfter(b.root(), b.bornAfter(), sink);
        } else if (a.bornAfter() >= 0 && !bothTrees) {
            d.bornAfter(a.root(), a.bornAfter(), sink);
        } else {
            d.changedBlocks(a.root(), b.root(), sink);
        }
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

    /**
     * The blocks of a tree that descends from an older one with nothing unmapped since (see
     * {@link CommittedRoot#bornAfter}) that differ from it: those it maps with a birth after
     * {@code generation}. Only this tree is read. A node's generation is the commit that wrote
     * it, and it holds no extent born later, so only the nodes written after {@code generation}
     * are read, a level at a time.
     *
     * <p>The root is read with up to {@link #READ_BEHIND} bytes before it: its commit wrote the
     * nodes it changed in the tree just before it, leaves first, so a walk of what the last
     * commits changed finds most of its nodes in that one read instead of one read a level.
     */
    private void bornAfter(TreePointer root, long generation, BlockSink sink) throws IOException {
        List<TreePointer> level = root.isEmpty() || root.generation() <= generation ? List.of() : List.of(root);
        NodeCache.Spans kept = new NodeCache.Spans();
        int behind = READ_BEHIND;
        while (!level.isEmpty()) {
            List<Node<Extent>> nodes = load(level, kept, behind);
            behind = 0;
            nodesRead += level.size();
            List<TreePointer> next = new ArrayList<>();
            for (Node<Extent> n : nodes) {
                for (int i = 0; i < n.count(); i++) {
                    if (n.isLeaf()) {
                        Extent e = n.value(i);
                        if (e.birth > generation) {
                            sink.changed(n.key(i), n.key(i) + e.blocks);
                        }
                    } else if (n.childGeneration(i) > generation) {
                        next.add(child(n, i));
                    }
                }
            }
            level = next;
        }
    }

    private void changedBlocks(TreePointer ra, TreePointer rb, BlockSink sink) throws IOException {
        if (ra.address() == rb.address()) {
            return;
        }
        List<TreePointer> fa = ra.isEmpty() ? List.of() : List.of(ra);
        List<TreePointer> fb = rb.isEmpty() ? List.of() : List.of(rb);
        // levels the lower tree's root waits while the taller tree is walked down to its height
        int waitA = 0;
        int waitB = 0;
        if (!fa.isEmpty() && !fb.isEmpty()) {
            List<Node<Extent>> roots = load(List.of(ra, rb));
            int d = heightDifference(roots.get(0), roots.get(1));
            waitA = Math.max(0, -d);
            waitB = Math.max(0, d);
        }
        List<Entry> onlyA = new ArrayList<>();
        List<Entry> onlyB = new ArrayList<>();
        while (!fa.isEmpty() || !fb.isEmpty()) {
            List<TreePointer> la = waitA == 0 ? fa : List.of();
            List<TreePointer> lb = waitB == 0 ? fb : List.of();
            if (!la.isEmpty() && !lb.isEmpty()) {
                Set<Long> inA = addresses(la);
                Set<Long> inB = addresses(lb);
                la = without(la, inB);
                lb = without(lb, inA);
            }
            List<TreePointer> level = new ArrayList<>(la);
            level.addAll(lb);
            List<Node<Extent>> nodes = load(level);
            nodesRead += level.size();
            if (waitA == 0) {
                fa = expand(nodes.subList(0, la.size()), onlyA);
            } else {
                waitA--;
            }
            if (waitB == 0) {
                fb = expand(nodes.subList(la.size(), level.size()), onlyB);
            } else {
                waitB--;
            }
        }
        compare(onlyA, onlyB, sink);
    }

    /**
     * How many levels the tree under {@code a} stands above the one under {@code b} (negative
     * when below): their leftmost paths are followed together until one reaches a leaf, or
     * until the two nodes share a child, which has the same height under it in both trees.
     */
    private int heightDifference(Node<Extent> a, Node<Extent> b) throws IOException {
        Node<Extent> x = a;
        Node<Extent> y = b;
        while (!x.isLeaf() && !y.isLeaf()) {
            Set<Long> children = new HashSet<>();
            for (int i = 0; i < x.count(); i++) {
                children.add(x.childAddress(i));
            }
            for (int i = 0; i < y.count(); i++) {
                if (children.contains(y.childAddress(i))) {
                    return 0;
                }
            }
            List<Node<Extent>> next = load(List.of(child(x, 0), child(y, 0)));
            nodesRead += 2;
            x = next.get(0);
            y = next.get(1);
        }
        return leafDepth(x) - leafDepth(y);
    }

    private int leafDepth(Node<Extent> n) throws IOException {
        int depth = 0;
        while (!n.isLeaf()) {
            n = load(List.of(child(n, 0))).get(0);
            nodesRead++;
            depth++;
        }
        return depth;
    }

    private static TreePointer child(Node<Extent> n, int i) {
        return new TreePointer(n.childAddress(i), n.childLength(i), n.childGeneration(i));
    }

    private static Set<Long> addresses(List<TreePointer> level) {
        Set<Long> s = new HashSet<>();
        for (TreePointer p : level) {
            s.add(p.address());
        }
        return s;
    }

    private static List<TreePointer> without(List<TreePointer> level, Set<Long> drop) {
        List<TreePointer> l = new ArrayList<>(level.size());
        for (TreePointer p : level) {
            if (!drop.contains(p.address())) {
                l.add(p);
            }
        }
        return l;
    }

    /**
     * The next level under a level's nodes, in key order; a level of leaves has none and adds
     * its entries to {@code entries}, in key order.
     */
    private static List<TreePointer> expand(List<Node<Extent>> level, List<Entry> entries) {
        List<TreePointer> next = new ArrayList<>();
        for (Node<Extent> n : level) {
            for (int i = 0; i < n.count(); i++) {
                if (n.isLeaf()) {
                    entries.add(new Entry(n.key(i), n.value(i)));
                } else {
                    next.add(child(n, i));
                }
            }
        }
        return next;
    }

    private List<Node<Extent>> load(List<TreePointer> pointers) throws IOException {
        return load(pointers, null, 0);
    }

    /** Loads a level's nodes (see {@link NodeCache#loadAll}); damage found marks the store corrupt. */
    private List<Node<Extent>> load(List<TreePointer> pointers, NodeCache.Spans kept, int behind) throws IOException {
        try {
            return store.cache().loadAll(TreeKind.EXTENTS, Extent.CODEC, pointers, kept, behind);
        } catch (CorruptionException e) {
            throw store.corrupted(e);
        }
    }

    /** Sweeps two sorted lists of non-overlapping extents and reports the blocks they map differently. */
    private void compare(List<Entry> a, List<Entry> b, BlockSink sink) {
        int i = 0;
        int j = 0;
        long p = Long.MIN_VALUE;
        while (i < a.size() || j < b.size()) {
            Entry x = i < a.size() ? a.get(i) : null;
            Entry y = j < b.size() ? b.get(j) : null;
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
