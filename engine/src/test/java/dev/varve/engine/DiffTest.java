package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Diff against a model: every block carries a stamp (0 for a hole, a new number on each
 * write), and two points in time differ exactly where their stamps differ.
 */
class DiffTest {
    private static final int BS = 4096;

    @TempDir
    Path dir;

    /** The volume as the model sees it: one stamp per block. */
    private static final class Model {
        long[] stamps;
        long next = 1;

        Model(int blocks) {
            stamps = new long[blocks];
        }

        void write(long offset, int len) {
            for (long b = offset / BS; b < (offset + len + BS - 1) / BS; b++) {
                stamps[(int) b] = next++;
            }
        }

        void trimBlocks(int first, int count) {
            Arrays.fill(stamps, first, first + count, 0);
        }

        void resize(int blocks) {
            stamps = Arrays.copyOf(stamps, blocks);
        }
    }

    private static List<ByteRange> expected(long[] a, long[] b) {
        return expected(a, b, BS);
    }

    private static List<ByteRange> expected(long[] a, long[] b, int bs) {
        List<ByteRange> out = new ArrayList<>();
        int small = Math.min(a.length, b.length);
        int big = Math.max(a.length, b.length);
        int start = -1;
        for (int i = 0; i <= big; i++) {
            boolean changed = i < big && (i >= small || a[i] != b[i]);
            if (changed && start < 0) {
                start = i;
            } else if (!changed && start >= 0) {
                out.add(new ByteRange((long) start * bs, (long) (i - start) * bs));
                start = -1;
            }
        }
        return out;
    }

    @Test
    void randomWritesBetweenSnapshotsAgreeWithTheModel() throws Exception {
        long seed = System.nanoTime();
        System.out.println("DiffTest seed " + seed);
        Random rnd = new Random(seed);
        try (Store store = Store.create(dir.resolve("s"))) {
            int blocks = 4096;
            Volume v = store.createVolume("vm", (long) blocks * BS);
            Model m = new Model(blocks);
            List<long[]> snaps = new ArrayList<>();
            byte[] buf = new byte[64 * BS];
            for (int round = 0; round < 16; round++) {
                int ops = rnd.nextInt(40);
                for (int i = 0; i < ops; i++) {
                    int size = m.stamps.length;
                    int kind = rnd.nextInt(10);
                    if (kind < 6) {
                        int len = 1 + rnd.nextInt(Math.min(buf.length, 20 * BS));
                        long off = rnd.nextInt(3) == 0 ? rnd.nextInt(size) * (long) BS
                                : (long) (rnd.nextDouble() * ((long) size * BS - len));
                        len = (int) Math.min(len, (long) size * BS - off);
                        rnd.nextBytes(buf);
                        v.write(off, buf, 0, len);
                        m.write(off, len);
                    } else if (kind < 9) {
                        int first = rnd.nextInt(size);
                        int count = 1 + rnd.nextInt(Math.min(100, size - first));
                        v.trim((long) first * BS, (long) count * BS);
                        m.trimBlocks(first, count);
                    } else if (round > 4) {
                        int newBlocks = 2048 + rnd.nextInt(4096);
                        v.resize((long) newBlocks * BS);
                        m.resize(newBlocks);
                    }
                }
                store.snapshot("vm", "s" + round, null);
                snaps.add(m.stamps.clone());
                if (rnd.nextBoolean()) {
                    store.flush();
                }
            }
            for (int t = 0; t < 60; t++) {
                int a = rnd.nextInt(snaps.size());
                int b = rnd.nextInt(snaps.size());
                assertEquals(expected(snaps.get(a), snaps.get(b)), store.diff("vm@s" + a, "vm@s" + b),
                        "vm@s" + a + " against vm@s" + b + " (seed " + seed + ")");
            }
            // the live head, with writes not yet flushed
            int last = snaps.size() - 1;
            int len = 3 * BS + 100;
            v.write(5 * BS + 7, buf, 0, len);
            m.write(5 * BS + 7, len);
            assertEquals(expected(snaps.get(last), m.stamps), store.diff("vm@s" + last, "vm"), "seed " + seed);
            assertEquals(expected(m.stamps, snaps.get(0)), store.diff("vm", "vm@s0"), "seed " + seed);
            assertEquals(List.of(), store.diff("vm", "vm"));
        }
    }

    /**
     * A snapshot diffed against one in its own history with nothing unmapped between them reads
     * only the newer tree, and only what was written after the older one. A random history of
     * writes, rarer trims and shrinks, reverts that keep the later snapshots, clones and
     * compactions: every pair, both ways, against the model and against the walk of both trees.
     */
    @Test
    void aDescendantWithNothingUnmappedIsDiffedFromItsOwnTree() throws Exception {
        long seed = Long.getLong("varve.seed", System.nanoTime());
        System.out.println("DiffTest descendant seed " + seed + " (-Dvarve.seed=...)");
        Random rnd = new Random(seed);
        long moved = 0;
        try (Store store = Store.create(dir.resolve("s"), StoreOptions.defaults().withSegmentSize(1 << 20))) {
            int blocks = 2048;
            java.util.Map<String, Model> heads = new java.util.LinkedHashMap<>();
            java.util.Map<String, long[]> snaps = new java.util.LinkedHashMap<>();
            store.createVolume("vm", (long) blocks * BS);
            heads.put("vm", new Model(blocks));
            byte[] buf = new byte[20 * BS];
            for (int round = 0; round < 24; round++) {
                List<String> names = new ArrayList<>(heads.keySet());
                String name = names.get(rnd.nextInt(names.size()));
                Volume v = store.volume(name);
                Model m = heads.get(name);
                boolean unmaps = rnd.nextInt(4) == 0;
                for (int i = 1 + rnd.nextInt(12); i > 0; i--) {
                    int size = m.stamps.length;
                    if (unmaps && rnd.nextInt(3) == 0) {
                        int first = rnd.nextInt(size);
                        int count = 1 + rnd.nextInt(Math.min(60, size - first));
                        v.trim((long) first * BS, (long) count * BS);
                        m.trimBlocks(first, count);
                    } else if (unmaps && rnd.nextInt(6) == 0) {
                        int newBlocks = 1024 + rnd.nextInt(2048);
                        v.resize((long) newBlocks * BS);
                        m.resize(newBlocks);
                    } else {
                        int len = 1 + rnd.nextInt(buf.length);
                        long off = (long) (rnd.nextDouble() * ((long) size * BS - len));
                        rnd.nextBytes(buf);
                        v.write(off, buf, 0, len);
                        m.write(off, len);
                    }
                }
                String snap = "s" + round;
                store.snapshot(name, snap, null);
                snaps.put(name + "@" + snap, m.stamps.clone());
                if (rnd.nextInt(3) == 0) {
                    // a region written twice after it: the first copy, in no snapshot, is garbage to collect
                    long off = (long) rnd.nextInt(m.stamps.length - 20) * BS;
                    for (int twice = 0; twice < 2; twice++) {
                        rnd.nextBytes(buf);
                        v.write(off, buf, 0, buf.length);
                        m.write(off, buf.length);
                    }
                }
                if (rnd.nextInt(4) == 0) {
                    moved += store.gc(0.95).bytesMoved(); // compaction moves blocks and nodes under the snapshots
                }
                List<String> own = new ArrayList<>();
                for (String k : snaps.keySet()) {
                    if (k.startsWith(name + "@")) {
                        own.add(k);
                    }
                }
                int after = rnd.nextInt(6);
                if (after == 0) { // back to an earlier snapshot, keeping the later ones
                    String to = own.get(rnd.nextInt(own.size()));
                    store.revert(name, to.substring(to.indexOf('@') + 1), null);
                    m.stamps = snaps.get(to).clone();
                } else if (after == 1) {
                    String from = own.get(rnd.nextInt(own.size()));
                    String c = "c" + round;
                    store.clone(name, from.substring(from.indexOf('@') + 1), c);
                    Model cm = new Model(0);
                    cm.stamps = snaps.get(from).clone();
                    cm.next = (heads.size() + 1) * 1_000_000_000L; // each volume stamps from a range of its own
                    heads.put(c, cm);
                }
            }
            List<String> all = new ArrayList<>(snaps.keySet());
            int oneTree = 0;
            for (String a : all) {
                for (String b : all) {
                    String what = a + " against " + b + " (seed " + seed + ")";
                    Diff.Result fast = Diff.between(store, a, b);
                    Diff.Result both = Diff.between(store, a, b, true);
                    assertEquals(expected(snaps.get(a), snaps.get(b)), fast.ranges(), what);
                    assertEquals(both.ranges(), fast.ranges(), what);
                    if (fast.nodesRead() < both.nodesRead()) {
                        oneTree++;
                    }
                }
            }
            for (String h : heads.keySet()) {
                String last = null;
                for (String k : all) {
                    if (k.startsWith(h + "@")) {
                        last = k;
                    }
                }
                if (last != null) {
                    assertEquals(expected(snaps.get(last), heads.get(h).stamps), store.diff(last, h), h + ", seed " + seed);
                }
            }
            System.out.println("diffs read from the newer tree alone: " + oneTree + " of " + all.size() * all.size()
                    + "; compaction moved " + moved + " bytes");
            assertTrue(oneTree > 0, "no pair was diffed from one tree (seed " + seed + ")");
        }
    }

    /**
     * What makes a diff walk both trees: a trim after the older snapshot (the newer tree does
     * not show where data was), a revert past it, and an unrelated volume. Afterwards, from a
     * snapshot taken after the trim, one tree is enough again.
     */
    @Test
    void anUnmapOrABranchSendsTheDiffThroughBothTrees() throws Exception {
        try (Store store = Store.create(dir.resolve("s"))) {
            Volume v = store.createVolume("vm", 4096L * BS);
            byte[] data = fill(v, 3);
            store.snapshot("vm", "a", null);
            v.write(100L * BS, data, 0, BS);
            store.snapshot("vm", "b", null);
            Diff.Result ab = Diff.between(store, "vm@a", "vm@b");
            assertEquals(List.of(new ByteRange(100L * BS, BS)), ab.ranges());
            assertTrue(ab.nodesRead() < Diff.between(store, "vm@a", "vm@b", true).nodesRead(), "one tree");
            assertEquals(ab, Diff.between(store, "vm@b", "vm@a"), "either way round");

            v.trim(2000L * BS, 3 * BS);
            store.snapshot("vm", "c", null);
            Diff.Result ac = Diff.between(store, "vm@a", "vm@c");
            assertEquals(List.of(new ByteRange(100L * BS, BS), new ByteRange(2000L * BS, 3 * BS)), ac.ranges());
            assertEquals(Diff.between(store, "vm@a", "vm@c", true), ac, "both trees once a block was unmapped");
            v.write(300L * BS, data, 0, BS);
            store.snapshot("vm", "d", null);
            Diff.Result cd = Diff.between(store, "vm@c", "vm@d");
            assertEquals(List.of(new ByteRange(300L * BS, BS)), cd.ranges());
            assertTrue(cd.nodesRead() < Diff.between(store, "vm@c", "vm@d", true).nodesRead(), "one tree after it");

            // a revert to a and a write: d is not in its history any more
            store.revert("vm", "a", null);
            v.write(400L * BS, data, 0, BS);
            store.snapshot("vm", "e", null);
            assertEquals(List.of(new ByteRange(400L * BS, BS)), store.diff("vm@a", "vm@e"));
            Diff.Result de = Diff.between(store, "vm@d", "vm@e");
            assertEquals(Diff.between(store, "vm@d", "vm@e", true), de, "not a descendant: both trees");
            assertEquals(List.of(new ByteRange(100L * BS, BS), new ByteRange(300L * BS, BS), new ByteRange(400L * BS, BS),
                    new ByteRange(2000L * BS, 3 * BS)), de.ranges());
        }
        // the unmap survives a reopen: a and c still take both trees
        try (Store store = Store.open(dir.resolve("s"))) {
            assertEquals(Diff.between(store, "vm@a", "vm@c", true), Diff.between(store, "vm@a", "vm@c"));
            assertEquals(List.of(new ByteRange(100L * BS, BS), new ByteRange(2000L * BS, 3 * BS)),
                    store.diff("vm@a", "vm@c"));
        }
    }

    /**
     * The walk goes level by level, so trees of different heights must line up: snapshots of
     * one, two and three levels (a volume grown from one extent to 100,000 one-block extents)
     * and a clone of the smallest grown past the others, every pair both ways.
     */
    @Test
    void treesOfDifferentHeightsAgreeWithTheModel() throws Exception {
        int bs = 512;
        int blocks = 220_000;
        try (Store store = Store.create(dir.resolve("s"))) {
            Volume v = store.createVolume("h", (long) blocks * bs, bs);
            long[] stamps = new long[blocks];
            long[] next = {1};
            byte[] b = new byte[bs];
            java.util.function.IntConsumer write = block -> {
                try {
                    v.write((long) block * bs, b, 0, bs);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                stamps[block] = next[0]++;
            };
            List<String> names = new ArrayList<>();
            List<long[]> states = new ArrayList<>();
            List<Integer> heights = new ArrayList<>();
            int written = 0;
            for (int upTo : new int[] {1, 4_000, 100_000}) {
                for (; written < upTo; written++) {
                    write.accept(2 * written); // a hole between: one extent each
                }
                store.snapshot("h", "s" + names.size(), null);
                heights.add(v.map.tree().height());
                names.add("h@s" + names.size());
                states.add(stamps.clone());
            }
            assertEquals(List.of(1, 2, 3), heights, "one, two and three levels");
            Random r = new Random(11);
            for (int i = 0; i < 40; i++) {
                write.accept(r.nextInt(blocks));
            }
            v.trim(1000L * bs, 5000L * bs);
            java.util.Arrays.fill(stamps, 1000, 6000, 0);
            names.add("h");
            states.add(stamps.clone());
            // a clone of the one-extent snapshot, grown to three levels of its own
            Volume c = store.clone("h", "s0", "c");
            long[] cs = states.get(0).clone();
            for (int i = 0; i < 90_000; i++) {
                int block = 2 * i + 1;
                c.write((long) block * bs, b, 0, bs);
                cs[block] = next[0]++;
            }
            assertEquals(3, c.map.tree().height());
            names.add("c");
            states.add(cs);
            for (int i = 0; i < names.size(); i++) {
                for (int j = 0; j < names.size(); j++) {
                    assertEquals(expected(states.get(i), states.get(j), bs), store.diff(names.get(i), names.get(j)),
                            names.get(i) + " against " + names.get(j));
                }
            }
        }
    }

    /**
     * The leaves a commit changed are read together, in one span: a damaged leaf in the middle
     * of that span is still found and named by its own address, as a read of it alone would.
     */
    @Test
    void aDamagedNodeReadWithItsNeighboursIsNamed() throws Exception {
        int bs = 512;
        Path s = dir.resolve("s");
        try (Store store = Store.create(s)) {
            Volume v = store.createVolume("v", 40_000L * bs, bs);
            byte[] b = new byte[bs];
            for (int i = 0; i < 20_000; i++) {
                v.write(2L * i * bs, b, 0, bs);
            }
            store.snapshot("v", "a", null);
            for (int i = 0; i < 16; i++) {
                v.write((2L * i * 1_250 + 1) * bs, b, 0, bs);
            }
            store.snapshot("v", "b", null);
        }
        long damaged;
        try (Store store = Store.open(s)) {
            CommittedRoot[] r = store.committedRoots("v@a", "v@b");
            var ra = store.cache().load(dev.varve.engine.btree.TreeKind.EXTENTS, dev.varve.engine.btree.Extent.CODEC,
                    r[0].root().address(), r[0].root().length(), r[0].root().generation());
            var rb = store.cache().load(dev.varve.engine.btree.TreeKind.EXTENTS, dev.varve.engine.btree.Extent.CODEC,
                    r[1].root().address(), r[1].root().length(), r[1].root().generation());
            assertTrue(!rb.isLeaf() && !ra.isLeaf(), "a two-level map");
            java.util.Set<Long> inA = new java.util.HashSet<>();
            for (int i = 0; i < ra.count(); i++) {
                inA.add(ra.childAddress(i));
            }
            List<Long> changed = new ArrayList<>();
            for (int i = 0; i < rb.count(); i++) {
                if (!inA.contains(rb.childAddress(i))) {
                    changed.add(rb.childAddress(i));
                }
            }
            assertTrue(changed.size() >= 8, changed.size() + " changed leaves");
            damaged = changed.get(changed.size() / 2);
        }
        Path file = s.resolve(dev.varve.engine.format.SegmentLayout.fileName(LogAddress.segment(damaged)));
        try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.READ,
                java.nio.file.StandardOpenOption.WRITE)) {
            long at = LogAddress.offset(damaged) + dev.varve.engine.format.RecordLayout.HEADER_BYTES + 20;
            java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
            ch.read(one, at);
            one.put(0, (byte) (one.get(0) ^ 0x10)).clear();
            ch.write(one, at);
        }
        try (Store store = Store.open(s)) {
            CorruptionException e = assertThrows(CorruptionException.class, () -> store.diff("v@a", "v@b"));
            assertEquals(damaged, e.address(), e.getMessage());
            assertTrue(e.getMessage().contains("checksum"), e.getMessage());
        }
    }

    @Test
    void aCloneAgainstItsOrigin() throws Exception {
        try (Store store = Store.create(dir.resolve("s"))) {
            Volume v = store.createVolume("vm", 256L * BS);
            byte[] data = fill(v, 1);
            store.snapshot("vm", "gold", null);
            Volume c = store.clone("vm", "gold", "c1");
            assertEquals(List.of(), store.diff("vm@gold", "c1"));
            c.write(10L * BS, data, 0, 2 * BS);
            c.trim(100L * BS, 5 * BS);
            c.write(200L * BS + 1, data, 0, 10);
            assertEquals(List.of(new ByteRange(10L * BS, 2 * BS), new ByteRange(100L * BS, 5 * BS),
                    new ByteRange(200L * BS, BS)), store.diff("vm@gold", "c1"));
            store.snapshot("c1", "x", null);
            assertEquals(store.diff("vm@gold", "c1"), store.diff("c1@x", "vm@gold"));
            assertEquals(List.of(), store.diff("c1@x", "c1"));
        }
    }

    /** Writes the whole volume with random bytes, which it returns. */
    private static byte[] fill(Volume v, long seed) throws java.io.IOException {
        byte[] data = new byte[(int) v.size()];
        new Random(seed).nextBytes(data);
        v.write(0, data, 0, data.length);
        return data;
    }

    @Test
    void differentBlockSizesAreRefused() throws Exception {
        try (Store store = Store.create(dir.resolve("s"))) {
            store.createVolume("a", 1 << 20, 4096);
            store.createVolume("b", 1 << 20, 512);
            assertThrows(IllegalArgumentException.class, () -> store.diff("a", "b"));
            assertThrows(NoSuchSnapshotException.class, () -> store.diff("a@nope", "a"));
        }
    }

    /**
     * The walk reads the paths that changed, not the tree: the same small change costs a
     * similar number of node reads in a volume with 30 times more extents, one level deeper.
     * Both maps are large enough that the 16 changes land in about as many leaves.
     */
    @Test
    void costFollowsTheChangeNotTheVolume() throws Exception {
        try (Store store = Store.create(dir.resolve("s"))) {
            long small = nodesReadForChange(store, "small", 8_000);
            long big = nodesReadForChange(store, "big", 240_000);
            long bigTree = Diff.between(store, "small@a", "big@a").nodesRead();
            int smallHeight = store.volume("small").map.tree().height();
            int bigHeight = store.volume("big").map.tree().height();
            System.out.println("diff node reads: " + small + " (8,000 extents, " + smallHeight + " levels), " + big
                    + " (240,000 extents, " + bigHeight + " levels), whole tree " + bigTree);
            assertEquals(smallHeight + 1, bigHeight, "the big map is one level deeper");
            // about two trees x (16 changed leaves + the interiors above them)
            assertTrue(big * 2 <= small * 5, big + " node reads against " + small);
            assertTrue(big * 10 < bigTree, big + " node reads, the whole tree has " + bigTree);
        }
    }

    /**
     * Cold, a diff that reads only the newer tree reads its root with the bytes before it, where
     * the root's commit wrote the changed leaves and interiors: one I/O for a change of 16
     * scattered blocks in a map of three levels, where the walk of both trees needs one per
     * changed leaf of the older tree.
     */
    @Test
    void aColdDiffOfTheLastCommitsChangeIsOneRead() throws Exception {
        Path at = dir.resolve("s");
        int extents = 240_000;
        try (Store store = Store.create(at)) {
            nodesReadForChange(store, "big", extents);
            assertEquals(3, store.volume("big").map.tree().height());
        }
        try (Store store = Store.open(at)) {
            long before = store.nodeReads();
            Diff.Result d = Diff.between(store, "big@a", "big@b");
            long oneTree = store.nodeReads() - before;
            assertEquals(16, d.ranges().size());
            assertEquals(1, oneTree, "I/Os of a cold diff from the newer tree");
        }
        try (Store store = Store.open(at)) {
            long before = store.nodeReads();
            Diff.Result d = Diff.between(store, "big@a", "big@b", true);
            long bothTrees = store.nodeReads() - before;
            assertEquals(16, d.ranges().size());
            System.out.println("cold diff I/Os: both trees " + bothTrees + ", the newer tree 1");
            assertTrue(bothTrees >= 16, bothTrees + " I/Os walking both trees");
        }
    }

    /** Node reads of a diff over 16 one-block changes spread across a map of one-block extents (512-byte blocks). */
    private static long nodesReadForChange(Store store, String name, int extents) throws Exception {
        int bs = 512;
        Volume v = store.createVolume(name, 2L * extents * bs, bs);
        byte[] b = new byte[bs];
        for (int i = 0; i < extents; i++) {
            v.write(2L * i * bs, b, 0, bs); // a hole between: one extent each
        }
        store.snapshot(name, "a", null);
        Random r = new Random(7);
        for (int i = 0; i < 16; i++) {
            long e = (long) i * (extents / 16) + r.nextInt(extents / 16);
            v.write(2L * e * bs + bs, b, 0, bs);
        }
        store.snapshot(name, "b", null);
        Diff.Result d = Diff.between(store, name + "@a", name + "@b");
        assertEquals(16, d.ranges().size());
        return d.nodesRead();
    }
}
