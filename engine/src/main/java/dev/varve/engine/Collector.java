package dev.varve.engine;

import dev.varve.engine.btree.CowTree;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.Node;
import dev.varve.engine.btree.NodeCache;
import dev.varve.engine.btree.TreeKind;
import dev.varve.engine.btree.TreePointer;
import dev.varve.engine.catalog.Catalog;
import dev.varve.engine.catalog.CatalogEntry;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.log.Log;
import dev.varve.engine.log.MetaBatch;
import dev.varve.engine.log.Segment;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongArrayList;
import org.agrona.collections.LongHashSet;

/**
 * The collector and compactor. A pass has three steps:
 *
 * <ol>
 * <li><b>Mark</b>, without any lock against writers: the roots of the last commit (every volume
 * head, snapshot and the catalog) are immutable, so their trees are walked through the node
 * cache, each shared subtree once, summing the live bytes of every segment. A sealed segment
 * (not a log head) that nothing reaches is dead for good: later states can only refer to an
 * old segment by copying a reference that already existed.
 * <li><b>Compact</b>, inside one commit's freeze: victim segments (live share under the
 * configured utilisation, best cost-benefit first, as LFS) are emptied. Data they hold is
 * copied to the cold log head; every tree node that points at moved data or lives in a victim
 * is rewritten once, through a forwarding map keyed by old address, so a subtree shared by a
 * hundred snapshots is moved once and stays shared. Roots are swapped in the catalog and in
 * open volume heads; the commit makes it durable.
 * <li><b>Reclaim</b>, after the commit and a superblock that names it: dead and emptied
 * segment files are deleted (wiped first when asked) under the reclaim lock, which every read
 * of a tree or of data holds, so no reader is using an old address when its file goes.
 * </ol>
 */
final class Collector {
    private final Store store;

    Collector(Store store) {
        this.store = store;
    }

    /** What the mark found: live bytes by segment, over the roots of one commit. */
    static final class Mark {
        final Long2LongHashMap live = new Long2LongHashMap(0);
        final Map<Long, Long> sizes = new HashMap<>();
        final Set<Long> heads = new HashSet<>();
        /** The write position, when the roots were taken, of each data head not written since the freeze. */
        final Map<Long, Long> headPositions = new HashMap<>();
        long watermark;

        long garbage() {
            long g = 0;
            for (var e : sizes.entrySet()) {
                if (!heads.contains(e.getKey()) && e.getKey() < watermark) {
                    long id = e.getKey();
                    g += Math.max(0, e.getValue() - SegmentLayout.HEADER_BYTES - live.get(id));
                }
            }
            return g;
        }

        long liveBytes() {
            long l = 0;
            for (long id : sizes.keySet()) {
                l += live.get(id);
            }
            return l;
        }

        long totalBytes() {
            long t = 0;
            for (long v : sizes.values()) {
                t += v;
            }
            return t;
        }
    }

    /** One root to walk: an extent tree (volume or snapshot) or the catalog. */
    private record Root(long id, TreePointer root, int blockSize, boolean catalog) {
    }

    private record Snapshot(List<Root> roots, List<long[]> blobs, Set<Long> heads, Map<Long, Long> headPositions,
                            long watermark,
                            Map<Long, Long> sizes) {
    }

    private Snapshot roots() throws IOException {
        return store.readingCatalog(catalog -> {
            List<Root> roots = new ArrayList<>();
            List<long[]> blobs = new ArrayList<>();
            for (CatalogEntry e : catalog.all()) {
                roots.add(new Root(e.id, e.root, e.blockSize, false));
                if (e.propsAddress != 0) {
                    blobs.add(new long[] {e.propsAddress, e.propsLength});
                }
            }
            roots.add(new Root(0, store.lastCommit().catalogRoot(), 0, true));
            Log log = store.log();
            Map<Long, Long> sizes = new HashMap<>();
            for (Segment s : log.segments()) {
                sizes.put(s.id, s.file.size());
            }
            // a segment written since the last freeze may hold data that only trees not yet
            // committed point at, and a head may still be written: never judged by this mark
            // (taken under the txg lock, so no freeze comes between the roots and this set)
            long watermark = log.nextSegmentId();
            Map<Long, Long> headPositions = new HashMap<>();
            Set<Long> unsettled = log.unsettled(headPositions);
            return new Snapshot(roots, blobs, unsettled, headPositions, watermark, sizes);
        });
    }

    /** Walks every tree of the last commit; each node once. */
    Mark mark() throws IOException {
        return mark(null);
    }

    /** As {@link #mark()}, yielding to user writes through {@code pacer} when one is given. */
    Mark mark(Pacer pacer) throws IOException {
        Snapshot snap = roots();
        Mark m = new Mark();
        m.heads.addAll(snap.heads);
        m.watermark = snap.watermark;
        m.headPositions.putAll(snap.headPositions);
        m.sizes.putAll(snap.sizes);
        NodeCache cache = store.cache();
        Set<Long> seen = new HashSet<>();
        Map<Long, List<long[]>> dataRuns = new HashMap<>();
        store.reclaimLock().readLock().lock();
        try {
            for (Root r : snap.roots) {
                if (r.root.isEmpty()) {
                    continue;
                }
                if (r.catalog) {
                    walk(cache, TreeKind.CATALOG, Catalog.BYTES, r.root, seen, m, null, 0, pacer);
                } else {
                    walk(cache, TreeKind.EXTENTS, Extent.CODEC, r.root, seen, m, dataRuns, r.blockSize, pacer);
                }
            }
        } finally {
            store.reclaimLock().readLock().unlock();
        }
        for (long[] b : snap.blobs) {
            long seg = LogAddress.segment(b[0]);
            m.live.put(seg, m.live.get(seg) + b[1]);
        }
        for (var e : dataRuns.entrySet()) {
            long seg = e.getKey();
            m.live.put(seg, m.live.get(seg) + union(e.getValue()));
        }
        return m;
    }

    private static <V> void walk(NodeCache cache, TreeKind kind, dev.varve.engine.btree.ValueCodec<V> codec,
                                 TreePointer root, Set<Long> seen, Mark m, Map<Long, List<long[]>> dataRuns,
                                 int blockSize, Pacer pacer) throws IOException {
        ArrayDeque<long[]> todo = new ArrayDeque<>();
        int sincePace = 0;
        todo.push(new long[] {root.address(), root.length(), root.generation()});
        while (!todo.isEmpty()) {
            long[] p = todo.pop();
            if (!seen.add(p[0])) {
                continue;
            }
            Node<V> n = cache.load(kind, codec, p[0], (int) p[1], p[2]);
            long seg = LogAddress.segment(p[0]);
            m.live.put(seg, m.live.get(seg) + p[1]);
            if (pacer != null && ++sincePace == 64) {
                sincePace = 0;
                pacer.pace();
            }
            if (n.isLeaf()) {
                if (dataRuns != null) {
                    for (int i = 0; i < n.count(); i++) {
                        Extent e = (Extent) n.value(i);
                        long off = LogAddress.offset(e.address);
                        dataRuns.computeIfAbsent(LogAddress.segment(e.address), k -> new ArrayList<>())
                                .add(new long[] {off, off + (long) e.blocks * blockSize});
                    }
                }
            } else {
                for (int i = 0; i < n.count(); i++) {
                    todo.push(new long[] {n.childAddress(i), n.childLength(i), n.childGeneration(i)});
                }
            }
        }
    }

    /** Bytes covered by a set of [start, end) runs, overlaps counted once. */
    static long union(List<long[]> runs) {
        runs.sort((a, b) -> Long.compare(a[0], b[0]));
        long total = 0;
        long curStart = -1;
        long curEnd = -1;
        for (long[] r : runs) {
            if (r[0] > curEnd) {
                total += curEnd - curStart;
                curStart = r[0];
                curEnd = r[1];
            } else {
                curEnd = Math.max(curEnd, r[1]);
            }
        }
        return total + (curEnd - curStart);
    }

    /**
     * A full pass: mark, compact the victims, reclaim dead and emptied segments. With
     * {@code paced}, the mark and the copy yield to user writes ({@link Pacer}).
     */
    GcReport collect(double victimUtilization, long maxMoveBytes, boolean paced) throws IOException {
        return collect(victimUtilization, maxMoveBytes, -1, paced);
    }

    /**
     * As {@link #collect(double, long, boolean)}; with {@code targetBytes >= 0} it stops choosing victims
     * once the files would take at most that many bytes, so a collector under space pressure
     * moves only what it must, from the emptiest segments, and lets the rest keep emptying.
     */
    GcReport collect(double victimUtilization, long maxMoveBytes, long targetBytes, boolean paced)
            throws IOException {
        long t0 = System.nanoTime();
        Pacer pacer = paced ? new Pacer(store, store.gcDutyCycle()) : null;
        Mark m = mark(pacer);
        long bytesBefore = m.totalBytes();
        int segmentsBefore = m.sizes.size();
        Set<Long> dead = new HashSet<>();
        List<long[]> candidates = new ArrayList<>(); // id, live, capacity
        for (var e : m.sizes.entrySet()) {
            long id = e.getKey();
            if (m.heads.contains(id) || id >= m.watermark) {
                continue;
            }
            long live = m.live.get(id);
            long cap = Math.max(1, e.getValue() - SegmentLayout.HEADER_BYTES);
            if (live == 0) {
                dead.add(id);
            } else if ((double) live / cap < victimUtilization) {
                candidates.add(new long[] {id, live, cap});
            }
        }
        // a data head with nothing live that nobody wrote since the last freeze is closed and
        // reclaimed like any dead segment (after destroying everything, no idle head lingers)
        Map<Long, Long> idle = new HashMap<>();
        for (var e : m.headPositions.entrySet()) {
            if (m.live.get((long) e.getKey()) == 0) {
                idle.put(e.getKey(), e.getValue());
            }
        }
        dead.addAll(store.log().retireIdleDataHeads(idle));
        long projected = bytesBefore;
        for (long id : dead) {
            projected -= m.sizes.get(id);
        }
        int deletedEarly = 0;
        if (store.hasSizeLimit() && !dead.isEmpty() && !candidates.isEmpty()) {
            // under a size limit the compaction's own commit needs room: what is dead goes first
            deletedEarly = store.reclaim(dead);
            dead.clear();
        }
        // cost-benefit (LFS): free space gained times age, over the cost of reading and moving
        // what lives; segment ids grow with time, so a lower id is older
        long newest = m.watermark;
        candidates.sort((a, b) -> Double.compare(score(b, newest), score(a, newest)));
        Set<Long> victims = new HashSet<>();
        long toMove = 0;
        long budget = store.compactionBudget(maxMoveBytes);
        for (long[] c : candidates) {
            if (targetBytes >= 0 && projected <= targetBytes) {
                break;
            }
            if (toMove + c[1] > budget) {
                break;
            }
            victims.add(c[0]);
            toMove += c[1];
            projected -= m.sizes.get(c[0]) - c[1];
        }
        long moved = 0;
        if (!victims.isEmpty()) {
            // the live data is copied before the freeze, with writers running; the freeze only
            // points the trees at the copies (and copies what changed meanwhile, normally nothing)
            Moves ahead = copyAhead(victims, pacer);
            moved = store.compact(victims, ahead);
        }
        Set<Long> reclaim = new HashSet<>(dead);
        reclaim.addAll(victims);
        int deleted = deletedEarly + store.reclaim(reclaim);
        long bytesAfter = 0;
        int segmentsAfter = 0;
        for (Segment s : store.log().segments()) {
            bytesAfter += s.file.size();
            segmentsAfter++;
        }
        return new GcReport(segmentsBefore, segmentsAfter, deleted, bytesBefore, bytesAfter, moved,
                m.liveBytes(), (System.nanoTime() - t0) / 1_000_000);
    }

    private static double score(long[] c, long newest) {
        double u = (double) c[1] / c[2];
        double age = newest - c[0];
        return (1 - u) * age / (1 + u);
    }

    /**
     * Keeps the compactor's share of time at most a duty cycle while users write, so a pass
     * yields to the foreground instead of taking a core and the disk from it (as ZFS delays
     * scrub I/O while a pool is busy). With no user write since its last slice it runs at full
     * speed; it never waits inside a freeze, and a collection under space pressure is not paced.
     */
    static final class Pacer {
        private static final long SLICE_NANOS = 2_000_000;
        private final double duty;
        private final Store store;
        private long sliceStart = System.nanoTime();
        private long bytesAtStart;
        long waitedNanos;

        Pacer(Store store, double duty) {
            this.store = store;
            this.duty = duty;
            this.bytesAtStart = store.userBytesWritten();
        }

        void pace() {
            long now = System.nanoTime();
            long busy = now - sliceStart;
            if (busy < SLICE_NANOS) {
                return;
            }
            long written = store.userBytesWritten();
            if (duty < 1 && written != bytesAtStart) {
                long until = now + (long) (busy * (1 - duty) / duty);
                for (long left = until - now; left > 0; left = until - System.nanoTime()) {
                    java.util.concurrent.locks.LockSupport.parkNanos(left); // may return early
                }
                waitedNanos += System.nanoTime() - now;
            }
            sliceStart = System.nanoTime();
            bytesAtStart = store.userBytesWritten();
        }
    }

    /** An extent a tree holds in a victim segment: its bytes {@code [start, end)} in the log. */
    private record Piece(long start, long end, Extent extent, int blockSize) {
    }

    /**
     * Where the live runs of one victim segment went: runs {@code [start, end)} sorted by
     * start, never overlapping, each copied whole to {@code to}.
     */
    static final class SegmentMoves {
        private final LongArrayList start = new LongArrayList();
        private final LongArrayList end = new LongArrayList();
        private final LongArrayList to = new LongArrayList();

        void add(long s, long e, long t) {
            start.addLong(s);
            end.addLong(e);
            to.addLong(t);
        }

        /** Sorts the runs by start, once every one is added (batches land out of order). */
        void seal() {
            int n = start.size();
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            java.util.Arrays.sort(order, (a, b) -> Long.compare(start.getLong(a), start.getLong(b)));
            long[][] cols = {new long[n], new long[n], new long[n]};
            for (int i = 0; i < n; i++) {
                cols[0][i] = start.getLong(order[i]);
                cols[1][i] = end.getLong(order[i]);
                cols[2][i] = to.getLong(order[i]);
            }
            start.clear();
            end.clear();
            to.clear();
            for (int i = 0; i < n; i++) {
                add(cols[0][i], cols[1][i], cols[2][i]);
            }
        }

        /** Where {@code [a, e)} went, or -1 when no one run holds all of it. */
        long target(long a, long e) {
            int lo = 0;
            int hi = start.size() - 1;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                if (start.getLong(mid) <= a) {
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            return hi >= 0 && end.getLong(hi) >= e ? to.getLong(hi) + (a - start.getLong(hi)) : -1;
        }

        boolean covers(List<Piece> pieces) {
            for (Piece p : pieces) {
                if (target(p.start, p.end) < 0) {
                    return false;
                }
            }
            return true;
        }
    }

    /** The moves of every victim segment, and the data bytes copied to make them. */
    static final class Moves {
        final Long2ObjectHashMap<SegmentMoves> bySegment = new Long2ObjectHashMap<>();
        long copiedBytes;
    }

    /**
     * Copies the victims' live data as the last commit's trees hold it, outside any freeze:
     * writers go on meanwhile. Records never change once written and a victim is sealed (no
     * stream writes it again), so what the trees point at in a victim later is these extents
     * or slices of them, and the copy still holds their bytes; the freeze checks that per
     * segment ({@link #relocate}).
     */
    Moves copyAhead(Set<Long> victims, Pacer pacer) throws IOException {
        LongHashSet victimSet = victimSet(victims);
        List<Root> roots = store.readingCatalog(catalog -> {
            List<Root> l = new ArrayList<>();
            for (CatalogEntry e : catalog.all()) {
                l.add(new Root(e.id, e.root, e.blockSize, false));
            }
            return l;
        });
        Moves moves = new Moves();
        store.reclaimLock().readLock().lock();
        try {
            Long2ObjectHashMap<List<Piece>> found = gather(store.cache(), roots, victimSet, maxOf(victims));
            Copier copier = new Copier(store, moves);
            for (var f : found.entrySet()) {
                moves.bySegment.put((long) f.getKey(), copier.copy(f.getValue(), pacer));
            }
            copier.finish();
        } finally {
            store.reclaimLock().readLock().unlock();
        }
        return moves;
    }

    private static LongHashSet victimSet(Set<Long> victims) {
        LongHashSet s = new LongHashSet(Math.max(8, victims.size() * 2));
        for (long v : victims) {
            s.add(v);
        }
        return s;
    }

    private static long maxOf(Set<Long> victims) {
        long m = Long.MIN_VALUE;
        for (long v : victims) {
            m = Math.max(m, v);
        }
        return m;
    }

    /**
     * The compaction itself, inside a commit's freeze (dirty trees were just written, so every
     * head is clean): points every tree at the copies {@code ahead} made, copies now whatever
     * a victim holds that those copies do not cover, and swaps the roots.
     *
     * @return data bytes moved (ahead and now)
     */
    static long relocate(Store store, Catalog catalog, MetaBatch batch, Set<Long> victims, Moves ahead)
            throws IOException {
        LongHashSet victimSet = victimSet(victims);
        long mv = maxOf(victims);
        Map<Long, CowTree.Moved> forwarding = new HashMap<>();
        // Data by physical range: every extent in a victim, from every tree, is gathered,
        // overlapping slices of one written run are united, and each united run was copied
        // once (ahead of the freeze, or here for a segment the copy ahead does not cover).
        // A snapshot holding a whole extent and a head holding a slice of it then still share
        // the same bytes at the new place (diff and send see no change that was not made).
        List<Root> roots = new ArrayList<>();
        for (CatalogEntry e : catalog.all()) {
            roots.add(new Root(e.id, e.root, e.blockSize, false));
        }
        Long2ObjectHashMap<List<Piece>> found = gather(store.cache(), roots, victimSet, mv);
        Long2ObjectHashMap<SegmentMoves> moves = new Long2ObjectHashMap<>();
        Copier late = new Copier(store, ahead);
        for (var f : found.entrySet()) {
            long seg = f.getKey();
            SegmentMoves a = ahead.bySegment.get(seg);
            moves.put(seg, a != null && a.covers(f.getValue()) ? a : late.copy(f.getValue(), null));
        }
        late.finish();
        for (CatalogEntry e : new ArrayList<>(catalog.all())) {
            if (!e.root.isEmpty()) {
                int bs = e.blockSize;
                CowTree.Relocation<Extent> r = new CowTree.Relocation<>() {
                    @Override
                    public boolean isVictim(long segment) {
                        return victimSet.contains(segment);
                    }

                    @Override
                    public long maxVictim() {
                        return mv;
                    }

                    @Override
                    public Extent move(Extent x) {
                        long seg = LogAddress.segment(x.address);
                        if (!victimSet.contains(seg)) {
                            return x;
                        }
                        SegmentMoves m = moves.get(seg);
                        long to = m == null ? -1 : m.target(x.address, x.address + (long) x.blocks * bs);
                        if (to < 0) {
                            throw new IllegalStateException("invariant violated: extent " + x + " of segment " + seg
                                    + " was not gathered before the move");
                        }
                        return moved(x, to);
                    }

                    @Override
                    public Map<Long, CowTree.Moved> forwarding() {
                        return forwarding;
                    }
                };
                CowTree<Extent> t = new CowTree<>(TreeKind.EXTENTS, Extent.CODEC, store.cache(), e.root);
                CowTree.Moved m = t.relocate(e.root, batch, e.lineage, r);
                if (m.address() != e.root.address()) {
                    store.pinWritten(batch);
                    store.swapRoot(e, m.pointer());
                    catalog.changed(e);
                }
            }
            if (e.propsAddress != 0 && victimSet.contains(LogAddress.segment(e.propsAddress))) {
                catalog.properties(e);
                e.propertiesDirty = true;
                catalog.changed(e);
            }
        }
        Map<Long, CowTree.Moved> catalogForwarding = new HashMap<>();
        catalog.relocateOnCommit(new CowTree.Relocation<>() {
            @Override
            public boolean isVictim(long segment) {
                return victimSet.contains(segment);
            }

            @Override
            public long maxVictim() {
                return mv;
            }

            @Override
            public byte[] move(byte[] value) {
                return value;
            }

            @Override
            public Map<Long, CowTree.Moved> forwarding() {
                return catalogForwarding;
            }
        });
        return ahead.copiedBytes;
    }

    /**
     * Every extent the given trees hold in a victim, per segment, in no particular order.
     * Subtrees whose lowest segment is above every victim are skipped.
     */
    private static Long2ObjectHashMap<List<Piece>> gather(NodeCache cache, List<Root> roots, LongHashSet victims,
                                                          long maxVictim) throws IOException {
        Long2ObjectHashMap<List<Piece>> found = new Long2ObjectHashMap<>();
        LongHashSet seen = new LongHashSet();
        for (Root r : roots) {
            if (r.root.isEmpty()) {
                continue;
            }
            int bs = r.blockSize;
            ArrayDeque<long[]> todo = new ArrayDeque<>();
            todo.push(new long[] {r.root.address(), r.root.length(), r.root.generation()});
            while (!todo.isEmpty()) {
                long[] p = todo.pop();
                if (!seen.add(p[0])) {
                    continue;
                }
                Node<Extent> n = cache.load(TreeKind.EXTENTS, Extent.CODEC, p[0], (int) p[1], p[2]);
                if (n.isLeaf()) {
                    for (int i = 0; i < n.count(); i++) {
                        Extent x = n.value(i);
                        long seg = LogAddress.segment(x.address);
                        if (victims.contains(seg)) {
                            List<Piece> l = found.get(seg);
                            if (l == null) {
                                l = new ArrayList<>();
                                found.put(seg, l);
                            }
                            l.add(new Piece(x.address, x.address + (long) x.blocks * bs, x, bs));
                        }
                    }
                } else {
                    for (int i = 0; i < n.count(); i++) {
                        if (n.childMinSegment(i) <= maxVictim) {
                            todo.push(new long[] {n.childAddress(i), n.childLength(i), n.childGeneration(i)});
                        }
                    }
                }
            }
        }
        return found;
    }

    /**
     * Copies live runs to the log in batches: runs bound for one stream are gathered in a
     * buffer and written with one allocation of up to {@link #BATCH_BYTES} (cut to what the
     * stream's head segment still holds), so the compactor takes the log's data lock, which
     * every user write takes too, once per batch instead of once per run.
     */
    /** The most bytes the compactor writes with one allocation (a batch, or a run alone). */
    static final int COPY_RUN_BYTES = Copier.BATCH_BYTES;

    private static final class Copier {
        static final int BATCH_BYTES = 256 << 10;
        private final Store store;
        private final Moves moves;
        private final Batch[] batches = {new Batch(Log.HOT), new Batch(Log.COLD)};
        private final List<SegmentMoves> made = new ArrayList<>();
        private final CRC32C crc = new CRC32C();

        /** Every survivor to the cold stream (a store at its size limit: one new segment fits). */
        private final boolean oneStream;

        Copier(Store store, Moves moves) {
            this.store = store;
            this.moves = moves;
            this.oneStream = store.compactsToOneStream();
        }

        /** A stream's pending runs: their bytes at offsets in buf, and where each came from. */
        private static final class Batch {
            final int stream;
            final byte[] buf = new byte[BATCH_BYTES];
            int len;
            final List<SegmentMoves> owners = new ArrayList<>();
            final LongArrayList starts = new LongArrayList();
            final LongArrayList ends = new LongArrayList();
            final LongArrayList offsets = new LongArrayList();

            Batch(int stream) {
                this.stream = stream;
            }
        }

        /**
         * Copies the live runs of one victim segment (its extents sorted; overlapping ones,
         * slices of one written run, united, never merely touching ones) each once, to the hot
         * or cold stream, and adds the bytes to {@code moves.copiedBytes}. Every block is
         * checked against its extent's CRC32C before it is copied; a bad one stops the pass
         * with nothing changed. The returned moves are complete after {@link #finish()}.
         */
        SegmentMoves copy(List<Piece> pieces, Pacer pacer) throws IOException {
            Log log = store.log();
            List<Piece> xs = new ArrayList<>(pieces);
            xs.sort((a, b) -> Long.compare(a.start, b.start));
            SegmentMoves m = new SegmentMoves();
            made.add(m);
            int i = 0;
            while (i < xs.size()) {
                long start = xs.get(i).start;
                long end = xs.get(i).end;
                int j = i + 1;
                while (j < xs.size() && xs.get(j).start < end) {
                    end = Math.max(end, xs.get(j).end);
                    j++;
                }
                ByteBuffer b = ByteBuffer.allocate((int) (end - start));
                log.readData(start, b);
                for (int k = i; k < j; k++) {
                    Extent x = xs.get(k).extent;
                    int bs = xs.get(k).blockSize;
                    int base = (int) (x.address - start);
                    for (int blk = 0; blk < x.blocks; blk++) {
                        crc.reset();
                        crc.update(b.array(), base + blk * bs, bs);
                        if ((int) crc.getValue() != x.crc(blk)) {
                            long at = x.address + (long) blk * bs;
                            throw store.corrupted(new CorruptionException(
                                    log.segment(LogAddress.segment(at)).file.path(), at,
                                    "a data block the compactor was to move fails its checksum; nothing was moved"));
                        }
                    }
                }
                // the run keeps its alignment within 4 KiB (at least 512)
                int align = Math.max(512, (int) Math.min(4096, Long.lowestOneBit(start | 4096)));
                // survivors that users wrote recently are likely to die soon: they join the HOT
                // stream; the rest has outlived a collection and goes to COLD
                Extent lead = xs.get(i).extent;
                Batch batch = batches[!oneStream && store.writtenRecently(lead.birth) ? 0 : 1];
                add(batch, m, start, end, b.array(), align);
                moves.copiedBytes += end - start;
                i = j;
                if (pacer != null) {
                    pacer.pace();
                }
            }
            return m;
        }

        private void add(Batch batch, SegmentMoves m, long start, long end, byte[] bytes, int align)
                throws IOException {
            int len = (int) (end - start);
            if (len > BATCH_BYTES / 2) {
                // a long run goes alone (a batch of one)
                long to = write(ByteBuffer.wrap(bytes, 0, len), align, batch.stream);
                m.add(start, end, to);
                return;
            }
            int at = (batch.len + align - 1) & -align;
            long room = store.log().dataHeadRoom(batch.stream);
            long limit = room >= 4096 ? Math.min(BATCH_BYTES, room) : BATCH_BYTES;
            if (at + len > limit && batch.len > 0) {
                flush(batch);
                at = 0;
            }
            System.arraycopy(bytes, 0, batch.buf, at, len);
            batch.len = at + len;
            batch.owners.add(m);
            batch.starts.addLong(start);
            batch.ends.addLong(end);
            batch.offsets.addLong(at);
        }

        /** Writes a batch with one allocation, 4 KiB aligned, and records where each run went. */
        private void flush(Batch batch) throws IOException {
            if (batch.len == 0) {
                return;
            }
            long to = write(ByteBuffer.wrap(batch.buf, 0, batch.len), 4096, batch.stream);
            for (int k = 0; k < batch.owners.size(); k++) {
                batch.owners.get(k).add(batch.starts.getLong(k), batch.ends.getLong(k), to + batch.offsets.getLong(k));
            }
            batch.len = 0;
            batch.owners.clear();
            batch.starts.clear();
            batch.ends.clear();
            batch.offsets.clear();
        }

        /**
         * Writes moved bytes to a stream's head. A failed write (or a failed file creation for a
         * new head) fails the store as a user write's would: nothing after the last commit is
         * acknowledged until it is reopened. Only a full disk leaves it usable, as nothing the
         * trees point at has changed.
         */
        private long write(ByteBuffer bytes, int align, int stream) throws IOException {
            try {
                long to = store.log().allocateData(bytes.remaining(), align, stream, true);
                store.log().writeData(to, bytes);
                return to;
            } catch (IOException e) {
                throw store.firstWriteFailed(e, "writing data the compactor moves");
            }
        }

        /** Writes what is pending and sorts every segment's moves. */
        void finish() throws IOException {
            for (Batch b : batches) {
                flush(b);
            }
            for (SegmentMoves m : made) {
                m.seal();
            }
        }
    }

    private static Extent moved(Extent x, long to) {
        int[] crcs = new int[x.blocks];
        for (int i = 0; i < x.blocks; i++) {
            crcs[i] = x.crc(i);
        }
        return new Extent(x.blocks, to, x.birth, crcs);
    }

    // ------------------------------------------------------------------ space accounting

    /**
     * Referenced and exclusive bytes of every volume and snapshot, exact, from the trees: each
     * node is visited once; how many roots reach it is counted over the DAG of shared subtrees
     * (Kahn order), and a block is exclusive to a root when exactly one root reaches it.
     */
    Map<Long, long[]> space() throws IOException {
        Snapshot snap = roots();
        NodeCache cache = store.cache();
        Long2ObjectHashMap<long[]> children = new Long2ObjectHashMap<>();
        Long2ObjectHashMap<Node<Extent>> leaves = new Long2ObjectHashMap<>();
        Long2LongHashMap indegree = new Long2LongHashMap(0);
        Long2ObjectHashMap<long[]> info = new Long2ObjectHashMap<>(); // address -> {len, gen}
        Map<Long, LongArrayList> rootsAt = new HashMap<>();
        store.reclaimLock().readLock().lock();
        try {
            for (Root r : snap.roots) {
                if (r.catalog || r.root.isEmpty()) {
                    continue;
                }
                rootsAt.computeIfAbsent(r.root.address(), k -> new LongArrayList()).add(r.id);
                indegree.put(r.root.address(), indegree.get(r.root.address()) + 1);
                ArrayDeque<long[]> todo = new ArrayDeque<>();
                todo.push(new long[] {r.root.address(), r.root.length(), r.root.generation()});
                while (!todo.isEmpty()) {
                    long[] p = todo.pop();
                    if (info.containsKey(p[0])) {
                        continue;
                    }
                    info.put(p[0], new long[] {p[1], p[2], r.blockSize});
                    Node<Extent> n = cache.load(TreeKind.EXTENTS, Extent.CODEC, p[0], (int) p[1], p[2]);
                    if (n.isLeaf()) {
                        leaves.put(p[0], n);
                        children.put(p[0], new long[0]);
                    } else {
                        long[] c = new long[n.count()];
                        for (int i = 0; i < n.count(); i++) {
                            c[i] = n.childAddress(i);
                            indegree.put(c[i], indegree.get(c[i]) + 1);
                            todo.push(new long[] {c[i], n.childLength(i), n.childGeneration(i)});
                        }
                        children.put(p[0], c);
                    }
                }
            }
        } finally {
            store.reclaimLock().readLock().unlock();
        }
        // reach: how many roots reach a node; owner: the one root when reach == 1
        Long2LongHashMap reach = new Long2LongHashMap(0);
        Long2LongHashMap owner = new Long2LongHashMap(-1);
        Long2LongHashMap pending = new Long2LongHashMap(Long.MIN_VALUE);
        ArrayDeque<Long> ready = new ArrayDeque<>();
        for (var e : rootsAt.entrySet()) {
            LongArrayList ids = e.getValue();
            long a = e.getKey();
            reach.put(a, reach.get(a) + ids.size());
            owner.put(a, ids.size() == 1 ? ids.getLong(0) : -2L);
            pending.put(a, indegree.get(a) - ids.size());
            if (pending.get(a) == 0) {
                ready.add(a);
            }
        }
        Map<Long, long[]> out = new HashMap<>(); // id -> {referenced, exclusive}
        for (Root r : snap.roots) {
            if (!r.catalog) {
                out.put(r.id, new long[2]);
            }
        }
        // per block, by physical address: SHARED once two roots reach it (through one node or
        // several), else its one owner and the log2 of its size packed in one value, so each block
        // costs one array store however many trees list it
        int minBlock = Integer.MAX_VALUE;
        for (Root r : snap.roots) {
            if (!r.catalog) {
                minBlock = Math.min(minBlock, Math.max(1, r.blockSize));
            }
        }
        BlockRefs refs = new BlockRefs(snap.sizes, minBlock);
        while (!ready.isEmpty()) {
            long a = ready.poll();
            long ra = reach.get(a);
            long oa = owner.get(a);
            Node<Extent> leaf = leaves.get(a);
            if (leaf != null) {
                int bs = (int) info.get(a)[2]; // a shared node is shared between trees of one block size
                long single = ra == 1 && oa >= 0 ? oa << 5 | Integer.numberOfTrailingZeros(bs) : SHARED;
                for (int i = 0; i < leaf.count(); i++) {
                    Extent x = leaf.value(i);
                    refs.mark(x.address, x.blocks, bs, single);
                }
            }
            for (long c : children.get(a)) {
                long rc = reach.get(c);
                reach.put(c, rc + ra);
                long oc = owner.get(c);
                owner.put(c, oc == -1 && ra == 1 ? oa : -2);
                long left = pending.containsKey(c) ? pending.get(c) - 1 : indegree.get(c) - 1;
                pending.put(c, left);
                if (left == 0) {
                    ready.add(c);
                }
            }
        }
        // referenced: blocks per root, from subtree block counts memoized by node
        Long2LongHashMap subtree = new Long2LongHashMap(-1);
        for (Root r : snap.roots) {
            if (r.catalog || r.root.isEmpty()) {
                continue;
            }
            out.get(r.id)[0] = blocks(r.root.address(), children, leaves, subtree) * r.blockSize;
        }
        refs.forEachOwned(ref -> {
            long[] s = out.get(ref >>> 5);
            if (s != null) {
                s[1] += 1L << (ref & 31);
            }
        });
        return out;
    }

    /**
     * {@link #space()}'s value of every block, by physical address: an array per segment indexed
     * by offset ÷ the smallest block size (8 bytes per such unit of the file, filled as the
     * segment's first block is marked), and a map for an address that fits none (off that
     * grid, or past the file's end). A hash map keyed by address cost a probe into a table of
     * 16-byte slots per block, and most of the time a check's cross-check spent computing space.
     */
    private static final class BlockRefs {
        private final Map<Long, Long> sizes;
        private final int unit;
        private final Long2ObjectHashMap<long[]> segments = new Long2ObjectHashMap<>();
        private final Long2LongHashMap other = new Long2LongHashMap(UNREFERENCED);
        private long lastSegment = -1;
        private long[] last;

        BlockRefs(Map<Long, Long> sizes, int unit) {
            this.sizes = sizes;
            this.unit = unit;
        }

        /**
         * Records that the root {@code single} names (or {@link #SHARED}) reaches the {@code blocks}
         * blocks of {@code size} bytes from {@code address} on: one extent, all in one segment.
         */
        void mark(long address, int blocks, int size, long single) {
            long offset = LogAddress.offset(address);
            long[] a = offset % unit == 0 && size % unit == 0 ? array(LogAddress.segment(address)) : null;
            long first = offset / unit;
            int step = size / unit;
            if (a != null && first + (long) (blocks - 1) * step < a.length) {
                for (int b = 0, i = (int) first; b < blocks; b++, i += step) {
                    a[i] = a[i] == UNREFERENCED ? single : SHARED;
                }
                return;
            }
            for (int b = 0; b < blocks; b++) { // block by block: where a block is kept depends on it alone
                long at = address + (long) b * size;
                long[] in = LogAddress.offset(at) % unit == 0 ? array(LogAddress.segment(at)) : null;
                long i = LogAddress.offset(at) / unit;
                if (in != null && i < in.length) {
                    in[(int) i] = in[(int) i] == UNREFERENCED ? single : SHARED;
                } else {
                    other.put(at, other.get(at) == UNREFERENCED ? single : SHARED);
                }
            }
        }

        private long[] array(long segment) {
            if (segment == lastSegment) {
                return last;
            }
            long[] a = segments.get(segment);
            if (a == null) {
                Long size = sizes.get(segment);
                if (size == null) {
                    return null;
                }
                a = new long[(int) Math.min(Integer.MAX_VALUE - 16, size / unit + 1)];
                java.util.Arrays.fill(a, UNREFERENCED);
                segments.put(segment, a);
            }
            lastSegment = segment;
            last = a;
            return a;
        }

        /** Each value of a block one root alone reaches. */
        void forEachOwned(java.util.function.LongConsumer c) {
            for (long[] a : segments.values()) {
                for (long v : a) {
                    if (v >= 0) {
                        c.accept(v);
                    }
                }
            }
            other.forEachLong((address, v) -> { // not forEach, which boxes both longs of every block
                if (v >= 0) {
                    c.accept(v);
                }
            });
        }
    }

    /** {@link #space()}'s per-block map: no root reaches the block yet, or several do. */
    private static final long UNREFERENCED = -1;
    private static final long SHARED = -2;

    private static long blocks(long a, Long2ObjectHashMap<long[]> children, Long2ObjectHashMap<Node<Extent>> leaves,
                               Long2LongHashMap memo) {
        long m = memo.get(a);
        if (m >= 0) {
            return m;
        }
        long n = 0;
        Node<Extent> leaf = leaves.get(a);
        if (leaf != null) {
            for (int i = 0; i < leaf.count(); i++) {
                n += leaf.value(i).blocks;
            }
        } else {
            for (long c : children.get(a)) {
                n += blocks(c, children, leaves, memo);
            }
        }
        memo.put(a, n);
        return n;
    }
}
