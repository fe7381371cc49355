package dev.varve.fsck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.varve.engine.BlockDevice;
import dev.varve.engine.LogAddress;
import dev.varve.engine.Store;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.Node;
import dev.varve.engine.btree.NodeCache;
import dev.varve.engine.btree.TreeKind;
import dev.varve.engine.btree.TreePointer;
import dev.varve.engine.catalog.CatalogEntry;
import dev.varve.engine.catalog.Superblock;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.format.SuperblockLayout;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.io.StorageFile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A generated corpus of damaged stores: a flipped bit in each kind of record and in live data,
 * a truncated segment, a zeroed 4 KiB sector, a stale copy of an older record in place of a
 * newer one, a deleted segment file, both superblocks damaged, the superblock's slots
 * swapped. Every one is detected and attributed (an error at the damaged place; for a flipped data
 * block or extent leaf that the current trees reach, errors naming every volume and snapshot that
 * maps it, each with a byte range holding the logical bytes it maps there); the check
 * never throws and never changes a byte; repair (going back, or salvaging, in turn) never
 * changes a byte of an existing record, and the check after it exits 0; the engine opens (every
 * fourth) repaired store and reads its volumes and some of its snapshots whole.
 *
 * <p>Stores whose superblock lags the log (a power cut after the last flush) are in the
 * corpus too: damage after the commit the superblock names is, for a reader, the same as a
 * commit a crash interrupted, and fsck may rightly call it a torn tail.
 */
class CorpusTest {
    private static final long SEED = Long.getLong("varve.seed", 20261126L);
    private static final int CASES = Integer.getInteger("varve.fsck.corpus", 1100);

    enum Kind { FLIP_RECORD, FLIP_DATA, TRUNCATE, ZERO_SECTOR, STALE_RECORD, DELETE_SEGMENT, BOTH_SUPERBLOCKS,
        SWAPPED_SUPERBLOCK }

    private static final String[] RECORD_TYPES = {"extent-leaf", "extent-interior", "catalog-leaf", "catalog-interior",
        "data-summary", "commit", "blob", "next-segment", "intent"};

    /** A base store and what a clean check of it says. */
    private record Base(String name, CrashableStorage disk, boolean lagging, List<Disk.Rec> records,
                        Map<Long, Long> liveData, List<Long> liveSegments, long sbSegment, long sbEnd, Trees trees) {
    }

    /** Data blocks a tree maps: {@code blocks} blocks of {@code blockSize} bytes at {@code address}, logical block {@code key}. */
    private record Mapped(String name, long address, int blocks, int blockSize, long key) {
    }

    /**
     * What the current trees of a base map, for checking that findings name the right volumes,
     * snapshots and bytes: every extent by data address, each leaf's logical byte range in every
     * tree that reaches it, and the blocks of each volume that pending writes replace (opening
     * shows those, not the committed data, so damage there is not the volume's).
     */
    private record Trees(List<Mapped> extents, Map<Long, List<Problem.Affected>> leaves,
                         Map<String, CommitContent.Ranges> pending) {
    }

    private static final List<Base> BASES = new ArrayList<>();

    @BeforeAll
    static void build() throws IOException {
        BASES.add(base("closed-a", Stores.build(SEED, 200, true), false));
        BASES.add(base("closed-b", Stores.build(SEED + 1, 180, true), false));
        BASES.add(base("lagging", Stores.build(SEED + 2, 190, false), true));
    }

    private static Base base(String name, CrashableStorage disk, boolean lagging) throws IOException {
        Survey s = Survey.run(disk, false, new Meter(null));
        Report r = s.finish();
        assertTrue(r.clean(), name + ": the undamaged store checks clean:\n" + r.summary());
        System.out.println("fsck corpus base " + name + ": generation " + r.lastGeneration() + ", " + r.metaRecords()
                + " metadata records, " + r.pendingIntents() + " intent records pending after the last commit");
        assertTrue(r.problems().stream().noneMatch(p -> p.kind().equals("tree-fill")), name + ": the engine writes no node "
                + "over its bounds:\n" + r.summary());
        Map<Long, Long> live = s.data.extents();
        Trees trees = trees(s);
        s.close();
        Superblock sb;
        try (StorageFile f = disk.open(SuperblockLayout.FILE_NAME, false)) {
            Superblock[] slots = Superblock.readSlots(f);
            sb = slots[0].sequence() > slots[1].sequence() ? slots[0] : slots[1];
        }
        return new Base(name, disk, lagging, Disk.records(disk), live, new ArrayList<>(r.liveSegments()),
                LogAddress.segment(sb.commitAddress()), LogAddress.offset(sb.commitAddress()) + sb.commitLength(), trees);
    }

    private static Trees trees(Survey s) throws IOException {
        NodeCache nodes = new NodeCache(s.log, 64L << 20);
        List<Mapped> extents = new ArrayList<>();
        Map<Long, List<Problem.Affected>> leaves = new HashMap<>();
        for (CatalogEntry e : s.current.entries) {
            if (!e.root.isEmpty()) {
                walk(nodes, s.current.name(e), e.blockSize, e.root, extents, leaves);
            }
        }
        extents.sort(Comparator.comparingLong(Mapped::address));
        Map<String, CommitContent.Ranges> pending = new HashMap<>();
        if (s.current.pending != null) {
            for (var x : s.current.pending.coveredBlocks().entrySet()) {
                pending.put(s.current.name(s.current.byId.get(x.getKey())), x.getValue());
            }
        }
        return new Trees(extents, leaves, pending);
    }

    private static void walk(NodeCache nodes, String name, int bs, TreePointer p, List<Mapped> extents,
                             Map<Long, List<Problem.Affected>> leaves) throws IOException {
        Node<Extent> n = nodes.load(TreeKind.EXTENTS, Extent.CODEC, p.address(), p.length(), p.generation());
        if (n.isLeaf()) {
            for (int i = 0; i < n.count(); i++) {
                extents.add(new Mapped(name, n.value(i).address, n.value(i).blocks, bs, n.key(i)));
            }
            long end = n.key(n.count() - 1) + n.value(n.count() - 1).blocks;
            leaves.computeIfAbsent(p.address(), k -> new ArrayList<>()).add(new Problem.Affected(name, n.key(0) * bs,
                    end * bs - 1));
            return;
        }
        for (int i = 0; i < n.count(); i++) {
            walk(nodes, name, bs, new TreePointer(n.childAddress(i), n.childLength(i), n.childGeneration(i)), extents,
                    leaves);
        }
    }

    /** What was done to a copy, and where an error must be reported. */
    private record Case(int n, Kind kind, Base base, String what, long segment, long from, long to, boolean pastSuperblock,
                        long dataAt) {
        Case(int n, Kind kind, Base base, String what, long segment, long from, long to, boolean pastSuperblock) {
            this(n, kind, base, what, segment, from, to, pastSuperblock, -1);
        }

        @Override
        public String toString() {
            return "case " + n + " (" + base.name + "): " + what;
        }
    }

    @Test
    void everyDamageIsDetectedAttributedAndRepaired() throws IOException {
        System.out.println("fsck corpus: seed " + SEED + " (-Dvarve.seed=...), " + CASES + " cases");
        long t0 = System.nanoTime();
        Random r = new Random(SEED);
        Map<String, int[]> tally = new TreeMap<>();
        List<String> notDetected = new ArrayList<>();
        int repaired = 0;
        int impossible = 0;
        int salvaged = 0;
        int opened = 0;
        long[] nanos = new long[3];
        for (int n = 0; n < CASES; n++) {
            Kind kind = Kind.values()[n % Kind.values().length];
            Base base = BASES.get((n / Kind.values().length) % BASES.size());
            CrashableStorage disk = Disk.copy(base.disk);
            Case c = damage(n, kind, base, disk, r);
            Map<String, long[]> before = digest(disk);
            long tc = System.nanoTime();
            Report check = Fsck.check(disk, false);
            nanos[0] += System.nanoTime() - tc;
            assertUnchanged(c, before, disk, false);
            assertTrue(check.problems().stream().noneMatch(p -> p.kind().equals("check-aborted")), c + "\n" + check.summary());
            String label = kind + (kind == Kind.FLIP_RECORD || kind == Kind.STALE_RECORD ? " " + c.what.split(" ")[0] : "");
            int[] t = tally.computeIfAbsent(label, k -> new int[3]);
            t[0]++;
            if (attributed(c, check)) {
                t[1]++;
                String unnamed = unnamed(c, check);
                if (unnamed != null) {
                    notDetected.add(c + ": " + unnamed + "\n" + check.summary());
                    continue;
                }
            } else if (c.base.lagging && c.pastSuperblock && check.clean()) {
                t[2]++; // the same as a commit a crash interrupted: at most a torn tail
            } else {
                notDetected.add(c + "\n" + check.summary());
                continue;
            }
            boolean salvage = (n / Kind.values().length) % 2 == 1;
            tc = System.nanoTime();
            RepairResult rr = Fsck.repair(disk, false, salvage, null);
            nanos[1] += System.nanoTime() - tc;
            assertUnchanged(c, before, disk, true);
            if (check.clean()) {
                assertEquals(0, rr.exitCode(), c + ": nothing to repair\n" + rr.summary());
                continue;
            }
            if (rr.impossible() != null && !salvage) {
                // what a user is told to do next: keep what verifies
                salvaged++;
                rr = Fsck.repair(disk, false, true, null);
                assertUnchanged(c, before, disk, true);
            }
            if (rr.impossible() != null) {
                impossible++;
                System.out.println("repair not possible: " + c + ": " + rr.impossible());
                continue;
            }
            assertEquals(0, rr.after().exitCode(), c + (salvage ? " (salvage)" : "") + "\n" + check.summary() + "\n"
                    + rr.summary() + "\nafter:\n" + rr.after().summary());
            assertEquals(1, rr.exitCode(), c + "\n" + rr.summary());
            repaired++;
            if (n % 4 == 0) {
                tc = System.nanoTime();
                assertEquals(0, Fsck.check(disk, false).exitCode(), c + ": a second check after the repair");
                readEverything(c, disk);
                nanos[2] += System.nanoTime() - tc;
                opened++;
            }
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("fsck corpus: %d cases in %d ms; %d repaired (%d by --salvage after going back found no "
                + "commit that verifies; %d reopened and read), %d not repairable%n", CASES, ms, repaired, salvaged, opened,
                impossible);
        System.out.printf("  time in checks %d ms, repairs %d ms, reopening %d ms%n", nanos[0] / 1_000_000,
                nanos[1] / 1_000_000, nanos[2] / 1_000_000);
        System.out.printf("  volumes, snapshots and byte ranges named: %d data flips (%d of blocks only pending writes map),"
                + " %d extent-leaf flips (%d of leaves no current tree reaches)%n", flipDataNamed[0], flipDataNamed[1],
                leafNamed[0], leafNamed[1]);
        tally.forEach((k, v) -> System.out.printf("  %-34s %4d cases, %4d attributed, %3d torn tail after a lagging superblock%n",
                k, v[0], v[1], v[2]));
        if (!notDetected.isEmpty()) {
            if (Boolean.getBoolean("varve.fsck.verbose")) {
                notDetected.forEach(System.out::println);
            }
            fail(notDetected.size() + " damaged stores not detected or not attributed; the first:\n" + notDetected.get(0));
        }
        assertTrue(CASES < 1000 || impossible <= CASES / 100, impossible + " stores could not be repaired");
        assertTrue(CASES < 1000 || flipDataNamed[0] >= CASES / Kind.values().length / 2 && leafNamed[0] >= 4,
                "too few cases had their volumes and byte ranges checked");
    }

    // ------------------------------------------------------------------ damage

    private static Case damage(int n, Kind kind, Base b, CrashableStorage d, Random r) throws IOException {
        switch (kind) {
            case FLIP_RECORD -> {
                String type = RECORD_TYPES[(n / Kind.values().length) % RECORD_TYPES.length];
                List<Disk.Rec> of = b.records.stream().filter(x -> x.typeName().equals(type)).toList();
                if (of.isEmpty()) {
                    throw new AssertionError(b.name + " has no " + type + " record");
                }
                if (type.equals("extent-leaf") && r.nextBoolean()) {
                    // most leaves in the log are older versions: every other case, one the current trees reach,
                    // so that the volumes and byte ranges a finding names can be checked
                    of = of.stream().filter(x -> b.trees.leaves.containsKey(LogAddress.of(id(x.file()), x.offset())))
                            .toList();
                }
                Disk.Rec x = of.get(r.nextInt(of.size()));
                long bit = x.offset() * 8L + r.nextInt(x.length() * 8);
                d.flipBit(x.file(), bit);
                return record(n, kind, b, type + " record at " + x.file() + ":" + x.offset() + ", bit " + (bit - x.offset() * 8L),
                        x.file(), x.offset(), x.offset());
            }
            case FLIP_DATA -> {
                long[] block = liveBlock(b, r);
                String file = SegmentLayout.fileName(LogAddress.segment(block[0]));
                long off = LogAddress.offset(block[0]);
                long bit = off * 8 + r.nextInt((int) block[1] * 8);
                d.flipBit(file, bit);
                return new Case(n, kind, b, "data block at " + file + ":" + off + ", bit " + (bit - off * 8), id(file),
                        off - (1 << 20), off, false, LogAddress.of(id(file), bit / 8));
            }
            case TRUNCATE -> {
                String file;
                long at;
                if (r.nextBoolean()) {
                    long[] block = liveBlock(b, r);
                    file = SegmentLayout.fileName(LogAddress.segment(block[0]));
                    at = LogAddress.offset(block[0]) + r.nextInt((int) block[1]);
                } else {
                    Disk.Rec x = b.records.get(r.nextInt(b.records.size()));
                    file = x.file();
                    at = x.offset() + 1 + r.nextInt(x.length() - 1);
                }
                if (r.nextInt(10) == 0) {
                    at = r.nextInt(SegmentLayout.HEADER_BYTES);
                }
                Disk.truncate(d, file, at);
                return record(n, kind, b, "truncated " + file + " to " + at + " bytes", file, 0, Long.MAX_VALUE);
            }
            case ZERO_SECTOR -> {
                int pick = r.nextInt(10);
                if (pick == 0) {
                    long at = 4096L * r.nextInt(2);
                    Disk.zero(d, SuperblockLayout.FILE_NAME, at, 4096);
                    return new Case(n, kind, b, "zeroed superblock copy " + at / 4096, 0, at, at, false);
                }
                String file;
                long at;
                if (pick < 5) {
                    long[] block = liveBlock(b, r);
                    file = SegmentLayout.fileName(LogAddress.segment(block[0]));
                    at = LogAddress.offset(block[0]) & ~4095L;
                    Disk.zero(d, file, at, (int) Math.min(4096, Disk.size(d, file) - at));
                    return new Case(n, kind, b, "zeroed 4 KiB of " + file + " at " + at, id(file),
                            at - 4096, at + 4095, false);
                }
                Disk.Rec x = b.records.get(r.nextInt(b.records.size()));
                file = x.file();
                at = pick == 5 ? 0 : (x.offset() & ~4095L);
                Disk.zero(d, file, at, (int) Math.min(4096, Disk.size(d, file) - at));
                return record(n, kind, b, "zeroed 4 KiB of " + file + " at " + at, file, 0, at + 4095);
            }
            case STALE_RECORD -> {
                return stale(n, b, d, r);
            }
            case DELETE_SEGMENT -> {
                long seg = b.liveSegments.get(r.nextInt(b.liveSegments.size()));
                String file = SegmentLayout.fileName(seg);
                d.delete(file);
                return record(n, kind, b, "deleted " + file, file, 0, Long.MAX_VALUE);
            }
            case BOTH_SUPERBLOCKS -> {
                String how;
                switch (r.nextInt(4)) {
                    case 0 -> {
                        d.flipBit(SuperblockLayout.FILE_NAME, r.nextInt(SuperblockLayout.CRC_OFFSET * 8 + 32));
                        d.flipBit(SuperblockLayout.FILE_NAME, 4096 * 8 + r.nextInt(SuperblockLayout.CRC_OFFSET * 8 + 32));
                        how = "a bit flipped in each superblock copy";
                    }
                    case 1 -> {
                        Disk.zero(d, SuperblockLayout.FILE_NAME, 0, 8192);
                        how = "both superblock copies zeroed";
                    }
                    case 2 -> {
                        Disk.truncate(d, SuperblockLayout.FILE_NAME, r.nextInt(4096));
                        how = "the superblock file truncated";
                    }
                    default -> {
                        d.delete(SuperblockLayout.FILE_NAME);
                        how = "the superblock file deleted";
                    }
                }
                return new Case(n, Kind.BOTH_SUPERBLOCKS, b, how, 0, -1, 4096, false);
            }
            default -> {
                byte[] sb = d.contents(SuperblockLayout.FILE_NAME);
                byte[] swapped = new byte[sb.length];
                System.arraycopy(sb, 0, swapped, 4096, 4096);
                System.arraycopy(sb, 4096, swapped, 0, 4096);
                Disk.write(d, SuperblockLayout.FILE_NAME, 0, swapped, false);
                return new Case(n, Kind.SWAPPED_SUPERBLOCK, b, "superblock slots swapped", 0, 0, 4096, false);
            }
        }
    }

    /** An older record of the same type and length copied over a newer one (a stale or misdirected write). */
    private static Case stale(int n, Base b, CrashableStorage d, Random r) throws IOException {
        if (r.nextInt(5) == 0) {
            long[] older = liveBlock(b, r);
            long[] newer = liveBlock(b, r);
            if (older[0] != newer[0] && older[1] == newer[1]) {
                String from = SegmentLayout.fileName(LogAddress.segment(older[0]));
                String to = SegmentLayout.fileName(LogAddress.segment(newer[0]));
                byte[] bytes = Arrays.copyOfRange(d.contents(from), (int) LogAddress.offset(older[0]),
                        (int) (LogAddress.offset(older[0]) + older[1]));
                if (!Arrays.equals(bytes, Arrays.copyOfRange(d.contents(to), (int) LogAddress.offset(newer[0]),
                        (int) (LogAddress.offset(newer[0]) + newer[1])))) {
                    Disk.write(d, to, LogAddress.offset(newer[0]), bytes, false);
                    long off = LogAddress.offset(newer[0]);
                    return new Case(n, Kind.STALE_RECORD, b, "data block " + from + ":" + LogAddress.offset(older[0])
                            + " copied over " + to + ":" + off, id(to), off - (1 << 20), off, false);
                }
            }
        }
        Map<String, List<Disk.Rec>> byShape = new HashMap<>();
        for (Disk.Rec x : b.records) {
            byShape.computeIfAbsent(x.type() + "/" + x.length(), k -> new ArrayList<>()).add(x);
        }
        List<List<Disk.Rec>> pairs = byShape.values().stream().filter(l -> l.size() > 1).toList();
        while (true) {
            List<Disk.Rec> l = pairs.get(r.nextInt(pairs.size()));
            Disk.Rec older = l.get(r.nextInt(l.size()));
            Disk.Rec newer = l.get(r.nextInt(l.size()));
            if (older.generation() >= newer.generation() || newer.firstInSegment()) {
                continue;
            }
            byte[] bytes = Arrays.copyOfRange(d.contents(older.file()), older.offset(), older.offset() + older.length());
            Disk.write(d, newer.file(), newer.offset(), bytes, false);
            return record(n, Kind.STALE_RECORD, b, newer.typeName() + " record at " + newer.file() + ":" + newer.offset()
                    + " overwritten by the older one at " + older.file() + ":" + older.offset(), newer.file(),
                    newer.offset(), newer.offset());
        }
    }

    private static Case record(int n, Kind kind, Base b, String what, String file, long from, long to) {
        long seg = id(file);
        boolean past = seg > b.sbSegment || (seg == b.sbSegment && Math.max(from, 0) >= b.sbEnd)
                || (seg == b.sbSegment && to >= b.sbEnd && kind != Kind.FLIP_RECORD && kind != Kind.STALE_RECORD);
        return new Case(n, kind, b, what, seg, from, to, past);
    }

    private static long id(String file) {
        return Math.max(0, SegmentLayout.parseFileName(file));
    }

    /** A random live data block: {address, block size}. */
    private static long[] liveBlock(Base b, Random r) {
        List<Map.Entry<Long, Long>> l = new ArrayList<>(b.liveData.entrySet());
        l.sort(Map.Entry.comparingByKey());
        Map.Entry<Long, Long> e = l.get(r.nextInt(l.size()));
        // extents of the 512-byte volume are short; those of the 4 KiB ones are multiples of 4 KiB
        int bs = e.getValue() % 4096 == 0 && r.nextBoolean() ? 4096 : 512;
        long blocks = e.getValue() / bs;
        return new long[] {e.getKey() + bs * (long) r.nextInt((int) blocks), bs};
    }

    // ------------------------------------------------------------------ verdicts

    /** An error at the damaged place: the right segment (or the superblock file) and offset. */
    private static boolean attributed(Case c, Report r) {
        for (Problem p : r.problems()) {
            if (p.severity() != Problem.Severity.ERROR) {
                continue;
            }
            if (c.kind == Kind.BOTH_SUPERBLOCKS && p.kind().startsWith("superblock")) {
                return true;
            }
            if (c.kind == Kind.SWAPPED_SUPERBLOCK && p.kind().equals("superblock-slot")) {
                return true;
            }
            if (p.segment() == c.segment && p.offset() >= c.from && p.offset() <= c.to) {
                return true;
            }
            if (c.segment == 0 && p.kind().startsWith("superblock") && p.offset() == c.from) {
                return true;
            }
        }
        return false;
    }

    /**
     * For a flipped data block, or a flipped extent leaf, that the current trees reach: null when
     * an error names every volume and snapshot that maps it, with a byte range holding the
     * logical bytes it maps there (blocks a pending write replaces excepted), else what is missing.
     */
    private static String unnamed(Case c, Report r) {
        List<Problem.Affected> want = new ArrayList<>();
        if (c.kind == Kind.FLIP_DATA) {
            long seg = LogAddress.segment(c.dataAt);
            long off = LogAddress.offset(c.dataAt);
            for (Mapped m : c.base.trees.extents) {
                long start = LogAddress.offset(m.address);
                if (LogAddress.segment(m.address) != seg || off < start || off >= start + (long) m.blocks * m.blockSize) {
                    continue;
                }
                long block = m.key + (off - start) / m.blockSize;
                CommitContent.Ranges replaced = c.base.trees.pending.get(m.name);
                var cover = replaced == null ? null : replaced.map.floorEntry(block);
                if (cover == null || cover.getValue() <= block) {
                    want.add(new Problem.Affected(m.name, block * m.blockSize, (block + 1) * m.blockSize - 1));
                }
            }
            flipDataNamed[want.isEmpty() ? 1 : 0]++;
        } else if (c.kind == Kind.FLIP_RECORD && c.what.startsWith("extent-leaf")) {
            want.addAll(c.base.trees.leaves.getOrDefault(LogAddress.of(c.segment, c.from), List.of()));
            leafNamed[want.isEmpty() ? 1 : 0]++;
        }
        for (Problem.Affected w : want) {
            boolean named = r.problems().stream().filter(p -> p.severity() == Problem.Severity.ERROR)
                    .flatMap(p -> p.ranges().stream())
                    .anyMatch(a -> a.name().equals(w.name()) && a.fromByte() >= 0 && a.fromByte() <= w.fromByte()
                            && a.toByte() >= w.toByte());
            if (!named) {
                return "no error names " + w + " (what the damaged " + (c.kind == Kind.FLIP_DATA ? "block" : "leaf")
                        + " maps there)";
            }
        }
        return null;
    }

    /** Cases whose range was checked, and those whose damaged block or leaf no current tree maps: {checked, not mapped}. */
    private static final int[] flipDataNamed = new int[2];
    private static final int[] leafNamed = new int[2];

    /** Per file: {length, CRC32C of the whole file, CRC32C of what follows a segment header}. */
    private static Map<String, long[]> digest(CrashableStorage d) {
        Map<String, long[]> m = new TreeMap<>();
        for (String n : d.list()) {
            byte[] b = d.contents(n);
            CRC32C whole = new CRC32C();
            whole.update(b);
            CRC32C body = new CRC32C();
            if (b.length > SegmentLayout.HEADER_BYTES) {
                body.update(b, SegmentLayout.HEADER_BYTES, b.length - SegmentLayout.HEADER_BYTES);
            }
            m.put(n, new long[] {b.length, whole.getValue(), body.getValue()});
        }
        return m;
    }

    /**
     * A check changes nothing. A repair adds files and rewrites the superblock (and a damaged
     * segment header), and changes no other byte of what was there.
     */
    private static void assertUnchanged(Case c, Map<String, long[]> before, CrashableStorage d, boolean repaired) {
        Map<String, long[]> now = digest(d);
        for (var e : before.entrySet()) {
            String name = e.getKey();
            if (repaired && name.equals(SuperblockLayout.FILE_NAME)) {
                continue;
            }
            long[] was = e.getValue();
            long[] is = now.get(name);
            assertTrue(is != null, c + ": " + name + " disappeared");
            boolean same = is[0] == was[0] && (is[1] == was[1] || repaired && is[2] == was[2]);
            assertTrue(same, c + ": " + name + " changed" + (repaired ? " (beyond its header)" : ""));
        }
        if (!repaired) {
            assertEquals(before.keySet(), now.keySet(), c + ": a check added or removed files");
        }
    }

    /** The engine opens the repaired store and reads every volume and snapshot whole. */
    private static void readEverything(Case c, CrashableStorage d) throws IOException {
        try (Store store = Store.open(Disk.ROOT, Stores.options(d).withReadOnly(true))) {
            List<String> names = new ArrayList<>();
            store.volumes().forEach(v -> names.add(v.name()));
            var snaps = store.snapshots();
            for (int i = 0; i < snaps.size(); i += Math.max(1, snaps.size() / 3)) {
                names.add(snaps.get(i).fullName());
            }
            for (String name : names) {
                BlockDevice dev = store.device(name);
                byte[] buf = new byte[(int) Math.min(dev.size(), 1 << 20)];
                for (long p = 0; p < dev.size(); p += buf.length) {
                    int len = (int) Math.min(buf.length, dev.size() - p);
                    dev.read(p, buf, 0, len);
                }
            }
        } catch (IOException e) {
            throw new AssertionError(c + ": the engine cannot read the repaired store: " + e, e);
        }
    }

}
