package dev.varve.fsck;

import dev.varve.engine.LogAddress;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.Node;
import dev.varve.engine.btree.NodeCache;
import dev.varve.engine.btree.TreeKind;
import dev.varve.engine.btree.TreePointer;
import dev.varve.engine.catalog.Catalog;
import dev.varve.engine.catalog.CatalogEntry;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.log.CommitInfo;
import dev.varve.engine.log.Log;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.agrona.collections.LongArrayList;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Checks what a commit reaches: the catalog tree and its entries, every volume's and
 * snapshot's extent tree (key order, balance, no overlapping extents, extents inside the
 * volume, every pointer landing on a record of the right kind, length and generation), the
 * data blocks (through {@link DataCheck}) and the properties blobs; for the commit the log ends
 * at, also the writes pending after it in intent records ({@link PendingWrites}), which are part
 * of what opening shows: committed data they replace is not.
 *
 * <p>Nodes are immutable, so each subtree is checked once and its outcome remembered by
 * address: trees that share subtrees (snapshots, clones, and the commits a repair looks back
 * through) cost only what they do not share. A subtree's outcome keeps each finding with the
 * key range it covers, so a damaged node is reported once with every volume and snapshot that
 * reaches it and the byte range below it in each.
 */
final class ContentCheck {
    /** Decoded nodes kept for the second walk that finds which blocks failed data belong to. */
    private static final long NODE_CACHE_BYTES = 32L << 20;
    /** No findings: a shared empty array. */
    private static final long[] NONE = new long[0];
    /** A node payload's count and padding before its entries (FORMAT.md, record types 1-4). */
    private static final int LEAF_PREFIX_BYTES = 4;

    /** The outcome of checking one subtree. */
    private static final class Sub {
        /** When >= 0 the node itself could not be used; nothing else is set. */
        int slot = -1;
        /**
         * The pointer did not match a whole record: the finding belongs to this pointer, not to
         * the address, which another pointer may name rightly. Not remembered.
         */
        boolean pointerOnly;
        TreeKind kind;
        int length;
        long generation;
        int height;
        long minKey = Long.MAX_VALUE;
        long maxKey = Long.MIN_VALUE;
        /** One past the last key covered (for extents, the end of the last extent). */
        long maxEnd = Long.MIN_VALUE;
        /** Extents: the blocks the subtree maps, or -1 when a node below could not be used. */
        long blocks;
        /** The leaves holding the lowest key and the end of the last extent, to name them when out of range. */
        long minKeyNode;
        long maxEndNode;
        /** Findings below, as (finding, lowest key, key past the end) triples. */
        long[] damage = NONE;
        /** Interior nodes: the children, to list a catalog's entries. */
        long[] childAddr;
        int[] childLen;
        long[] childGen;

        static Sub damaged(int slot) {
            Sub s = new Sub();
            s.slot = slot;
            return s;
        }
    }

    private final Log log;
    private final Findings findings;
    private final DataCheck data;
    private final NodeCache nodes;
    private final Map<Long, Sub> memo = new HashMap<>();
    private final Map<Long, List<CatalogEntry>> leafEntries = new HashMap<>();
    private final Map<Long, Integer> blobs = new HashMap<>();
    private final Map<Long, long[]> dataMemo = new HashMap<>();
    private int dataMemoVersion = -1;
    /** Every node and blob address reached so far, and every segment anything reached lies in. */
    final LongHashSet reached = new LongHashSet();
    final Set<Long> liveSegments = new HashSet<>();
    long treeNodes;
    long extents;
    /** Segments any pointer walked so far names, whether or not the file is there or readable. */
    final Set<Long> referenced = new HashSet<>();
    /** The highest of them. */
    long maxSegment;
    /** Data segment -> byte ranges of it that the trees walked so far, and pending writes, point at. */
    final Map<Long, ByteRanges> dataRefs = new HashMap<>();
    /** Nodes over the bounds this version writes (address -> what), in the order found. */
    final Map<Long, String> overfull = new LinkedHashMap<>();
    /**
     * The block size of the volume or snapshot whose tree is being walked, for the data
     * checks of its leaves (a leaf is only ever shared within one lineage, so one size).
     */
    private int blockSize = 4096;

    ContentCheck(Log log, Findings findings, DataCheck data) {
        this.log = log;
        this.findings = findings;
        this.data = data;
        this.nodes = new NodeCache(log, NODE_CACHE_BYTES);
    }

    /** Checks everything {@code c} reaches. Damage is recorded, never thrown. */
    CommitContent check(CommitInfo c) throws IOException {
        return check(c, List.of());
    }

    /**
     * Checks everything {@code c} reaches, and the intent records opening replays after it
     * ({address, length} in log order, as {@link dev.varve.engine.log.Recovery#rollForward}
     * returns them; empty for any commit but the one the log ends at).
     */
    CommitContent check(CommitInfo c, List<long[]> intents) throws IOException {
        CommitContent out = new CommitContent(c);
        liveSegments.add(LogAddress.segment(c.address()));
        refer(c.address());
        TreePointer root = c.catalogRoot();
        if (!root.isEmpty()) {
            Sub s = visit(TreeKind.CATALOG, root.address(), root.length(), root.generation(), c.address());
            if (s.slot >= 0) {
                catalogDamage(out, s.slot, Long.MIN_VALUE, Long.MAX_VALUE);
            } else {
                for (int i = 0; i < s.damage.length; i += 3) {
                    catalogDamage(out, (int) s.damage[i], s.damage[i + 1], s.damage[i + 2]);
                }
                collectEntries(root.address(), out);
            }
        }
        for (CatalogEntry e : out.entries) {
            out.byId.put(e.id, e);
        }
        checkCatalog(out);
        for (CatalogEntry e : out.entries) {
            checkTree(out, e);
            checkProperties(out, e);
        }
        if (!intents.isEmpty()) {
            out.pending = PendingWrites.check(log, findings, data, out, intents, this);
        }
        data.flush();
        Map<Long, CommitContent.Ranges> covered = Map.of();
        if (out.pending != null) {
            out.pending.attribute(out, data);
            covered = out.pending.coveredBlocks();
        }
        if (data.anyDamage()) {
            for (CatalogEntry e : out.entries) {
                attributeData(out, e, covered.get(e.id));
            }
        }
        return out;
    }

    private void catalogDamage(CommitContent out, int slot, long lo, long hi) {
        out.catalogDamage.add(slot);
        String ids = lo == Long.MIN_VALUE && hi == Long.MAX_VALUE ? "every entry"
                : hi == Long.MAX_VALUE ? "entries with ids from " + lo : "entries with ids " + lo + "-" + (hi - 1);
        out.affectWhole(slot, "the catalog (" + ids + ": which volumes and snapshots is unknown)");
    }

    private void collectEntries(long addr, CommitContent out) {
        Sub s = memo.get(addr);
        if (s == null || s.slot >= 0) {
            return;
        }
        if (s.childAddr == null) {
            List<CatalogEntry> l = leafEntries.get(addr);
            if (l != null) {
                out.entries.addAll(l);
                for (CatalogEntry e : l) {
                    out.entryLeaf.put(e.id, addr);
                }
            }
            return;
        }
        for (long child : s.childAddr) {
            collectEntries(child, out);
        }
    }

    private void refer(long address) {
        long seg = LogAddress.segment(address);
        referenced.add(seg);
        maxSegment = Math.max(maxSegment, seg);
    }

    /** Data a pending write names: live, like the data of an extent in a tree. */
    void referData(long address, long bytes) {
        refer(address);
        liveSegments.add(LogAddress.segment(address));
        referDataBytes(address, bytes);
    }

    private void referDataBytes(long address, long bytes) {
        long off = LogAddress.offset(address);
        dataRefs.computeIfAbsent(LogAddress.segment(address), k -> new ByteRanges()).add(off, off + bytes);
    }

    /** "the record at segment 3 offset 4096": the record holding a pointer (or a parent's keys). */
    private static String holder(long address) {
        return "the record at segment " + LogAddress.segment(address) + " offset " + LogAddress.offset(address);
    }

    // ------------------------------------------------------------------ trees

    /**
     * The subtree a pointer names, checked once per address. {@code from} is the record holding
     * the pointer (an interior node, the catalog leaf of a volume or snapshot, or the commit),
     * named when the pointer and the record it lands on disagree.
     */
    private Sub visit(TreeKind kind, long addr, int len, long gen, long from) throws IOException {
        Sub s = memo.get(addr);
        if (s != null) {
            if (s.slot < 0 && (s.kind != kind || s.length != len || s.generation != gen)) {
                return Sub.damaged(findings.slot("tree-pointer", LogAddress.segment(addr), LogAddress.offset(addr),
                        "the pointer in " + holder(from) + " expects " + aNode(kind) + " of length " + len
                                + " and generation " + gen + " here, but the record here is " + aNode(s.kind)
                                + " of length " + s.length + " and generation " + s.generation
                                + " (a stale or misdirected pointer or write)"));
            }
            return s;
        }
        s = read(kind, addr, len, gen, from);
        if (!s.pointerOnly) {
            memo.put(addr, s);
        }
        return s;
    }

    private static String kindName(TreeKind k) {
        return k == TreeKind.EXTENTS ? "extent" : "catalog";
    }

    private static String aNode(TreeKind k) {
        return k == TreeKind.EXTENTS ? "an extent node" : "a catalog node";
    }

    /**
     * When the record at {@code addr} is whole (its own checksum matches over the length its
     * header gives) but is not what the pointer expects (another length, another generation, a
     * record of another kind): what the pointer expects and what is there. Null when the record
     * itself is damaged or missing, or matches the pointer (then it does not decode).
     */
    private String pointerMismatch(TreeKind kind, long addr, int len, long gen, long from) throws IOException {
        long seg = LogAddress.segment(addr);
        UnsafeBuffer u;
        try {
            ByteBuffer h = ByteBuffer.allocate(RecordLayout.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            if (log.segment(seg).file.read(h, LogAddress.offset(addr)) < RecordLayout.HEADER_BYTES
                    || h.getInt(RecordLayout.MAGIC_OFFSET) != RecordLayout.MAGIC) {
                return null;
            }
            u = log.readRecord(addr, h.getInt(RecordLayout.LENGTH_OFFSET));
        } catch (dev.varve.engine.CorruptionException | java.nio.file.NoSuchFileException e) {
            return null;
        }
        int ownLength = u.getInt(RecordLayout.LENGTH_OFFSET);
        byte type = u.getByte(RecordLayout.TYPE_OFFSET);
        long ownGen = u.getLong(RecordLayout.GENERATION_OFFSET);
        if (ownLength == len && ownGen == gen && (type == kind.leafType || type == kind.interiorType)) {
            return null;
        }
        return "the pointer in " + holder(from) + " expects " + aNode(kind) + " of length " + len + " and generation "
                + gen + " here, but the record here is "
                + (type == RecordLayout.TYPE_EXTENT_LEAF || type == RecordLayout.TYPE_EXTENT_INTERIOR ? "an " : "a ")
                + RecordLayout.typeName(type) + " record of length " + ownLength + " and generation " + ownGen
                + ", whole (a stale or misdirected pointer or write)";
    }

    /** A node over the bounds this version writes: legal (fan-out is not part of the format), worth a warning. */
    private void overfull(long addr, String what) {
        overfull.putIfAbsent(addr, what + ": any count that decodes is read, but a writer with these bounds never "
                + "writes it (a bug, or a writer with other bounds)");
    }

    private Sub read(TreeKind kind, long addr, int len, long gen, long from) throws IOException {
        refer(addr);
        Node<?> n;
        try {
            n = kind == TreeKind.EXTENTS ? nodes.load(kind, Extent.CODEC, addr, len, gen)
                    : nodes.load(kind, Catalog.BYTES, addr, len, gen);
        } catch (IOException | RuntimeException e) {
            if (e instanceof IOException && !(e instanceof dev.varve.engine.CorruptionException)
                    && !(e instanceof java.nio.file.NoSuchFileException)) {
                throw (IOException) e;
            }
            String mismatch = pointerMismatch(kind, addr, len, gen, from);
            if (mismatch != null) {
                Sub s = Sub.damaged(findings.slot("tree-pointer", LogAddress.segment(addr), LogAddress.offset(addr),
                        mismatch));
                s.pointerOnly = true;
                return s;
            }
            return Sub.damaged(findings.slot("tree-node", LogAddress.segment(addr), LogAddress.offset(addr),
                    strip(e.getMessage())));
        }
        treeNodes++;
        reached.add(addr);
        liveSegments.add(LogAddress.segment(addr));
        if (n.count() == 0) {
            return Sub.damaged(findings.slot("tree-empty-node", LogAddress.segment(addr), LogAddress.offset(addr),
                    aNode(kind) + " with no entries"));
        }
        if (!n.isLeaf() && n.count() > kind.maxInterior) {
            overfull(addr, (kind == TreeKind.EXTENTS ? "an " : "a ") + kindName(kind) + " interior node with " + n.count()
                    + " pointers (this version writes at most " + kind.maxInterior + ")");
        }
        Sub s = new Sub();
        s.kind = kind;
        s.length = len;
        s.generation = gen;
        LongArrayList dmg = new LongArrayList();
        if (n.isLeaf()) {
            if (kind == TreeKind.EXTENTS) {
                extentLeaf(addr, n, s, dmg);
            } else {
                catalogLeaf(addr, n, s, dmg);
            }
        } else {
            interior(kind, addr, n, s, dmg);
        }
        s.damage = dmg.isEmpty() ? NONE : dmg.toLongArray();
        return s;
    }

    private void extentLeaf(long addr, Node<?> n, Sub s, LongArrayList dmg) throws IOException {
        long prevEnd = Long.MIN_VALUE;
        long blocks = 0;
        int bytes = LEAF_PREFIX_BYTES;
        for (int i = 0; i < n.count(); i++) {
            Extent e = (Extent) n.value(i);
            long k = n.key(i);
            extents++;
            blocks += e.blocks;
            bytes += 8 + Extent.CODEC.encodedLength(e);
            liveSegments.add(LogAddress.segment(e.address));
            refer(e.address);
            if (k < prevEnd) {
                add(dmg, findings.slot("extent-overlap", LogAddress.segment(addr), LogAddress.offset(addr),
                        "the extent at block " + k + " overlaps the one before it (which ends at block " + prevEnd + ")"),
                        k, prevEnd);
            }
            prevEnd = Math.max(prevEnd, k + e.blocks);
            if (data.add(e, blockSize)) { // the trees share most extents: each counted once
                referDataBytes(e.address, (long) e.blocks * blockSize);
            }
        }
        TreeKind x = TreeKind.EXTENTS;
        if (n.count() > x.maxLeaf || (bytes > x.maxLeafBytes && n.count() > 1)) {
            overfull(addr, "an extent leaf with " + n.count() + " extents in " + bytes + " payload bytes (this version "
                    + "writes at most " + x.maxLeaf + " extents and " + x.maxLeafBytes + " bytes, or one larger extent)");
        }
        s.blocks = blocks;
        s.height = 0;
        s.minKeyNode = addr;
        s.maxEndNode = addr;
        s.minKey = n.key(0);
        s.maxKey = n.key(n.count() - 1);
        s.maxEnd = prevEnd;
    }

    private void catalogLeaf(long addr, Node<?> n, Sub s, LongArrayList dmg) {
        if (n.count() > TreeKind.CATALOG.maxLeaf) {
            overfull(addr, "a catalog leaf with " + n.count() + " entries (this version writes at most "
                    + TreeKind.CATALOG.maxLeaf + ")");
        }
        List<CatalogEntry> l = new ArrayList<>();
        for (int i = 0; i < n.count(); i++) {
            long k = n.key(i);
            byte[] v = (byte[]) n.value(i);
            try {
                l.add(CatalogEntry.decode(k, new UnsafeBuffer(v), 0, v.length));
            } catch (RuntimeException e) {
                add(dmg, findings.slot("catalog-entry", LogAddress.segment(addr), LogAddress.offset(addr),
                        "catalog entry " + k + " does not decode: " + e.getMessage()), k, k + 1);
            }
        }
        leafEntries.put(addr, l);
        s.height = 0;
        s.minKey = n.key(0);
        s.maxKey = n.key(n.count() - 1);
        s.maxEnd = s.maxKey + 1;
    }

    private void interior(TreeKind kind, long addr, Node<?> n, Sub s, LongArrayList dmg) throws IOException {
        int count = n.count();
        s.childAddr = new long[count];
        s.childLen = new int[count];
        s.childGen = new long[count];
        int height = -1;
        long prevEnd = Long.MIN_VALUE;
        long blocks = 0;
        for (int i = 0; i < count; i++) {
            long lo = n.key(i);
            long hi = i + 1 < count ? n.key(i + 1) : Long.MAX_VALUE;
            long ca = n.childAddress(i);
            s.childAddr[i] = ca;
            s.childLen[i] = n.childLength(i);
            s.childGen[i] = n.childGeneration(i);
            Sub c = visit(kind, ca, n.childLength(i), n.childGeneration(i), addr);
            if (c.slot >= 0) {
                add(dmg, c.slot, lo, hi);
                blocks = -1;
                continue;
            }
            blocks = blocks < 0 || c.blocks < 0 ? -1 : blocks + c.blocks;
            for (int j = 0; j < c.damage.length; j += 3) {
                long a = Math.max(lo, c.damage[j + 1]);
                long b = Math.min(hi, c.damage[j + 2]);
                add(dmg, (int) c.damage[j], a, Math.max(a, b));
            }
            if (c.minKey < lo || c.maxKey >= hi) {
                // lookups of the range given and of the keys found both go wrong
                add(dmg, findings.slot("tree-order", LogAddress.segment(ca), LogAddress.offset(ca),
                        "keys " + c.minKey + ".." + c.maxKey + " of this node lie outside the range [" + lo + ", "
                                + (hi == Long.MAX_VALUE ? "end" : hi) + ") its parent, " + holder(addr) + ", gives it"),
                        Math.min(lo, c.minKey), Math.max(hi, c.maxEnd));
            }
            if (kind == TreeKind.EXTENTS && c.minKey < prevEnd) {
                add(dmg, findings.slot("extent-overlap", LogAddress.segment(ca), LogAddress.offset(ca),
                        "the first extent of this node (block " + c.minKey + ") overlaps the node before it under "
                                + holder(addr) + ", which ends at block " + prevEnd), c.minKey, prevEnd);
            }
            if (height >= 0 && c.height != height) {
                add(dmg, findings.slot("tree-balance", LogAddress.segment(addr), LogAddress.offset(addr),
                        "children at different depths (" + height + " and " + c.height + ")"), n.key(0), Long.MAX_VALUE);
            }
            height = Math.max(height, c.height);
            if (c.minKey < s.minKey) {
                s.minKey = c.minKey;
                s.minKeyNode = c.minKeyNode;
            }
            s.maxKey = Math.max(s.maxKey, c.maxKey);
            if (c.maxEnd > s.maxEnd) {
                s.maxEnd = c.maxEnd;
                s.maxEndNode = c.maxEndNode;
            }
            prevEnd = Math.max(prevEnd, c.maxEnd);
        }
        s.height = height + 1;
        s.blocks = blocks;
        if (s.minKey == Long.MAX_VALUE) {
            // every child is damaged: nothing is known of the keys below but the parent's own
            s.minKey = n.key(0);
            s.maxKey = n.key(count - 1);
            s.maxEnd = s.maxKey + 1;
            s.minKeyNode = addr;
            s.maxEndNode = addr;
        }
    }

    private static void add(LongArrayList dmg, int slot, long lo, long hi) {
        dmg.addLong(slot);
        dmg.addLong(lo);
        dmg.addLong(hi);
    }

    /** The engine's corruption messages end with advice for the engine's user; fsck says its own. */
    static String strip(String m) {
        if (m == null) {
            return "unreadable";
        }
        int i = m.indexOf(" (the store is now read-only");
        m = i > 0 ? m.substring(0, i) : m;
        // an unusable segment's message is wrapped once more when a read reaches it
        return m.replaceFirst("^(corruption in \\S+ at segment \\d+ offset \\d+: )+", "");
    }

    // ------------------------------------------------------------------ entries

    private void checkTree(CommitContent out, CatalogEntry e) throws IOException {
        if (e.root.isEmpty()) {
            out.referencedBytes.put(e.id, 0L); // nothing written (or everything trimmed): no space
            return;
        }
        String who = out.name(e);
        int bs = Math.max(1, e.blockSize);
        long blocks = e.size / bs;
        blockSize = bs;
        Sub s = visit(TreeKind.EXTENTS, e.root.address(), e.root.length(), e.root.generation(),
                out.entryLeaf.getOrDefault(e.id, out.commit.address()));
        if (s.slot >= 0) {
            entryDamage(out, e, s.slot, who, 0, blocks, bs);
            return;
        }
        if (s.blocks >= 0) {
            out.referencedBytes.put(e.id, s.blocks * bs);
        }
        for (int i = 0; i < s.damage.length; i += 3) {
            entryDamage(out, e, (int) s.damage[i], who, Math.max(0, s.damage[i + 1]), Math.min(blocks, s.damage[i + 2]), bs);
        }
        if (s.minKey < 0) {
            outOfRange(out, e, s.minKeyNode, "an extent of this leaf starts at block " + s.minKey + ", before the first");
        }
        if (s.maxEnd > blocks) {
            outOfRange(out, e, s.maxEndNode, "extents of this leaf reach block " + (s.maxEnd - 1) + ", past the end ("
                    + blocks + " blocks of " + bs + " bytes)");
        }
    }

    /** Extents outside a volume's blocks, reported at the leaf holding them: reads there never reach them. */
    private void outOfRange(CommitContent out, CatalogEntry e, long leaf, String what) {
        int slot = findings.slot("extent-range", LogAddress.segment(leaf), LogAddress.offset(leaf), what);
        out.treeDamage.computeIfAbsent(e.id, k -> new LinkedHashSet<>()).add(slot);
        out.affectWhole(slot, out.name(e));
    }

    private void entryDamage(CommitContent out, CatalogEntry e, int slot, String who, long lo, long hi, int bs) {
        out.treeDamage.computeIfAbsent(e.id, k -> new LinkedHashSet<>()).add(slot);
        if (lo < hi) {
            out.affect(slot, who, lo * bs, hi * bs);
        } else {
            out.affectWhole(slot, who);
        }
    }

    private void checkProperties(CommitContent out, CatalogEntry e) throws IOException {
        if (e.propsAddress == 0) {
            return;
        }
        refer(e.propsAddress);
        Integer slot = blobs.get(e.propsAddress);
        if (slot == null) {
            slot = readBlob(e.propsAddress, e.propsLength);
            blobs.put(e.propsAddress, slot);
        }
        if (slot >= 0) {
            out.propertyDamage.computeIfAbsent(e.id, k -> new LinkedHashSet<>()).add(slot);
            out.affectWhole(slot, out.name(e) + " (properties)");
        }
    }

    private int readBlob(long address, int length) throws IOException {
        long seg = LogAddress.segment(address);
        long off = LogAddress.offset(address);
        try {
            UnsafeBuffer u = log.readRecord(address, length);
            byte type = u.getByte(RecordLayout.TYPE_OFFSET);
            if (type != RecordLayout.TYPE_BLOB) {
                return findings.slot("properties", seg, off, "expected a properties blob, found a "
                        + RecordLayout.typeName(type) + " record");
            }
            Catalog.decodeProperties(u, RecordLayout.HEADER_BYTES);
            reached.add(address);
            liveSegments.add(seg);
            return -1;
        } catch (dev.varve.engine.CorruptionException | java.nio.file.NoSuchFileException | RuntimeException e) {
            return findings.slot("properties", seg, off, "the properties blob is unreadable: " + strip(e.getMessage()));
        }
    }

    /** Names of the catalog are unique, snapshots belong to volumes, parents exist, no cycles. */
    private void checkCatalog(CommitContent out) {
        Set<String> volumeNames = new HashSet<>();
        Map<Long, Set<String>> snapNames = new HashMap<>();
        for (CatalogEntry e : out.entries) {
            String who = out.name(e);
            if (e.isVolume()) {
                if (!volumeNames.add(e.name)) {
                    structure(out, e, "catalog-name", "two volumes are named '" + e.name + "'", who);
                }
            } else {
                CatalogEntry v = out.byId.get(e.origin);
                if (v == null || !v.isVolume()) {
                    structure(out, e, "catalog-orphan", "snapshot " + e.id + " (" + who + ") belongs to missing volume "
                            + e.origin, who);
                }
                if (!snapNames.computeIfAbsent(e.origin, k -> new HashSet<>()).add(e.name)) {
                    structure(out, e, "catalog-name", "two snapshots of one volume are named '" + who + "'", who);
                }
            }
            if (e.parent != 0 && !out.byId.containsKey(e.parent) && out.catalogWhole()) {
                structure(out, e, "catalog-parent", "the parent (" + e.parent + ") of " + who + " does not exist", who);
            }
            Set<Long> seen = new HashSet<>();
            for (CatalogEntry a = e; a != null && a.parent != 0; a = out.byId.get(a.parent)) {
                if (!seen.add(a.id)) {
                    structure(out, e, "catalog-cycle", "the snapshot tree has a cycle through entry " + a.id, who);
                    break;
                }
            }
        }
    }

    /** A finding about an entry, placed at the catalog leaf that holds it. */
    private void structure(CommitContent out, CatalogEntry e, String kind, String message, String who) {
        long leaf = out.entryLeaf.getOrDefault(e.id, 0L);
        int slot = leaf == 0 ? findings.slot(kind, 0, -1, message)
                : findings.slot(kind, LogAddress.segment(leaf), LogAddress.offset(leaf), message);
        out.catalogStructure.add(slot);
        out.affectWhole(slot, who);
    }

    // ------------------------------------------------------------------ data

    /**
     * Which blocks of this entry's tree the failed data blocks are. Blocks in {@code covered}
     * (those pending writes and trims a repair keeps replace) are not what opening shows there,
     * and are left out.
     */
    private void attributeData(CommitContent out, CatalogEntry e, CommitContent.Ranges covered) throws IOException {
        if (e.root.isEmpty()) {
            return;
        }
        if (dataMemoVersion != data.version()) {
            dataMemo.clear();
            dataMemoVersion = data.version();
        }
        int bs = Math.max(1, e.blockSize);
        long blocks = e.size / bs;
        long[] t = dataDamage(e.root.address(), e.root.length(), e.root.generation(), bs);
        for (int i = 0; i < t.length; i += 3) {
            long lo = Math.max(0, t[i + 1]);
            long hi = Math.min(blocks, t[i + 2]);
            if (covered == null || lo >= hi) {
                entryDamage(out, e, (int) t[i], out.name(e), lo, hi, bs);
                continue;
            }
            // only the pieces no pending write or trim replaces
            long at = lo;
            var c = covered.map.floorEntry(lo);
            if (c != null && c.getValue() > at) {
                at = c.getValue();
            }
            for (var x : covered.map.subMap(lo, true, hi, false).entrySet()) {
                if (x.getKey() > at) {
                    entryDamage(out, e, (int) t[i], out.name(e), at, Math.min(hi, x.getKey()), bs);
                }
                at = Math.max(at, x.getValue());
            }
            if (at < hi) {
                entryDamage(out, e, (int) t[i], out.name(e), at, hi, bs);
            }
        }
    }

    private long[] dataDamage(long addr, int len, long gen, int bs) throws IOException {
        long[] known = dataMemo.get(addr);
        if (known != null) {
            return known;
        }
        Sub s = memo.get(addr);
        if (s == null || s.slot >= 0 || s.kind != TreeKind.EXTENTS) {
            return NONE;
        }
        LongArrayList out = new LongArrayList();
        if (s.childAddr != null) {
            for (int i = 0; i < s.childAddr.length; i++) {
                for (long x : dataDamage(s.childAddr[i], s.childLen[i], s.childGen[i], bs)) {
                    out.addLong(x);
                }
            }
        } else {
            Node<Extent> n;
            try {
                n = nodes.load(TreeKind.EXTENTS, Extent.CODEC, addr, len, gen);
            } catch (dev.varve.engine.CorruptionException | java.nio.file.NoSuchFileException | RuntimeException e) {
                return NONE; // damage the first walk reported
            }
            for (int i = 0; i < n.count(); i++) {
                Extent e = n.value(i);
                long k = n.key(i);
                for (int b = 0; b < e.blocks; b++) {
                    int slot = data.damageAt(e.address + (long) b * bs, bs);
                    if (slot < 0) {
                        continue;
                    }
                    int last = out.size() - 3;
                    if (last >= 0 && out.getLong(last) == slot && out.getLong(last + 2) == k + b) {
                        out.setLong(last + 2, k + b + 1);
                    } else {
                        add(out, slot, k + b, k + b + 1);
                    }
                }
            }
        }
        long[] r = out.isEmpty() ? NONE : out.toLongArray();
        dataMemo.put(addr, r);
        return r;
    }
}
