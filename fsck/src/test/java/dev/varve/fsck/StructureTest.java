package dev.varve.fsck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.LogAddress;
import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.Node;
import dev.varve.engine.btree.TreePointer;
import dev.varve.engine.catalog.CatalogEntry;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.io.CrashableStorage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * The checks of what records say, on records whose checksums all verify: each record is edited
 * in place with its own CRC32C and its group's txg checksum made true again ({@link Disk#rewrite}),
 * or written as a new transaction group by {@link Forge}. Only the check of the content can find
 * these; each test says which finding, at which record, affecting which volumes and snapshots,
 * and that the check exits 4 and a repair brings the store back to a clean check.
 */
class StructureTest {
    private static final byte[] A = bytes(1);
    private static final byte[] B = bytes(2);
    /** vm2: 512-byte blocks, 128 of them; 4-block extents at blocks 0, 10, ..., 70. */
    private static final long VM2_BYTES = 64 * 1024;

    private static byte[] bytes(int seed) {
        byte[] b = new byte[4096];
        new Random(seed).nextBytes(b);
        return b;
    }

    /**
     * vm1 (4 KiB blocks): 1,500 one-block extents at every third block, so its tree is a root
     * over several leaves; snapshot s1; B at block 0; snapshot s2; B at block 1 (vm1's root is
     * its own). vm2 (512-byte blocks): eight 4-block extents in one leaf, shared with vm2@t1.
     * The catalog is one leaf.
     */
    private static CrashableStorage store() throws IOException {
        CrashableStorage d = new CrashableStorage(Disk.ROOT);
        try (Store s = Store.create(Disk.ROOT, Stores.options(d).withGcIntervalMillis(0))) {
            Volume v = s.createVolume("vm1", 64L << 20, 4096);
            for (int i = 0; i < 1_500; i++) {
                v.write(4096L * 3 * i, A, 0, 4096);
            }
            Volume w = s.createVolume("vm2", VM2_BYTES, 512);
            for (int k = 0; k < 8; k++) {
                w.write(512L * 10 * k, A, 0, 2048);
            }
            s.snapshot("vm1", "s1", Map.of());
            v.write(0, B, 0, 4096);
            s.snapshot("vm1", "s2", Map.of());
            s.snapshot("vm2", "t1", Map.of());
            v.write(4096, B, 0, 4096);
        }
        return d;
    }

    /** The single finding of {@code kind}, which must be an error. */
    private static Problem only(Report r, String kind) {
        List<Problem> l = r.problems().stream().filter(p -> p.kind().equals(kind)).toList();
        assertEquals(1, l.size(), "one " + kind + " finding:\n" + r.summary());
        assertEquals(Problem.Severity.ERROR, l.get(0).severity(), r.summary());
        return l.get(0);
    }

    private static void assertAt(Problem p, long address) {
        assertEquals(LogAddress.segment(address), p.segment(), p.toString());
        assertEquals(LogAddress.offset(address), p.offset(), p.toString());
    }

    private static String place(long address) {
        return "segment " + LogAddress.segment(address) + " offset " + LogAddress.offset(address);
    }

    private static List<String> names(Problem p) {
        return p.ranges().stream().map(Problem.Affected::name).distinct().sorted().toList();
    }

    /** The check exits 4; a repair goes back to a commit before the damage and the check after it exits 0. */
    private static void assertRepaired(CrashableStorage d, Report check) throws IOException {
        assertEquals(Report.EXIT_UNCORRECTED, check.exitCode(), check.summary());
        RepairResult r = Fsck.repair(d, false, false, null);
        assertEquals(Report.EXIT_CORRECTED, r.exitCode(), r.summary() + r.after().summary());
        assertEquals(Report.EXIT_CLEAN, Fsck.check(d, false).exitCode(), Fsck.check(d, false).summary());
    }

    // ------------------------------------------------------------------ extent trees, edited in place

    /** vm1's root (an interior node of its own) and its children. */
    private record Root(Disk.Rec rec, TreePointer pointer, Node<Extent> node) {
    }

    private static Root vm1Root(CrashableStorage d) throws IOException {
        try (Forge f = Forge.of(d)) {
            TreePointer p = f.entry("vm1").root;
            Node<Extent> n = f.node(p);
            assertTrue(!n.isLeaf() && n.count() >= 2, "vm1's root is an interior node over several leaves");
            assertTrue(!p.equals(f.entry("vm1@s2").root), "vm1's root is its own");
            return new Root(f.record(p.address()), p, n);
        }
    }

    /** Offset of pointer {@code i}'s field at {@code field} (0 key, 8 address, 16 length, 20 generation). */
    private static int pointerField(int i, int field) {
        return RecordLayout.HEADER_BYTES + 4 + i * Node.POINTER_BYTES + field;
    }

    @Test
    void aChildOutsideTheRangeItsParentGivesIsTreeOrder() throws IOException {
        CrashableStorage d = store();
        Root root = vm1Root(d);
        long k0 = root.node.key(0);
        // the second child now starts one block after the first's first key: the first child's
        // keys run past the range its parent gives it
        Disk.rewrite(d, root.rec, b -> b.putLong(pointerField(1, 0), k0 + 1));
        Report r = Fsck.check(d, false);
        Problem p = only(r, "tree-order");
        assertAt(p, root.node.childAddress(0));
        assertTrue(p.message().contains(place(root.pointer.address())), "names the parent: " + p.message());
        assertEquals(List.of("vm1"), names(p), "only vm1 reaches its root: " + p);
        Problem.Affected a = p.ranges().get(0);
        long end;
        try (Forge f = Forge.of(d)) {
            Node<Extent> first = f.node(Forge.child(root.node, 0));
            end = first.key(first.count() - 1) + first.value(first.count() - 1).blocks;
        }
        assertEquals(new Problem.Affected("vm1", k0 * 4096, end * 4096 - 1), a, "the blocks the first child maps, which"
                + " lookups no longer find in it");
        assertRepaired(d, r);
    }

    @Test
    void aPointerWithTheWrongGenerationIsTreePointer() throws IOException {
        CrashableStorage d = store();
        Root root = vm1Root(d);
        long child = root.node.childAddress(1);
        Disk.rewrite(d, root.rec, b -> b.putLong(pointerField(1, 20), root.node.childGeneration(1) + 1));
        Report r = Fsck.check(d, false);
        Problem p = only(r, "tree-pointer");
        assertAt(p, child);
        assertTrue(p.message().contains(place(root.pointer.address())) && p.message().contains("generation "
                + (root.node.childGeneration(1) + 1)), p.message());
        // the snapshots reach the same leaf through pointers that are right: only vm1 is affected
        assertEquals(List.of("vm1"), names(p), p.toString());
        assertRepaired(d, r);
    }

    /**
     * A pointer landing on a whole record of another kind: the catalog's root (which the check
     * reaches first, through the commit) and a data summary (which nothing reaches).
     */
    @Test
    void aPointerToARecordOfAnotherKindIsTreePointer() throws IOException {
        for (String target : List.of("catalog-leaf", "data-summary")) {
            CrashableStorage d = store();
            Root root = vm1Root(d);
            TreePointer there;
            try (Forge f = Forge.of(d)) {
                Disk.Rec x = target.equals("catalog-leaf") ? f.record(f.survey.last.catalogRoot().address())
                        : Disk.records(d).stream().filter(y -> y.typeName().equals(target)).findFirst().orElseThrow();
                there = new TreePointer(LogAddress.of(dev.varve.engine.format.SegmentLayout.parseFileName(x.file()),
                        x.offset()), x.length(), x.generation());
            }
            Disk.rewrite(d, root.rec, b -> {
                b.putLong(pointerField(1, 8), there.address());
                b.putInt(pointerField(1, 16), there.length());
                b.putLong(pointerField(1, 20), there.generation());
            });
            Report r = Fsck.check(d, false);
            Problem p = only(r, "tree-pointer");
            assertAt(p, there.address());
            assertTrue(p.message().contains(place(root.pointer.address()))
                    && p.message().contains(target.equals("catalog-leaf") ? "a catalog node" : "a data-summary record"),
                    p.message());
            assertEquals(List.of("vm1"), names(p), p.toString());
            Problem.Affected a = p.ranges().get(0);
            assertEquals(root.node.key(1) * 4096, a.fromByte(), "from the key the parent gives the child: " + a);
            assertRepaired(d, r);
        }
    }

    /** vm2's one leaf (shared with vm2@t1) and its extents. */
    private static Root vm2Leaf(CrashableStorage d) throws IOException {
        try (Forge f = Forge.of(d)) {
            TreePointer p = f.entry("vm2").root;
            Node<Extent> n = f.node(p);
            assertTrue(n.isLeaf() && n.count() == 8 && n.value(0).blocks == 4, "vm2 is one leaf of eight 4-block extents");
            assertEquals(p, f.entry("vm2@t1").root);
            return new Root(f.record(p.address()), p, n);
        }
    }

    /** Offset of extent {@code i}'s key in a leaf of 4-block extents. */
    private static int extentKey(int i) {
        return RecordLayout.HEADER_BYTES + 4 + i * (8 + Extent.FIXED_BYTES + 4 * 4);
    }

    @Test
    void anExtentStartingInsideTheOneBeforeIsExtentOverlap() throws IOException {
        CrashableStorage d = store();
        Root leaf = vm2Leaf(d);
        assertEquals(10, leaf.node.key(1));
        Disk.rewrite(d, leaf.rec, b -> b.putLong(extentKey(1), 2)); // blocks 2-5 against 0-3
        Report r = Fsck.check(d, false);
        Problem p = only(r, "extent-overlap");
        assertAt(p, leaf.pointer.address());
        assertEquals(List.of(new Problem.Affected("vm2", 1024, 2047), new Problem.Affected("vm2@t1", 1024, 2047)),
                p.ranges(), "blocks 2-3 of both trees that reach the leaf");
        assertRepaired(d, r);
    }

    @Test
    void anExtentPastTheVolumesEndIsExtentRange() throws IOException {
        CrashableStorage d = store();
        Root leaf = vm2Leaf(d);
        Disk.rewrite(d, leaf.rec, b -> b.putLong(extentKey(7), VM2_BYTES / 512 - 2)); // blocks 126-129 of 128
        Report r = Fsck.check(d, false);
        Problem p = only(r, "extent-range");
        assertAt(p, leaf.pointer.address());
        assertTrue(p.message().contains("block 129") && p.message().contains("128 blocks"), p.message());
        assertEquals(List.of("vm2", "vm2@t1"), names(p), p.toString());
        assertRepaired(d, r);
    }

    @Test
    void childrenAtDifferentDepthsAreTreeBalance() throws IOException {
        CrashableStorage d = store();
        TreePointer forged;
        try (Forge f = Forge.of(d)) {
            CatalogEntry vm1 = f.entry("vm1");
            Node<Extent> n = f.node(vm1.root);
            // the first leaf straight under the root, the others one level further down
            List<Long> keys = new ArrayList<>();
            List<TreePointer> rest = new ArrayList<>();
            for (int i = 1; i < n.count(); i++) {
                keys.add(n.key(i));
                rest.add(Forge.child(n, i));
            }
            TreePointer lower = f.extentInterior(vm1.lineage, keys, rest);
            forged = f.extentInterior(vm1.lineage, List.of(n.key(0), n.key(1)), List.of(Forge.child(n, 0), lower));
            vm1.root = forged;
            f.commit(f.catalogLeaf(replace(f.entries(), vm1)));
        }
        Report r = Fsck.check(d, false);
        Problem p = only(r, "tree-balance");
        assertAt(p, forged.address());
        assertEquals(List.of("vm1"), names(p), p.toString());
        assertRepaired(d, r);
    }

    private static List<CatalogEntry> replace(List<CatalogEntry> all, CatalogEntry e) {
        List<CatalogEntry> out = new ArrayList<>();
        for (CatalogEntry x : all) {
            out.add(x.id == e.id ? e : x);
        }
        return out;
    }

    // ------------------------------------------------------------------ the catalog, edited in place

    /** Edits the entries of the catalog's one leaf (same encoded lengths) and returns the leaf's address. */
    private static long editCatalog(CrashableStorage d, Consumer<Map<String, CatalogEntry>> edit) throws IOException {
        Disk.Rec leaf;
        try (Forge f = Forge.of(d)) {
            TreePointer root = f.survey.last.catalogRoot();
            leaf = f.record(root.address());
            assertEquals("catalog-leaf", leaf.typeName(), "the catalog is one leaf");
        }
        long[] at = {0};
        Disk.rewrite(d, leaf, b -> {
            int count = b.getShort(RecordLayout.HEADER_BYTES) & 0xFFFF;
            Map<String, CatalogEntry> byName = new java.util.LinkedHashMap<>();
            List<int[]> where = new ArrayList<>();
            int p = RecordLayout.HEADER_BYTES + 4;
            for (int i = 0; i < count; i++) {
                long id = b.getLong(p);
                int len = b.getInt(p + 8);
                CatalogEntry e = CatalogEntry.decode(id, new UnsafeBuffer(b, p + 12, len), 0, len);
                byName.put(e.name + "#" + e.id, e);
                where.add(new int[] {p + 12, len});
                p += 12 + len;
            }
            edit.accept(byName);
            int i = 0;
            for (CatalogEntry e : byName.values()) {
                byte[] v = e.encode();
                assertEquals(where.get(i)[1], v.length, "an edit keeps an entry's length");
                b.put(where.get(i)[0], v);
                i++;
            }
        });
        return LogAddress.of(dev.varve.engine.format.SegmentLayout.parseFileName(leaf.file()), leaf.offset());
    }

    private static CatalogEntry named(Map<String, CatalogEntry> m, String name) {
        return m.entrySet().stream().filter(x -> x.getKey().startsWith(name + "#")).findFirst().orElseThrow().getValue();
    }

    @Test
    void twoVolumesOfOneNameAreCatalogName() throws IOException {
        CrashableStorage d = store();
        long leaf = editCatalog(d, m -> named(m, "vm2").name = "vm1");
        Report r = Fsck.check(d, false);
        Problem p = only(r, "catalog-name");
        assertAt(p, leaf);
        assertTrue(p.message().contains("'vm1'"), p.message());
        assertEquals(List.of("vm1"), names(p), p.toString());
        assertRepaired(d, r);
    }

    @Test
    void aMissingParentIsCatalogParent() throws IOException {
        CrashableStorage d = store();
        long leaf = editCatalog(d, m -> named(m, "s1").parent = 999);
        Report r = Fsck.check(d, false);
        Problem p = only(r, "catalog-parent");
        assertAt(p, leaf);
        assertTrue(p.message().contains("999"), p.message());
        assertEquals(List.of("vm1@s1"), names(p), p.toString());
        assertRepaired(d, r);
    }

    @Test
    void aSnapshotOfNoVolumeIsCatalogOrphan() throws IOException {
        CrashableStorage d = store();
        long leaf = editCatalog(d, m -> named(m, "t1").origin = 999);
        Report r = Fsck.check(d, false);
        Problem p = only(r, "catalog-orphan");
        assertAt(p, leaf);
        assertTrue(p.message().contains("missing volume 999"), p.message());
        assertEquals(1, names(p).size(), p.toString());
        assertTrue(names(p).get(0).endsWith("@t1"), p.toString());
        assertRepaired(d, r);
    }

    @Test
    void parentsInACircleAreCatalogCycle() throws IOException {
        CrashableStorage d = store();
        long leaf = editCatalog(d, m -> {
            CatalogEntry s1 = named(m, "s1");
            CatalogEntry s2 = named(m, "s2");
            assertEquals(s1.id, s2.parent, "s2 stands on s1");
            s1.parent = s2.id;
        });
        Report r = Fsck.check(d, false);
        List<Problem> l = r.problems().stream().filter(p -> p.kind().equals("catalog-cycle")).toList();
        assertTrue(!l.isEmpty(), r.summary());
        for (Problem p : l) {
            assertEquals(Problem.Severity.ERROR, p.severity());
            assertAt(p, leaf);
        }
        // every entry whose line of parents runs into the circle: both snapshots and the volume on them
        assertEquals(List.of("vm1", "vm1@s1", "vm1@s2"), l.stream().flatMap(p -> names(p).stream()).distinct().sorted()
                .toList(), r.summary());
        assertRepaired(d, r);
    }

    // ------------------------------------------------------------------ fill

    /**
     * Nodes over the bounds this version writes are read (the format fixes no count) and only
     * warned about, each by its place: an extent leaf over its entries and bytes, an extent
     * interior over its pointers, a catalog leaf over its entries. The engine reads the store.
     */
    @Test
    void overFullNodesAreWarningsNamingTheNode() throws IOException {
        CrashableStorage d = store();
        try (Store s = Store.open(Disk.ROOT, Stores.options(d).withGcIntervalMillis(0))) {
            for (int i = 0; i < 20; i++) {
                s.snapshot("vm2", "u" + i, Map.of()); // 25 entries: more than a catalog leaf holds
            }
        }
        TreePointer leaf;
        TreePointer interior;
        TreePointer catalog;
        try (Forge f = Forge.of(d)) {
            CatalogEntry vm1 = f.entry("vm1");
            CatalogEntry s2 = f.entry("vm1@s2");
            List<Long> keys = new ArrayList<>();
            List<Extent> extents = new ArrayList<>();
            Node<Extent> root = f.node(vm1.root);
            for (int i = 0; i < root.count(); i++) {
                Node<Extent> l = f.node(Forge.child(root, i));
                for (int j = 0; j < l.count(); j++) {
                    keys.add(l.key(j));
                    extents.add(l.value(j));
                }
            }
            assertTrue(keys.size() > 1024, keys.size() + " extents");
            leaf = f.extentLeaf(vm1.lineage, keys, extents);
            vm1.root = leaf;
            // vm1@s2 the same mapping as 129 small leaves under one interior node
            List<Long> ik = new ArrayList<>();
            List<TreePointer> children = new ArrayList<>();
            int per = keys.size() / 129;
            for (int c = 0; c < 129; c++) {
                int from = c * per;
                int to = c == 128 ? keys.size() : from + per;
                ik.add(keys.get(from));
                children.add(f.extentLeaf(vm1.lineage, keys.subList(from, to), extents.subList(from, to)));
            }
            interior = f.extentInterior(vm1.lineage, ik, children);
            s2.root = interior;
            List<CatalogEntry> all = replace(replace(f.entries(), vm1), s2);
            all.sort(java.util.Comparator.comparingLong(e -> e.id));
            assertTrue(all.size() > 16, all.size() + " entries");
            catalog = f.catalogLeaf(all);
            f.commit(catalog);
        }
        Report r = Fsck.check(d, false);
        assertEquals(Report.EXIT_CLEAN, r.exitCode(), r.summary());
        List<Problem> fill = r.problems().stream().filter(p -> p.kind().equals("tree-fill")).toList();
        assertEquals(3, fill.size(), r.summary());
        for (Problem p : fill) {
            assertEquals(Problem.Severity.WARNING, p.severity(), p.toString());
        }
        assertAt(fill.stream().filter(p -> p.message().startsWith("an extent leaf with 1501 extents")).findFirst()
                .orElseThrow(() -> new AssertionError(r.summary())), leaf.address());
        assertAt(fill.stream().filter(p -> p.message().startsWith("an extent interior node with 129 pointers"))
                .findFirst().orElseThrow(() -> new AssertionError(r.summary())), interior.address());
        assertAt(fill.stream().filter(p -> p.message().startsWith("a catalog leaf with 25 entries")).findFirst()
                .orElseThrow(() -> new AssertionError(r.summary())), catalog.address());
        try (Store s = Store.open(Disk.ROOT, Stores.options(d).withReadOnly(true))) {
            byte[] b = new byte[4096];
            for (String dev : List.of("vm1", "vm1@s2")) {
                s.device(dev).read(4096L * 3 * 1_000, b, 0, b.length);
                assertArrayEquals(A, b, dev);
                s.device(dev).read(4096, b, 0, b.length);
                assertArrayEquals(B, b, dev);
            }
        }
    }

    @Test
    void anEmptyNodeStaysAnError() throws IOException {
        CrashableStorage d = store();
        TreePointer empty;
        try (Forge f = Forge.of(d)) {
            CatalogEntry vm2 = f.entry("vm2");
            empty = f.extentLeaf(vm2.lineage, List.of(), List.of());
            vm2.root = empty;
            f.commit(f.catalogLeaf(replace(f.entries(), vm2)));
        }
        Report r = Fsck.check(d, false);
        Problem p = only(r, "tree-empty-node");
        assertAt(p, empty.address());
        assertEquals(List.of("vm2"), names(p), p.toString());
        assertRepaired(d, r);
    }
}
