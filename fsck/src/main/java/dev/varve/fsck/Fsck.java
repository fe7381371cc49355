package dev.varve.fsck;

import dev.varve.engine.CorruptionException;
import dev.varve.engine.LogAddress;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.Node;
import dev.varve.engine.btree.NodeCache;
import dev.varve.engine.btree.TreeKind;
import dev.varve.engine.btree.TreePointer;
import dev.varve.engine.btree.ValueCodec;
import dev.varve.engine.catalog.Catalog;
import dev.varve.engine.catalog.CatalogEntry;
import dev.varve.engine.catalog.Superblock;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.format.SuperblockLayout;
import dev.varve.engine.io.FileStorage;
import dev.varve.engine.io.Storage;
import dev.varve.engine.io.StorageFile;
import dev.varve.engine.log.CommitInfo;
import dev.varve.engine.log.Log;
import dev.varve.engine.log.Recovery;
import dev.varve.engine.log.Segment;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The offline checker. Read-only: it opens every file for reading only through the same
 * storage seam the engine uses and never writes. It reports every problem it finds, not just
 * the first: superblocks, every segment header, every metadata record in every meta segment,
 * the chain of commits, the catalog (unique names, parents exist, no cycles), every tree
 * reachable from every root (key order, balance, no overlapping extents, extents inside the
 * volume, pointers landing on records of the right kind and generation), and every data
 * block's checksum unless {@code fast}.
 */
public final class Fsck {
    private final Path dir;
    private final Storage storage;
    private final boolean fast;
    private final Report report = new Report();

    private Fsck(Storage storage, boolean fast) {
        this.storage = storage;
        this.dir = storage.root();
        this.fast = fast;
    }

    public static Report check(Path dir) {
        return check(dir, false);
    }

    /** Checks a store that no process has open. Never throws for damage: it is reported. */
    public static Report check(Path dir, boolean fast) {
        return check(new FileStorage(dir), fast);
    }

    /** Checks through any storage (tests check crash images held in memory). */
    public static Report check(Storage storage, boolean fast) {
        Fsck f = new Fsck(storage, fast);
        try {
            f.run();
        } catch (IOException | RuntimeException e) {
            f.report.error("check-aborted", 0, -1, "the check could not go on: " + e, null);
        }
        return f.report;
    }

    private void run() throws IOException {
        Superblock sb = superblocks(storage);
        if (sb == null) {
            return;
        }
        try (Log log = new Log(storage, sb.uuidHi(), sb.uuidLo(), sb.segmentSize(), 1)) {
            try {
                log.openExisting();
            } catch (CorruptionException e) {
                report.error("segment-header", LogAddress.segment(e.address()), 0, e.getMessage(), null);
                return;
            }
            for (var u : log.unusableSegments().entrySet()) {
                report.warning("segment-header", u.getKey(), 0, u.getValue()
                        + " (an error only if a tree points into it; such pointers are reported below)");
            }
            CommitInfo start;
            try {
                start = Recovery.readCommit(log, sb.commitAddress(), sb.commitLength());
            } catch (CorruptionException e) {
                report.error("superblock-commit", LogAddress.segment(sb.commitAddress()),
                        LogAddress.offset(sb.commitAddress()), "the commit the superblock names is unreadable: "
                                + e.getMessage(), "the whole store");
                return;
            }
            Recovery.Result r = Recovery.rollForward(log, start);
            CommitInfo last = r.last();
            report.lastGeneration = last.generation();
            scanMetaSegments(log, committedExtent(log, last));
            if (r.tailAfterLast()) {
                report.warning("torn-tail", LogAddress.segment(last.address()), LogAddress.offset(last.address()) + last.length(),
                        "records after the last complete commit (an interrupted commit; it is ignored on open)");
            }
            NodeCache nodes = new NodeCache(log, 16L << 20);
            Catalog catalog = new Catalog(log, nodes, last.catalogRoot(), last.nextId());
            walk(nodes, TreeKind.CATALOG, Catalog.BYTES, last.catalogRoot(), "the catalog", 0, null);
            try {
                catalog.load();
            } catch (CorruptionException | IllegalArgumentException e) {
                report.error("catalog", 0, -1, "the catalog cannot be read: " + e.getMessage(), "every volume and snapshot");
                return;
            }
            checkCatalog(catalog);
            for (CatalogEntry e : catalog.all()) {
                String who = name(catalog, e);
                walk(nodes, TreeKind.EXTENTS, Extent.CODEC, e.root, who, e.size / Math.max(1, e.blockSize),
                        new DataCheck(log, e.blockSize, who));
                if (e.propsAddress != 0) {
                    try {
                        catalog.properties(e);
                    } catch (IOException | RuntimeException ex) {
                        report.error("properties", LogAddress.segment(e.propsAddress), LogAddress.offset(e.propsAddress),
                                ex.getMessage(), who + " (properties)");
                    }
                }
            }
        }
    }

    private Superblock superblocks(Storage storage) throws IOException {
        if (!storage.exists(SuperblockLayout.FILE_NAME)) {
            report.error("superblock", 0, -1, dir + " has no " + SuperblockLayout.FILE_NAME + ": not a Varve store", null);
            return null;
        }
        Superblock best = null;
        try (StorageFile f = storage.open(SuperblockLayout.FILE_NAME, false)) {
            Superblock[] slots = Superblock.readSlots(f);
            for (int i = 0; i < slots.length; i++) {
                if (slots[i] == null) {
                    report.error("superblock", 0, (long) i * SuperblockLayout.SLOT_BYTES,
                            "superblock copy " + i + " is damaged", "nothing yet (the other copy is used)");
                } else if (best == null || slots[i].sequence() > best.sequence()) {
                    best = slots[i];
                }
            }
        }
        if (best == null) {
            report.error("superblock", 0, -1, "both superblock copies are damaged", "the whole store");
        }
        return best;
    }

    /**
     * Where the committed log lies: for each meta segment holding a commit of the chain that
     * ends at {@code last}, the end of its newest such commit. Found by walking the chain back
     * through each commit's pointer to its predecessor. Meta segments outside the chain (left
     * by a commit that failed before it completed) hold nothing committed.
     */
    private Map<Long, Long> committedExtent(Log log, CommitInfo last) {
        Map<Long, Long> ends = new HashMap<>();
        CommitInfo c = last;
        Set<Long> seen = new HashSet<>();
        while (c != null && seen.add(c.address())) {
            ends.merge(LogAddress.segment(c.address()), LogAddress.offset(c.address()) + c.length(), Math::max);
            long prev = c.previous();
            if (prev == 0) {
                break;
            }
            if (!segmentFileExists(log, LogAddress.segment(prev))) {
                // the collector reclaimed the segment: history before it is gone, by design
                // (recovery starts at the superblock's commit and needs nothing older)
                break;
            }
            try {
                Segment seg = log.segment(LogAddress.segment(prev));
                ByteBuffer hb = ByteBuffer.allocate(RecordLayout.HEADER_BYTES);
                seg.file.read(hb, LogAddress.offset(prev));
                int len = new UnsafeBuffer(hb).getInt(RecordLayout.LENGTH_OFFSET);
                c = Recovery.readCommit(log, prev, len);
            } catch (IOException | RuntimeException e) {
                report.error("commit-chain", LogAddress.segment(prev), LogAddress.offset(prev),
                        "an earlier commit of the chain is unreadable: " + e.getMessage(),
                        "nothing current (older commits are what repair falls back to)");
                break;
            }
        }
        return ends;
    }

    private static boolean segmentFileExists(Log log, long id) {
        try {
            return log.storage().exists(SegmentLayout.fileName(id));
        } catch (IOException e) {
            return true; // cannot tell: let reading it report what is wrong
        }
    }

    private record Scanned(long offset, int type, String damage, boolean header) {
    }

    /**
     * Every record of every meta segment, front to back. The committed log must be whole: a
     * damaged record before the end of a segment's newest chained commit, or anywhere before
     * a next-segment record that leads into the chain, is an error. Past that, damage is the
     * torn tail of an interrupted commit, which opening ignores: a warning.
     */
    private void scanMetaSegments(Log log, Map<Long, Long> committedEnd) throws IOException {
        for (Segment s : log.segments()) {
            if (s.kind != SegmentLayout.KIND_META) {
                continue;
            }
            long size = s.file.size();
            long p = SegmentLayout.HEADER_BYTES;
            List<Scanned> found = new ArrayList<>();
            long end = committedEnd.getOrDefault(s.id, (long) SegmentLayout.HEADER_BYTES);
            while (p + RecordLayout.HEADER_BYTES <= size) {
                ByteBuffer hb = ByteBuffer.allocate(RecordLayout.HEADER_BYTES);
                s.file.read(hb, p);
                UnsafeBuffer h = new UnsafeBuffer(hb);
                int len = h.getInt(RecordLayout.LENGTH_OFFSET);
                if (h.getInt(RecordLayout.MAGIC_OFFSET) != RecordLayout.MAGIC || len < RecordLayout.HEADER_BYTES
                        || len > RecordLayout.MAX_LENGTH || (len & (RecordLayout.ALIGNMENT - 1)) != 0 || p + len > size) {
                    found.add(new Scanned(p, -1, "a record header is damaged (bad magic or length); the rest of "
                            + "this segment cannot be scanned", true));
                    break;
                }
                int type = h.getByte(RecordLayout.TYPE_OFFSET);
                try {
                    UnsafeBuffer rec = log.readRecord(LogAddress.of(s.id, p), len);
                    report.metaRecords++;
                    found.add(new Scanned(p, type, null, false));
                    if (type == RecordLayout.TYPE_NEXT_SEGMENT) {
                        long next = rec.getLong(RecordLayout.HEADER_BYTES);
                        if (committedEnd.containsKey(next)) {
                            end = Math.max(end, p + len); // a transaction group that went on into the chain
                        }
                        break;
                    }
                } catch (CorruptionException e) {
                    found.add(new Scanned(p, type, e.getMessage(), false));
                }
                p += len;
            }
            for (Scanned f : found) {
                if (f.damage == null) {
                    continue;
                }
                String kind = f.header ? "record-header" : "record-checksum";
                if (f.offset < end) {
                    report.error(kind, s.id, f.offset, f.damage + " (inside the committed log)", null);
                } else {
                    report.warning(kind, s.id, f.offset, f.damage + " (past the last complete commit: an "
                            + "interrupted commit, ignored on open)");
                }
            }
        }
    }

    private void checkCatalog(Catalog catalog) {
        Set<String> volumeNames = new HashSet<>();
        Map<Long, Set<String>> snapNames = new HashMap<>();
        for (CatalogEntry e : catalog.all()) {
            String who = name(catalog, e);
            if (e.isVolume()) {
                report.volumes++;
                if (!volumeNames.add(e.name)) {
                    report.error("catalog-name", 0, -1, "two volumes are named '" + e.name + "'", who);
                }
            } else {
                report.snapshots++;
                if (catalog.get(e.origin) == null) {
                    report.error("catalog-orphan", 0, -1, "snapshot " + e.id + " belongs to missing volume " + e.origin, who);
                }
                if (!snapNames.computeIfAbsent(e.origin, k -> new HashSet<>()).add(e.name)) {
                    report.error("catalog-name", 0, -1, "two snapshots of one volume are named '" + e.name + "'", who);
                }
            }
            if (e.parent != 0 && catalog.get(e.parent) == null) {
                report.error("catalog-parent", 0, -1, "parent " + e.parent + " does not exist", who);
            }
            Set<Long> seen = new HashSet<>();
            for (CatalogEntry a = e; a != null && a.parent != 0; a = catalog.get(a.parent)) {
                if (!seen.add(a.id)) {
                    report.error("catalog-cycle", 0, -1, "the snapshot tree has a cycle through " + a.id, who);
                    break;
                }
            }
        }
    }

    private static String name(Catalog catalog, CatalogEntry e) {
        if (e.isVolume()) {
            return "volume " + e.name;
        }
        CatalogEntry v = catalog.get(e.origin);
        return "snapshot " + (v == null ? "?" : v.name) + "@" + e.name;
    }

    /** Checks the data blocks of each extent against their checksums. */
    private final class DataCheck {
        final Log log;
        final int blockSize;
        final String who;
        final Set<Long> checked = new HashSet<>();

        DataCheck(Log log, int blockSize, String who) {
            this.log = log;
            this.blockSize = blockSize;
            this.who = who;
        }

        void check(long lba, Extent e) {
            if (fast || !checked.add(e.address)) {
                return;
            }
            ByteBuffer b = ByteBuffer.allocate(e.blocks * blockSize);
            try {
                log.readData(e.address, b);
            } catch (IOException ex) {
                report.error("data-missing", LogAddress.segment(e.address), LogAddress.offset(e.address), ex.getMessage(),
                        range(lba, e.blocks));
                return;
            }
            CRC32C c = new CRC32C();
            for (int i = 0; i < e.blocks; i++) {
                c.reset();
                c.update(b.array(), i * blockSize, blockSize);
                report.dataBlocks++;
                if ((int) c.getValue() != e.crc(i)) {
                    long addr = e.address + (long) i * blockSize;
                    report.error("data-checksum", LogAddress.segment(addr), LogAddress.offset(addr),
                            "data block fails its checksum", range(lba + i, 1));
                }
            }
        }

        String range(long lba, long blocks) {
            return who + " bytes " + lba * blockSize + "-" + ((lba + blocks) * blockSize - 1);
        }
    }

    private <V> void walk(NodeCache nodes, TreeKind kind, ValueCodec<V> codec, TreePointer root, String who,
                          long maxBlocks, DataCheck data) {
        if (root.isEmpty()) {
            return;
        }
        List<Integer> leafDepths = new ArrayList<>();
        long[] lastEnd = {Long.MIN_VALUE};
        walk(nodes, kind, codec, root.address(), root.length(), root.generation(), who, 0, leafDepths, lastEnd,
                maxBlocks, data, Long.MIN_VALUE, Long.MAX_VALUE);
        if (leafDepths.stream().distinct().count() > 1) {
            report.error("tree-balance", LogAddress.segment(root.address()), LogAddress.offset(root.address()),
                    "leaves at different depths " + leafDepths.stream().distinct().toList(), who);
        }
    }

    private <V> void walk(NodeCache nodes, TreeKind kind, ValueCodec<V> codec, long addr, int len, long gen, String who,
                          int depth, List<Integer> leafDepths, long[] lastEnd, long maxBlocks, DataCheck data,
                          long low, long high) {
        Node<V> n;
        try {
            n = nodes.read(kind, codec, addr, len, gen);
            report.treeNodes++;
        } catch (IOException | RuntimeException e) {
            report.error("tree-node", LogAddress.segment(addr), LogAddress.offset(addr), e.getMessage(),
                    who + (kind == TreeKind.EXTENTS && low != Long.MIN_VALUE ? " from block " + low : ""));
            return;
        }
        if (n.count() == 0) {
            report.error("tree-empty-node", LogAddress.segment(addr), LogAddress.offset(addr), "a node with no entries", who);
        }
        for (int i = 0; i < n.count(); i++) {
            long k = n.key(i);
            if (k < low || k >= high) {
                report.error("tree-order", LogAddress.segment(addr), LogAddress.offset(addr),
                        "key " + k + " outside its parent's range [" + low + ", " + high + ")", who);
            }
        }
        if (n.isLeaf()) {
            leafDepths.add(depth);
            if (kind == TreeKind.EXTENTS) {
                for (int i = 0; i < n.count(); i++) {
                    Extent e = (Extent) n.value(i);
                    long k = n.key(i);
                    report.extents++;
                    if (k < lastEnd[0]) {
                        report.error("extent-overlap", LogAddress.segment(addr), LogAddress.offset(addr),
                                "extent at block " + k + " overlaps the previous one", who + " block " + k);
                    }
                    if (k < 0 || k + e.blocks > maxBlocks) {
                        report.error("extent-range", LogAddress.segment(addr), LogAddress.offset(addr),
                                "extent [" + k + ", " + (k + e.blocks) + ") lies outside the volume's " + maxBlocks + " blocks", who);
                    }
                    lastEnd[0] = k + e.blocks;
                    if (data != null) {
                        data.check(k, e);
                    }
                }
            }
            return;
        }
        for (int i = 0; i < n.count(); i++) {
            long lo = n.key(i);
            long hi = i + 1 < n.count() ? n.key(i + 1) : high;
            walk(nodes, kind, codec, n.childAddress(i), n.childLength(i), n.childGeneration(i), who, depth + 1, leafDepths,
                    lastEnd, maxBlocks, data, lo, hi);
        }
    }
}
