package dev.varve.engine.btree;

import dev.varve.engine.LogAddress;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.agrona.MutableDirectBuffer;

/**
 * A copy-on-write B+tree from {@code long} keys to values. Clean nodes are immutable and may be
 * shared with snapshots and clones; a change copies the path from the leaf to the root unless
 * the nodes on it are already dirty (and so owned by this tree alone). Not thread-safe: the
 * owner holds a lock around each call.
 */
public final class CowTree<V> {
    private final TreeKind kind;
    private final ValueCodec<V> codec;
    private final NodeSource source;
    private TreePointer pointer;
    private Node<V> root;

    public CowTree(TreeKind kind, ValueCodec<V> codec, NodeSource source, TreePointer pointer) {
        this.kind = kind;
        this.codec = codec;
        this.source = source;
        this.pointer = pointer;
    }

    /** Visits entries in key order; return false to stop. */
    @FunctionalInterface
    public interface Visitor<V> {
        boolean visit(long key, V value) throws IOException;
    }

    public TreeKind kind() {
        return kind;
    }

    public ValueCodec<V> codec() {
        return codec;
    }

    public boolean isDirty() {
        return root != null && root.dirty;
    }

    /** The root pointer as of the last commit (only meaningful when not dirty). */
    public TreePointer pointer() {
        return pointer;
    }

    /** The root node, loaded if needed; null for an empty tree. */
    public Node<V> rootNode() throws IOException {
        if (root == null && !pointer.isEmpty()) {
            root = source.load(kind, codec, pointer.address(), pointer.length(), pointer.generation());
        }
        return root;
    }

    public Node<V> child(Node<V> n, int i) throws IOException {
        Node<V> c = n.children[i];
        if (c != null) {
            return c;
        }
        return source.load(kind, codec, n.childAddr[i], n.childLen[i], n.childGen[i]);
    }

    public V get(long key) throws IOException {
        Node<V> n = rootNode();
        if (n == null) {
            return null;
        }
        while (!n.leaf) {
            int i = Math.max(0, n.floorIndex(key));
            n = child(n, i);
        }
        int i = n.floorIndex(key);
        return i >= 0 && n.keys[i] == key ? n.value(i) : null;
    }

    /**
     * Visits, in order, every entry whose key is at or above the greatest key at or below
     * {@code from} (so the entry covering {@code from} in a range map comes first).
     */
    public void scan(long from, Visitor<V> visitor) throws IOException {
        Node<V> n = rootNode();
        if (n == null) {
            return;
        }
        // Start at the exact floor key: an interior key is only a lower bound of its child,
        // so the child it selects may hold nothing at or below 'from'.
        long start = floorKey(n, from);
        scan(n, start, visitor, true);
    }

    private boolean scan(Node<V> n, long from, Visitor<V> visitor, boolean first) throws IOException {
        int start = first ? Math.max(0, n.floorIndex(from)) : 0;
        if (n.leaf) {
            for (int i = start; i < n.count; i++) {
                if (!visitor.visit(n.keys[i], n.value(i))) {
                    return false;
                }
            }
            return true;
        }
        for (int i = start; i < n.count; i++) {
            if (!scan(child(n, i), from, visitor, first && i == start)) {
                return false;
            }
        }
        return true;
    }

    /**
     * The entry with the greatest key at or below {@code key}, or null: one descent (interior
     * keys are lower bounds of their children), and the general walk only when a child's
     * bound understates its first key and the floor lies in an earlier child.
     */
    public Map.Entry<Long, V> floorEntry(long key) throws IOException {
        Node<V> n = leafFor(key);
        if (n == null) {
            return null; // an empty tree, or below every child's lower bound
        }
        int i = n.floorIndex(key);
        if (i >= 0) {
            return new java.util.AbstractMap.SimpleImmutableEntry<>(n.keys[i], n.value(i));
        }
        long k = floorKey(key);
        return k == Long.MIN_VALUE ? null : new java.util.AbstractMap.SimpleImmutableEntry<>(k, get(k));
    }

    /**
     * The leaf one descent by lower bounds reaches for {@code key}, or null for an empty tree or
     * a key below every bound. The entry with the greatest key at or below {@code key} is in it
     * whenever the leaf has a key at or below {@code key}; otherwise it may lie in an earlier
     * leaf (an interior key may understate its child's first key).
     */
    public Node<V> leafFor(long key) throws IOException {
        Node<V> n = rootNode();
        if (n == null) {
            return null;
        }
        while (!n.leaf) {
            int i = n.floorIndex(key);
            if (i < 0) {
                return null;
            }
            n = child(n, i);
        }
        return n;
    }

    /** Greatest key at or below {@code key}, or Long.MIN_VALUE when there is none. */
    public long floorKey(long key) throws IOException {
        Node<V> n = rootNode();
        if (n == null) {
            return Long.MIN_VALUE;
        }
        return floorKey(n, key);
    }

    private long floorKey(Node<V> n, long key) throws IOException {
        if (n.leaf) {
            int i = n.floorIndex(key);
            return i >= 0 ? n.keys[i] : Long.MIN_VALUE;
        }
        int i = n.floorIndex(key);
        if (i < 0) {
            return Long.MIN_VALUE;
        }
        for (int j = i; j >= 0; j--) {
            long k = floorKey(child(n, j), key);
            if (k != Long.MIN_VALUE) {
                return k;
            }
        }
        return Long.MIN_VALUE;
    }

    private Node<V> mutable(Node<V> n) {
        if (n.dirty) {
            return n;
        }
        source.dirtied();
        return n.copy(1);
    }

    public void put(long key, V value) throws IOException {
        Node<V> r = rootNode();
        if (r == null) {
            r = new Node<>(true, 8);
            source.dirtied();
        } else {
            r = mutable(r);
        }
        root = r;
        Node<V> right = insert(r, key, value);
        if (right != null) {
            Node<V> nr = new Node<>(false, 8);
            source.dirtied();
            nr.count = 2;
            nr.keys[0] = r.keys[0];
            nr.children[0] = r;
            nr.keys[1] = right.keys[0];
            nr.children[1] = right;
            root = nr;
        }
    }

    private Node<V> insert(Node<V> n, long key, V value) throws IOException {
        if (n.leaf) {
            int i = n.floorIndex(key);
            if (i >= 0 && n.keys[i] == key) {
                n.bytes += codec.encodedLength(value) - codec.encodedLength(n.value(i));
                n.values[i] = value;
                return kind.leafOverfull(n.count, n.bytes) ? split(n) : null;
            }
            int at = i + 1;
            n.ensureCapacity(n.count + 1);
            System.arraycopy(n.keys, at, n.keys, at + 1, n.count - at);
            System.arraycopy(n.values, at, n.values, at + 1, n.count - at);
            n.keys[at] = key;
            n.values[at] = value;
            n.count++;
            n.bytes += 8 + codec.encodedLength(value);
            return kind.leafOverfull(n.count, n.bytes) ? split(n) : null;
        }
        int i = n.floorIndex(key);
        if (i < 0) {
            i = 0;
            n.keys[0] = key;
        }
        Node<V> c = mutable(child(n, i));
        n.children[i] = c;
        Node<V> right = insert(c, key, value);
        if (right != null) {
            int at = i + 1;
            n.ensureCapacity(n.count + 1);
            shiftPointers(n, at, 1);
            n.keys[at] = right.keys[0];
            n.children[at] = right;
            n.childAddr[at] = LogAddress.NONE;
            n.count++;
            return n.count > kind.maxInterior ? split(n) : null;
        }
        return null;
    }

    private static <V> void shiftPointers(Node<V> n, int at, int by) {
        int len = n.count - at;
        System.arraycopy(n.keys, at, n.keys, at + by, len);
        System.arraycopy(n.childAddr, at, n.childAddr, at + by, len);
        System.arraycopy(n.childLen, at, n.childLen, at + by, len);
        System.arraycopy(n.childGen, at, n.childGen, at + by, len);
        System.arraycopy(n.childMinSeg, at, n.childMinSeg, at + by, len);
        System.arraycopy(n.children, at, n.children, at + by, len);
    }

    private Node<V> split(Node<V> n) {
        int half = n.leaf ? leafSplitPoint(n) : n.count / 2;
        int moved = n.count - half;
        Node<V> r = new Node<>(n.leaf, Math.max(moved * 2, 8));
        source.dirtied();
        System.arraycopy(n.keys, half, r.keys, 0, moved);
        if (n.leaf) {
            System.arraycopy(n.values, half, r.values, 0, moved);
            java.util.Arrays.fill(n.values, half, n.count, null);
            int rightBytes = Node.PREFIX_BYTES;
            for (int i = 0; i < moved; i++) {
                rightBytes += 8 + codec.encodedLength(r.value(i));
            }
            r.bytes = rightBytes;
            n.bytes -= rightBytes - Node.PREFIX_BYTES;
        } else {
            System.arraycopy(n.childAddr, half, r.childAddr, 0, moved);
            System.arraycopy(n.childLen, half, r.childLen, 0, moved);
            System.arraycopy(n.childGen, half, r.childGen, 0, moved);
            System.arraycopy(n.childMinSeg, half, r.childMinSeg, 0, moved);
            System.arraycopy(n.children, half, r.children, 0, moved);
            java.util.Arrays.fill(n.children, half, n.count, null);
        }
        r.count = moved;
        n.count = half;
        return r;
    }

    /**
     * Where an overfull leaf splits: the first entry of the right half by bytes, so both
     * halves hold about as many bytes (and entries, when the leaf is over by count).
     */
    private int leafSplitPoint(Node<V> n) {
        if (n.count > kind.maxLeaf) {
            return n.count / 2;
        }
        int half = (n.bytes - Node.PREFIX_BYTES) / 2;
        int acc = 0;
        for (int i = 0; i < n.count - 1; i++) {
            acc += 8 + codec.encodedLength(n.value(i));
            if (acc >= half) {
                return i + 1;
            }
        }
        return n.count - 1;
    }

    public boolean remove(long key) throws IOException {
        if (get(key) == null) {
            return false;
        }
        Node<V> r = mutable(rootNode());
        root = r;
        remove(r, key);
        while (root != null) {
            if (root.count == 0) {
                root = null;
                pointer = TreePointer.EMPTY;
            } else if (!root.leaf && root.count == 1) {
                root = mutable(child(root, 0));
            } else {
                break;
            }
        }
        return true;
    }

    private void remove(Node<V> n, long key) throws IOException {
        if (n.leaf) {
            int i = n.floorIndex(key);
            n.bytes -= 8 + codec.encodedLength(n.value(i));
            System.arraycopy(n.keys, i + 1, n.keys, i, n.count - i - 1);
            System.arraycopy(n.values, i + 1, n.values, i, n.count - i - 1);
            n.count--;
            n.values[n.count] = null;
            return;
        }
        int i = Math.max(0, n.floorIndex(key));
        Node<V> c = mutable(child(n, i));
        n.children[i] = c;
        remove(c, key);
        if (c.count == 0) {
            removePointer(n, i);
            return;
        }
        boolean underfull = c.leaf ? kind.leafUnderfull(c.count, c.bytes) : c.count < kind.maxInterior / 4;
        if (underfull && n.count > 1) {
            int left = i > 0 ? i - 1 : i;
            Node<V> a = left == i ? c : mutable(child(n, left));
            Node<V> b = left == i ? mutable(child(n, i + 1)) : c;
            boolean fits = c.leaf ? !kind.leafOverfull(a.count + b.count, a.bytes + b.bytes - Node.PREFIX_BYTES)
                    : a.count + b.count <= kind.maxInterior;
            if (fits) {
                n.children[left] = a;
                append(a, b);
                removePointer(n, left + 1);
            } else {
                n.children[left] = a;
                n.children[left + 1] = b;
            }
        }
    }

    private static <V> void append(Node<V> a, Node<V> b) {
        a.ensureCapacity(a.count + b.count);
        System.arraycopy(b.keys, 0, a.keys, a.count, b.count);
        if (a.leaf) {
            System.arraycopy(b.values, 0, a.values, a.count, b.count);
            a.bytes += b.bytes - Node.PREFIX_BYTES;
        } else {
            System.arraycopy(b.childAddr, 0, a.childAddr, a.count, b.count);
            System.arraycopy(b.childLen, 0, a.childLen, a.count, b.count);
            System.arraycopy(b.childGen, 0, a.childGen, a.count, b.count);
            System.arraycopy(b.childMinSeg, 0, a.childMinSeg, a.count, b.count);
            System.arraycopy(b.children, 0, a.children, a.count, b.count);
        }
        a.count += b.count;
    }

    private static <V> void removePointer(Node<V> n, int i) {
        int len = n.count - i - 1;
        System.arraycopy(n.keys, i + 1, n.keys, i, len);
        System.arraycopy(n.childAddr, i + 1, n.childAddr, i, len);
        System.arraycopy(n.childLen, i + 1, n.childLen, i, len);
        System.arraycopy(n.childGen, i + 1, n.childGen, i, len);
        System.arraycopy(n.childMinSeg, i + 1, n.childMinSeg, i, len);
        System.arraycopy(n.children, i + 1, n.children, i, len);
        n.count--;
        n.children[n.count] = null;
    }

    /**
     * Writes every dirty node, children before parents, and returns the new root pointer. After
     * this the whole tree is clean and may be shared.
     *
     * <p>The nodes go out level by level, leaves first and the root last, each level in key
     * order. So the interior nodes a commit changed sit together in the log, after its leaves:
     * a walk that needs a level's changed nodes at once (a diff of two snapshots) reads them
     * in one or a few I/Os ({@link NodeCache#loadAll}), where written depth first each
     * interior node would sit behind the leaves under it.
     */
    public TreePointer commit(NodeWriter writer, long owner) throws IOException {
        if (root == null) {
            pointer = TreePointer.EMPTY;
            return pointer;
        }
        if (root.dirty) {
            List<List<Node<V>>> levels = new ArrayList<>();
            dirtyByDepth(root, 0, levels);
            for (int d = levels.size() - 1; d >= 0; d--) {
                for (Node<V> n : levels.get(d)) {
                    write(n, writer, owner);
                }
            }
            pointer = new TreePointer(root.address, root.length, root.generation);
        }
        return pointer;
    }

    /** Adds every dirty node under {@code n} (itself included) to the list of its depth, in key order. */
    private void dirtyByDepth(Node<V> n, int depth, List<List<Node<V>>> levels) {
        while (levels.size() <= depth) {
            levels.add(new ArrayList<>());
        }
        levels.get(depth).add(n);
        if (!n.leaf) {
            for (int i = 0; i < n.count; i++) {
                Node<V> c = n.children[i];
                if (c != null && c.dirty) {
                    dirtyByDepth(c, depth + 1, levels);
                }
            }
        }
    }

    /** Writes one dirty node whose dirty children are written already. */
    private void write(Node<V> n, NodeWriter writer, long owner) throws IOException {
        long minSeg = Long.MAX_VALUE;
        if (n.leaf) {
            for (int i = 0; i < n.count; i++) {
                minSeg = Math.min(minSeg, codec.minSegment(n.value(i)));
            }
        } else {
            for (int i = 0; i < n.count; i++) {
                Node<V> c = n.children[i];
                if (c != null) {
                    if (c.dirty) {
                        throw new IllegalStateException("child " + i + " of a node is still dirty when its parent is written");
                    }
                    n.childAddr[i] = c.address;
                    n.childLen[i] = c.length;
                    n.childGen[i] = c.generation;
                    n.childMinSeg[i] = c.minSegment;
                    n.children[i] = null;
                }
                minSeg = Math.min(minSeg, n.childMinSeg[i]);
            }
        }
        int payload = n.encodedLength(codec);
        Node<V> node = n;
        long addr = writer.append(n.leaf ? kind.leafType : kind.interiorType, owner, payload,
                (MutableDirectBuffer buf, int off) -> node.encode(codec, buf, off));
        n.address = addr;
        n.length = dev.varve.engine.format.RecordLayout.paddedLength(payload);
        n.generation = writer.generation();
        n.minSegment = Math.min(minSeg, LogAddress.segment(addr));
        n.dirty = false;
        writer.written(n);
    }

    /** What a compaction pass moves, and where it has moved things already. */
    public interface Relocation<V> {
        /** True when the segment is being emptied. */
        boolean isVictim(long segment);

        /** The highest victim segment id: a subtree whose lowest segment is above it is skipped. */
        long maxVictim();

        /** The value with anything it points into a victim moved out; the same object if nothing moved. */
        V move(V value) throws IOException;

        /** Node moves already made, by old address (shared subtrees are moved once, and stay shared). */
        Map<Long, Moved> forwarding();
    }

    /** Where a node went: its new pointer and the lowest segment its subtree now touches. */
    public record Moved(long address, int length, long generation, long minSegment) {
        public TreePointer pointer() {
            return new TreePointer(address, length, generation);
        }
    }

    /**
     * Rewrites the subtree under {@code p} so that nothing in it lives in a victim segment:
     * nodes in victims are written anew, values are passed through {@link Relocation#move},
     * and each parent of something that moved is rewritten to point at the new place. A
     * subtree with nothing in a victim is left where it is. The tree's own state is not
     * touched; the caller installs the returned root.
     *
     * @return the new root, or {@code p}'s own place if nothing moved
     */
    public Moved relocate(TreePointer p, NodeWriter writer, long owner, Relocation<V> r) throws IOException {
        if (p.isEmpty()) {
            return new Moved(p.address(), p.length(), p.generation(), Long.MAX_VALUE);
        }
        return relocate(p.address(), p.length(), p.generation(), Long.MIN_VALUE, writer, owner, r);
    }

    private Moved relocate(long addr, int len, long gen, long knownMinSeg, NodeWriter writer, long owner,
                           Relocation<V> r) throws IOException {
        Moved done = r.forwarding().get(addr);
        if (done != null) {
            return done;
        }
        if (knownMinSeg != Long.MIN_VALUE && knownMinSeg > r.maxVictim()) {
            return new Moved(addr, len, gen, knownMinSeg); // nothing below is in a victim
        }
        Node<V> n = source.load(kind, codec, addr, len, gen);
        Node<V> copy = null;
        if (n.leaf) {
            for (int i = 0; i < n.count; i++) {
                V v = n.value(i);
                V moved = r.move(v);
                if (moved != v) {
                    if (copy == null) {
                        copy = n.copy(0);
                    }
                    copy.bytes += codec.encodedLength(moved) - codec.encodedLength(v);
                    copy.values[i] = moved;
                }
            }
        } else {
            for (int i = 0; i < n.count; i++) {
                Moved c = relocate(n.childAddr[i], n.childLen[i], n.childGen[i], n.childMinSeg[i], writer, owner, r);
                if (c.address() != n.childAddr[i]) {
                    if (copy == null) {
                        copy = n.copy(0);
                    }
                    copy.childAddr[i] = c.address();
                    copy.childLen[i] = c.length();
                    copy.childGen[i] = c.generation();
                    copy.childMinSeg[i] = c.minSegment();
                }
            }
        }
        Moved result;
        if (copy == null && !r.isVictim(LogAddress.segment(addr))) {
            long min = LogAddress.segment(addr);
            if (n.leaf) {
                for (int i = 0; i < n.count; i++) {
                    min = Math.min(min, codec.minSegment(n.value(i)));
                }
            } else {
                for (int i = 0; i < n.count; i++) {
                    min = Math.min(min, n.childMinSeg[i]);
                }
            }
            result = new Moved(addr, len, gen, min);
        } else {
            if (copy == null) {
                copy = n.copy(0);
            }
            write(copy, writer, owner);
            result = new Moved(copy.address, copy.length, copy.generation, copy.minSegment);
        }
        r.forwarding().put(addr, result);
        return result;
    }

    /** Levels from the root to the leaves: 0 for an empty tree, 1 for a lone leaf. */
    public int height() throws IOException {
        int h = 0;
        for (Node<V> n = rootNode(); n != null; n = n.leaf ? null : child(n, 0)) {
            h++;
        }
        return h;
    }

    /** Replaces this tree's content by another root (revert, clone); drops dirty state. */
    public void reset(TreePointer to) {
        this.pointer = to;
        this.root = null;
    }
}
