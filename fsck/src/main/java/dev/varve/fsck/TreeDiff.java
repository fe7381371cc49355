package dev.varve.fsck;

import dev.varve.engine.CorruptionException;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.Node;
import dev.varve.engine.btree.NodeCache;
import dev.varve.engine.btree.TreeKind;
import dev.varve.engine.btree.TreePointer;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The blocks two extent trees map differently: what a volume loses when a repair takes it back
 * to an older commit. Nodes are immutable and keyed by absolute block numbers, so a subtree both
 * trees point at maps the same blocks the same way in both: the walk goes down both trees one
 * level at a time, drops every node the two frontiers share before reading below it, and
 * compares, block by block, only the extents of the leaves that are left. Blocks count as the
 * same when both trees map them to the same data block with the same checksum.
 *
 * <p>(The engine's own diff is package-private to it; this is the same idea over fsck's reads.)
 */
final class TreeDiff {
    /** A node to read, and the height it is expected at (its tree's height less its depth). */
    private record At(TreePointer p, int height) {
    }

    private record Piece(long key, Extent extent) {
        long end() {
            return key + extent.blocks;
        }
    }

    private final NodeCache nodes;

    TreeDiff(NodeCache nodes) {
        this.nodes = nodes;
    }

    /**
     * Block ranges [from, to) where {@code a} and {@code b} (trees of one volume, blocks of
     * {@code blockSize} bytes) differ, or null when a node of either cannot be read (the storage
     * failing is thrown, not reported).
     */
    CommitContent.Ranges blocks(TreePointer a, TreePointer b, int blockSize) throws IOException {
        CommitContent.Ranges out = new CommitContent.Ranges();
        if (a.equals(b)) {
            return out;
        }
        try {
            List<At> fa = start(a);
            List<At> fb = start(b);
            List<Piece> la = new ArrayList<>();
            List<Piece> lb = new ArrayList<>();
            while (!fa.isEmpty() || !fb.isEmpty()) {
                dropShared(fa, fb);
                int h = Math.max(maxHeight(fa), maxHeight(fb));
                fa = expand(fa, h, la);
                fb = expand(fb, h, lb);
            }
            compare(la, lb, blockSize, out);
            return out;
        } catch (CorruptionException | NoSuchFileException | RuntimeException e) {
            return null;
        }
    }

    private List<At> start(TreePointer p) throws IOException {
        List<At> l = new ArrayList<>();
        if (!p.isEmpty()) {
            int h = 0;
            for (Node<Extent> n = read(p); !n.isLeaf(); n = read(child(n, 0))) {
                h++;
            }
            l.add(new At(p, h));
        }
        return l;
    }

    private Node<Extent> read(TreePointer p) throws IOException {
        return nodes.load(TreeKind.EXTENTS, Extent.CODEC, p.address(), p.length(), p.generation());
    }

    private static TreePointer child(Node<Extent> n, int i) {
        return new TreePointer(n.childAddress(i), n.childLength(i), n.childGeneration(i));
    }

    private static int maxHeight(List<At> l) {
        int h = -1;
        for (At x : l) {
            h = Math.max(h, x.height);
        }
        return h;
    }

    /** A node both frontiers hold is a subtree both trees share: neither side need read it. */
    private static void dropShared(List<At> fa, List<At> fb) {
        Set<Long> inA = new HashSet<>();
        for (At x : fa) {
            inA.add(x.p.address());
        }
        Set<Long> shared = new HashSet<>();
        for (At x : fb) {
            if (inA.contains(x.p.address())) {
                shared.add(x.p.address());
            }
        }
        if (!shared.isEmpty()) {
            fa.removeIf(x -> shared.contains(x.p.address()));
            fb.removeIf(x -> shared.contains(x.p.address()));
        }
    }

    /** Reads the nodes at height {@code h} (and any leaf): leaves give up their extents, interiors their children. */
    private List<At> expand(List<At> frontier, int h, List<Piece> leaves) throws IOException {
        List<At> next = new ArrayList<>();
        for (At x : frontier) {
            if (x.height < h) {
                next.add(x);
                continue;
            }
            Node<Extent> n = read(x.p);
            if (n.isLeaf()) {
                for (int i = 0; i < n.count(); i++) {
                    leaves.add(new Piece(n.key(i), n.value(i)));
                }
            } else {
                for (int i = 0; i < n.count(); i++) {
                    next.add(new At(child(n, i), Math.max(0, x.height - 1)));
                }
            }
        }
        return next;
    }

    /** Adds the blocks where the two lists of extents (of the leaves not shared) map differently. */
    private static void compare(List<Piece> la, List<Piece> lb, int blockSize, CommitContent.Ranges out) {
        la.sort(Comparator.comparingLong(Piece::key));
        lb.sort(Comparator.comparingLong(Piece::key));
        int i = 0;
        int j = 0;
        long p = Long.MIN_VALUE;
        while (i < la.size() || j < lb.size()) {
            while (i < la.size() && la.get(i).end() <= p) {
                i++;
            }
            while (j < lb.size() && lb.get(j).end() <= p) {
                j++;
            }
            Piece a = i < la.size() ? la.get(i) : null;
            Piece b = j < lb.size() ? lb.get(j) : null;
            if (a == null && b == null) {
                break;
            }
            long start = Math.max(p, Math.min(a == null ? Long.MAX_VALUE : a.key, b == null ? Long.MAX_VALUE : b.key));
            boolean inA = a != null && a.key <= start;
            boolean inB = b != null && b.key <= start;
            // up to the next place where either side starts or ends an extent
            long end = Long.MAX_VALUE;
            if (a != null) {
                end = Math.min(end, inA ? a.end() : a.key);
            }
            if (b != null) {
                end = Math.min(end, inB ? b.end() : b.key);
            }
            if (inA && inB) {
                for (long k = start; k < end; k++) {
                    int x = (int) (k - a.key);
                    int y = (int) (k - b.key);
                    boolean same = a.extent.address + (long) x * blockSize == b.extent.address + (long) y * blockSize
                            && a.extent.crc(x) == b.extent.crc(y);
                    if (!same) {
                        out.add(k, k + 1);
                    }
                }
            } else {
                out.add(start, end); // mapped on one side only
            }
            p = end;
        }
    }
}
