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
            byte[] data = new byte[256 * BS];
            new Random(1).nextBytes(data);
            v.write(0, data, 0, data.length);
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
