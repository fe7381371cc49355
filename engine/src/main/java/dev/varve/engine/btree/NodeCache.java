package dev.varve.engine.btree;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.varve.engine.CorruptionException;
import dev.varve.engine.LogAddress;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.log.Log;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Clean nodes by address. Nodes never change once written, so the cache needs no
 * invalidation. Memory is bounded by weight (about three times a node's encoded size), not
 * by disk size. Nodes written by a commit whose bytes are not yet in the file are pinned
 * here until they are.
 *
 * <p>In front of the bounded cache sits a small direct-mapped table of recently used nodes
 * (one slot per address hash). A lookup that hits it touches one array slot and nothing else,
 * so the hot nodes of a head's tree cost the same however many older nodes the cache holds;
 * only misses reach Caffeine and its access bookkeeping.
 */
public final class NodeCache implements NodeSource {
    /**
     * Each reading thread's buffer for node records up to 64 KiB (an extent leaf this version
     * writes is at most about 18 KiB), which decoding copies out of: a new heap buffer per
     * record was garbage the size of every tree read, and, in a process that has not yet
     * reused its heap, fresh memory that costs a page fault per 4 KiB. Larger records get a
     * buffer of their own.
     */
    private static final ThreadLocal<ByteBuffer> SCRATCH =
            ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(64 << 10));

    private final Log log;
    private final Cache<Long, Node<?>> cache;
    private final Map<Long, Node<?>> pinned = new ConcurrentHashMap<>();
    private final AtomicReferenceArray<Node<?>> hot;
    private final int hotMask;
    /** Nodes trees made dirty since the last commit wrote them (held outside the bound until then). */
    private final java.util.concurrent.atomic.LongAdder dirty = new java.util.concurrent.atomic.LongAdder();
    /** Reads of node records from the log: one per I/O, however many nodes it brought. */
    private final java.util.concurrent.atomic.LongAdder reads = new java.util.concurrent.atomic.LongAdder();

    public NodeCache(Log log, long maxBytes) {
        this.log = log;
        // about one slot per 16 KiB of budget, 64 to 16384 slots: the nodes the table keeps alive
        // beyond the bounded cache stay a small fraction of it
        int slots = Integer.highestOneBit((int) Math.max(64, Math.min(1 << 14, maxBytes >> 14)));
        this.hot = new AtomicReferenceArray<>(slots);
        this.hotMask = slots - 1;
        this.cache = Caffeine.newBuilder()
                .maximumWeight(Math.max(1, maxBytes))
                .weigher((Long k, Node<?> n) -> Math.max(1, n.length * 3))
                .build();
    }

    @Override
    public void dirtied() {
        dirty.increment();
    }

    /** Nodes made dirty since {@link #resetDirty()}: a commit is due before they outgrow the budget. */
    public long dirtyNodes() {
        return dirty.sum();
    }

    /** Called in a commit's freeze, which writes every dirty node. */
    public void resetDirty() {
        dirty.reset();
    }

    @Override
    @SuppressWarnings("unchecked")
    public <V> Node<V> load(TreeKind kind, ValueCodec<V> codec, long address, int length, long generation)
            throws IOException {
        int slot = slot(address);
        Node<?> n = hot.getAcquire(slot);
        if (n != null && n.address == address && n.length == length && n.generation == generation) {
            return (Node<V>) n;
        }
        n = pinned.get(address);
        if (n == null) {
            n = cache.getIfPresent(address);
            if (n == null) {
                n = read(kind, codec, address, length, generation);
                cache.put(address, n);
            }
            hot.setRelease(slot, n);
        }
        return checked(n, address, length, generation);
    }

    /** A node written and not yet in the file (pinned), or in the bounded cache; null if neither. */
    private Node<?> held(long address) {
        Node<?> n = pinned.get(address);
        return n != null ? n : cache.getIfPresent(address);
    }

    @SuppressWarnings("unchecked")
    private static <V> Node<V> checked(Node<?> n, long address, int length, long generation) throws CorruptionException {
        if (n.length != length || n.generation != generation) {
            throw new CorruptionException(null, address, "pointer expects length " + length + " generation "
                    + generation + ", cached node has " + n.length + "/" + n.generation);
        }
        return (Node<V>) n;
    }

    /** Misses in one segment at most this far apart are read in one I/O (ZFS's read gap limit). */
    static final int READ_GAP = 32 << 10;
    /** The most one such read spans. */
    static final int MAX_SPAN = 1 << 20;

    /**
     * Loads several nodes of one kind, as {@link #load} does each, but reads the ones not cached
     * in as few I/Os as their places allow: misses in the same segment less than
     * {@link #READ_GAP} apart are read together, up to {@link #MAX_SPAN} a read, as ZFS
     * aggregates nearby reads. A commit writes a tree's dirty nodes level by level
     * ({@link CowTree#commit}), so the nodes of one level that one commit changed sit side by
     * side, and a walk that asks for a level's nodes at once (the diff) gets them in a few reads.
     *
     * @return the nodes in the order of the pointers given
     */
    public <V> List<Node<V>> loadAll(TreeKind kind, ValueCodec<V> codec, List<TreePointer> pointers)
            throws IOException {
        return loadAll(kind, codec, pointers, null, 0);
    }

    /**
     * Bytes of the log a walk has read, kept for the rest of that walk: a node lying whole in
     * them is decoded from there, with no I/O. Held by one walk, not shared.
     */
    public static final class Spans {
        private final List<long[]> where = new java.util.ArrayList<>(); // {segment, first offset}
        private final List<ByteBuffer> bytes = new java.util.ArrayList<>();
        private long held;

        /** The span holding the whole record at {@code address}, or null; {@code at[0]} gets its place in it. */
        private ByteBuffer find(long address, int length, int[] at) {
            long seg = LogAddress.segment(address);
            long off = LogAddress.offset(address);
            for (int i = 0; i < where.size(); i++) {
                long[] w = where.get(i);
                if (w[0] == seg && off >= w[1] && off + length <= w[1] + bytes.get(i).limit()) {
                    at[0] = (int) (off - w[1]);
                    return bytes.get(i);
                }
            }
            return null;
        }

        private void add(long segment, long first, ByteBuffer span) {
            while (!bytes.isEmpty() && held + span.limit() > MAX_HELD) {
                held -= bytes.remove(0).limit();
                where.remove(0);
            }
            where.add(new long[] {segment, first});
            bytes.add(span);
            held += span.limit();
        }

        /** The most bytes kept: the oldest spans go first. */
        private static final long MAX_HELD = 8L << 20;
    }

    /**
     * As {@link #loadAll(TreeKind, ValueCodec, List)}, for a walk that keeps what it reads in
     * {@code kept}: misses lying whole in bytes read before cost no I/O, and each read also
     * takes up to {@code behind} bytes before its first node (not before the segment's start),
     * kept for the walk's later levels. A commit writes a tree's changed nodes level by level,
     * the root last, so the nodes under a freshly written node lie just before it.
     */
    public <V> List<Node<V>> loadAll(TreeKind kind, ValueCodec<V> codec, List<TreePointer> pointers, Spans kept,
                                     int behind) throws IOException {
        List<Node<V>> out = new java.util.ArrayList<>(java.util.Collections.nCopies(pointers.size(), null));
        List<Integer> misses = new java.util.ArrayList<>();
        int[] at = new int[1];
        for (int i = 0; i < pointers.size(); i++) {
            TreePointer p = pointers.get(i);
            Node<?> n = hot.getAcquire(slot(p.address()));
            if (n == null || n.address != p.address()) {
                n = held(p.address());
            }
            ByteBuffer span = n == null && kept != null ? kept.find(p.address(), p.length(), at) : null;
            if (span != null) {
                n = decodeInto(kind, codec, span, at[0], p);
            }
            if (n == null) {
                misses.add(i);
            } else {
                out.set(i, checked(n, p.address(), p.length(), p.generation()));
            }
        }
        misses.sort((x, y) -> Long.compare(pointers.get(x).address(), pointers.get(y).address()));
        for (int from = 0; from < misses.size(); ) {
            TreePointer first = pointers.get(misses.get(from));
            long seg = LogAddress.segment(first.address());
            long start = LogAddress.offset(first.address());
            long end = start + first.length();
            int to = from + 1;
            while (to < misses.size()) {
                TreePointer p = pointers.get(misses.get(to));
                long off = LogAddress.offset(p.address());
                long pEnd = Math.max(end, off + p.length());
                if (LogAddress.segment(p.address()) != seg || off - end > READ_GAP || pEnd - start > MAX_SPAN) {
                    break;
                }
                end = pEnd;
                to++;
            }
            long first0 = Math.max(0, start - behind);
            ByteBuffer span = log.readSpan(LogAddress.of(seg, first0), (int) (end - first0));
            reads.increment();
            if (kept != null) {
                kept.add(seg, first0, span);
            }
            Node<?> n = null;
            for (int k = from; k < to; k++) {
                TreePointer p = pointers.get(misses.get(k));
                if (n == null || n.address != p.address()) { // the same node asked for twice is adjacent
                    n = decodeInto(kind, codec, span, (int) (LogAddress.offset(p.address()) - first0), p);
                }
                out.set(misses.get(k), checked(n, p.address(), p.length(), p.generation()));
            }
            from = to;
        }
        return out;
    }

    /** Decodes the node {@code p} names from a span read earlier, {@code at} bytes in, and caches it. */
    private <V> Node<V> decodeInto(TreeKind kind, ValueCodec<V> codec, ByteBuffer span, int at, TreePointer p)
            throws IOException {
        Node<V> n = decode(kind, codec, log.recordIn(span, at, p.address(), p.length()), p.address(), p.length(),
                p.generation());
        cache.put(p.address(), n);
        hot.setRelease(slot(p.address()), n);
        return n;
    }

    private int slot(long address) {
        long h = address * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & hotMask;
    }

    /** Reads and verifies a node record without caching it (fsck uses this). */
    public <V> Node<V> read(TreeKind kind, ValueCodec<V> codec, long address, int length, long generation)
            throws IOException {
        reads.increment();
        // decoding copies everything out of the record, so the bytes need no buffer of their own
        return decode(kind, codec, log.readRecord(address, length, SCRATCH.get()), address, length, generation);
    }

    /** Node records read from the log so far: one per I/O, several nodes when read together. */
    public long reads() {
        return reads.sum();
    }

    /** Checks a whole record's type and generation against its pointer and decodes it. */
    private <V> Node<V> decode(TreeKind kind, ValueCodec<V> codec, UnsafeBuffer u, long address, int length,
            long generation) throws IOException {
        byte type = u.getByte(RecordLayout.TYPE_OFFSET);
        long gen = u.getLong(RecordLayout.GENERATION_OFFSET);
        var path = log.segment(LogAddress.segment(address)).file.path();
        if (type != kind.leafType && type != kind.interiorType) {
            throw new CorruptionException(path, address, "expected a " + kind.name().toLowerCase()
                    + " node, found a " + RecordLayout.typeName(type) + " record");
        }
        if (gen != generation) {
            throw new CorruptionException(path, address, "pointer expects generation " + generation
                    + ", record has generation " + gen + " (stale or misdirected write)");
        }
        try {
            Node<V> n = Node.decode(type == kind.leafType, codec, u, RecordLayout.HEADER_BYTES,
                    length - RecordLayout.HEADER_BYTES);
            n.address = address;
            n.length = length;
            n.generation = gen;
            return n;
        } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
            throw new CorruptionException(path, address, "node does not decode: " + e.getMessage());
        }
    }

    public void pin(Node<?> node) {
        pinned.put(node.address, node);
    }

    public void pin(List<Node<?>> nodes) {
        for (Node<?> n : nodes) {
            pinned.put(n.address, n);
        }
    }

    /** The pinned nodes are in the file now: move them to the bounded cache. */
    public void unpin(List<Node<?>> nodes) {
        for (Node<?> n : nodes) {
            cache.put(n.address, n);
            pinned.remove(n.address);
        }
    }

    public long estimatedSize() {
        return cache.estimatedSize();
    }
}
