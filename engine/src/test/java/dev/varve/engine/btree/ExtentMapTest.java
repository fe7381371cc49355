package dev.varve.engine.btree;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The extent map against a plain per-block model: inserts of every shape (random places,
 * runs that continue the previous write in the log and merge, the same blocks written again,
 * writes across extent edges), trims, and an uncommitted tree large enough for several levels.
 */
class ExtentMapTest {
    private static final int BLOCK = 4096;
    private static final NodeSource NOTHING_ON_DISK = new NodeSource() {
        @Override
        public <V> Node<V> load(TreeKind kind, ValueCodec<V> codec, long address, int length, long generation) {
            throw new IllegalStateException("an uncommitted tree loaded a node");
        }
    };

    @Test
    void everyBlockMapsWhereItWasLastWritten() throws IOException {
        long seed = System.nanoTime();
        System.out.println("ExtentMapTest seed " + seed);
        Random r = new Random(seed);
        int blocks = 40_000;
        long[] address = new long[blocks]; // 0: a hole
        int[] crc = new int[blocks];
        ExtentMap map = new ExtentMap(new CowTree<>(TreeKind.EXTENTS, Extent.CODEC, NOTHING_ON_DISK, TreePointer.EMPTY),
                BLOCK);
        long next = 1L << 32;
        long lastEnd = -1;
        long lastAddressEnd = -1;
        for (int op = 0; op < 60_000; op++) {
            int kind = r.nextInt(10);
            int n = 1 + (r.nextInt(4) == 0 ? r.nextInt(Extent.MAX_BLOCKS) : r.nextInt(4));
            long lba;
            if (kind < 3 && lastEnd >= 0 && lastEnd + n <= blocks) {
                lba = lastEnd; // continues the previous write, in the log too: merges
            } else {
                lba = r.nextInt(blocks - n + 1);
            }
            if (kind == 9) {
                map.punch(lba, n);
                Arrays.fill(address, (int) lba, (int) lba + n, 0);
                lastEnd = -1;
                continue;
            }
            long at;
            if (kind < 3 && lba == lastEnd) {
                at = lastAddressEnd;
            } else {
                next += (long) (Extent.MAX_BLOCKS + 1) * BLOCK; // never contiguous with anything before
                at = next;
            }
            int[] crcs = new int[n];
            for (int i = 0; i < n; i++) {
                crcs[i] = r.nextInt();
                address[(int) lba + i] = at + (long) i * BLOCK;
                crc[(int) lba + i] = crcs[i];
            }
            map.insert(lba, new Extent(n, at, 1, crcs));
            lastEnd = lba + n;
            lastAddressEnd = at + (long) n * BLOCK;
            next = Math.max(next, lastAddressEnd);
            if (op % 5_000 == 0) {
                check(map, address, crc, 0, blocks);
                checkNodes(map.tree().rootNode(), true);
            }
            int from = r.nextInt(blocks);
            check(map, address, crc, from, Math.min(blocks, from + 1 + r.nextInt(3)));
        }
        check(map, address, crc, 0, blocks);
        checkNodes(map.tree().rootNode(), true);
        assertTrue(map.tree().height() >= 2, "the map grew past one leaf: " + map.tree().height());
    }

    /**
     * A disk written in long runs, then overwritten in 64 KiB pieces at random places as a
     * thousand snapshots' worth of changes would, keeps as many levels: leaves are bounded by
     * bytes, and the bytes follow the blocks mapped, not how many pieces map them.
     */
    @Test
    void overwritesThatSplitTheMapDoNotDeepenIt() throws IOException {
        int blocks = 131_072; // 512 MiB of 4 KiB blocks
        ExtentMap map = new ExtentMap(new CowTree<>(TreeKind.EXTENTS, Extent.CODEC, NOTHING_ON_DISK, TreePointer.EMPTY),
                BLOCK);
        long next = 1L << 32;
        for (int b = 0; b < blocks; b += Extent.MAX_BLOCKS) {
            map.insert(b, new Extent(Extent.MAX_BLOCKS, next, 1, new int[Extent.MAX_BLOCKS]));
            next += (long) Extent.MAX_BLOCKS * BLOCK;
        }
        int fresh = map.tree().height();
        Random r = new Random(42);
        for (int i = 0; i < 8_000; i++) {
            next += (long) (Extent.MAX_BLOCKS + 1) * BLOCK; // contiguous with nothing
            map.insert(r.nextInt(blocks / 16) * 16L, new Extent(16, next, 2, new int[16]));
        }
        long[] extents = {0};
        map.map(0, blocks, (lba, count, e, skip) -> extents[0]++);
        assertTrue(extents[0] > 5_000, "the overwrites split the map: " + extents[0] + " runs");
        assertEquals(fresh, map.tree().height(), "levels after " + extents[0] + " runs, against the fresh map's");
        checkNodes(map.tree().rootNode(), true);
    }

    /**
     * A commit writes the dirty nodes level by level: every leaf before any interior node, each
     * level in key order, the root last, so the nodes one commit changed at a level sit side by
     * side in the log. A second commit after a few scattered changes writes only their paths,
     * in the same order.
     */
    @Test
    void aCommitWritesTheTreeLevelByLevel() throws IOException {
        java.util.Map<Long, Node<?>> written = new java.util.HashMap<>();
        java.util.List<Long> order = new java.util.ArrayList<>();
        NodeSource disk = new NodeSource() {
            @Override
            @SuppressWarnings("unchecked")
            public <V> Node<V> load(TreeKind kind, ValueCodec<V> codec, long address, int length, long generation) {
                return (Node<V>) written.get(address);
            }
        };
        long[] generation = {1};
        NodeWriter writer = new NodeWriter() {
            long next = 1L << 20;

            @Override
            public long append(byte type, long owner, int payloadLength, PayloadEncoder encoder) {
                next += 1 << 16;
                order.add(next);
                return next;
            }

            @Override
            public long generation() {
                return generation[0];
            }

            @Override
            public void written(Node<?> node) {
                written.put(node.address, node);
            }
        };
        CowTree<Extent> tree = new CowTree<>(TreeKind.EXTENTS, Extent.CODEC, disk, TreePointer.EMPTY);
        ExtentMap map = new ExtentMap(tree, BLOCK);
        long at = 1L << 40;
        for (int i = 0; i < 60_000; i++) {
            map.insert(2L * i, new Extent(1, at, 1, new int[1]));
            at += 2L * BLOCK;
        }
        assertEquals(3, tree.height());
        TreePointer root = tree.commit(writer, 1);
        assertEquals(written.size(), checkLevelOrder(written, order, 0, root.address()));
        Random r = new Random(3);
        for (int i = 0; i < 20; i++) {
            map.insert(2L * r.nextInt(60_000) + 1, new Extent(1, at, 2, new int[1]));
            at += 2L * BLOCK;
        }
        generation[0] = 2;
        int before = order.size();
        root = tree.commit(writer, 1);
        int second = checkLevelOrder(written, order, before, root.address());
        assertTrue(second > 20 && second < 100, second + " nodes written for 20 scattered changes");
    }

    /**
     * Checks the nodes written from {@code order[from]} on: leaves first, then each level up,
     * each in key order, children before parents, the root last. Returns how many there were.
     */
    private static int checkLevelOrder(java.util.Map<Long, Node<?>> written, java.util.List<Long> order, int from,
            long root) {
        java.util.Map<Long, Integer> depth = new java.util.HashMap<>();
        java.util.ArrayDeque<Long> todo = new java.util.ArrayDeque<>(java.util.List.of(root));
        depth.put(root, 0);
        while (!todo.isEmpty()) {
            Node<?> n = written.get(todo.poll());
            if (!n.leaf) {
                for (int i = 0; i < n.count; i++) {
                    assertTrue(n.childAddr[i] < n.address, "a child is written before its parent");
                    depth.put(n.childAddr[i], depth.get(n.address) + 1);
                    todo.add(n.childAddr[i]);
                }
            }
        }
        java.util.List<Long> mine = order.subList(from, order.size());
        assertEquals(root, mine.get(mine.size() - 1), "the root is written last");
        for (int i = 1; i < mine.size(); i++) {
            Node<?> a = written.get(mine.get(i - 1));
            Node<?> b = written.get(mine.get(i));
            int da = depth.get(a.address);
            int db = depth.get(b.address);
            assertTrue(db <= da, "node " + i + " of the commit is deeper than the one before it");
            if (da == db) {
                assertTrue(a.keys[0] < b.keys[0], "node " + i + " of its level is out of key order");
            }
        }
        return mine.size();
    }

    /** Every node's kept byte count is its encoded length, and no leaf of two or more entries is over its bound. */
    private static void checkNodes(Node<Extent> n, boolean root) {
        if (n.leaf) {
            assertEquals(n.encodedLength(Extent.CODEC), n.bytes, "kept bytes of a leaf of " + n.count);
            assertTrue(n.count == 1 || n.bytes <= TreeKind.EXTENTS.maxLeafBytes, "leaf of " + n.bytes + " bytes");
            assertTrue(root || n.count > 0, "an empty leaf below the root");
            return;
        }
        for (int i = 0; i < n.count; i++) {
            checkNodes(n.dirtyChild(i), false);
        }
    }

    @Test
    void aWriteThatContinuesTheExtentBeforeItInTheLogJoinsIt() throws IOException {
        ExtentMap map = new ExtentMap(new CowTree<>(TreeKind.EXTENTS, Extent.CODEC, NOTHING_ON_DISK, TreePointer.EMPTY),
                BLOCK);
        long x = 1L << 32;
        long y = 1L << 33;
        map.insert(0, new Extent(10, x, 1, new int[10]));
        map.insert(10, new Extent(10, y, 1, new int[10]));
        // block 10 written again where block 9's data ends in the log: one extent [0, 11)
        map.insert(10, new Extent(1, x + 10L * BLOCK, 1, new int[1]));
        assertEquals(java.util.List.of("0+11@" + x, "11+9@" + (y + BLOCK)), runs(map, 0, 20));
        // sequential single-block writes, contiguous in the log, become extents of the most blocks
        ExtentMap seq = new ExtentMap(new CowTree<>(TreeKind.EXTENTS, Extent.CODEC, NOTHING_ON_DISK, TreePointer.EMPTY),
                BLOCK);
        for (int b = 0; b < 3 * Extent.MAX_BLOCKS; b++) {
            seq.insert(b, new Extent(1, y + (long) b * BLOCK, 1, new int[1]));
        }
        assertEquals(3, runs(seq, 0, 3 * Extent.MAX_BLOCKS).size());
    }

    private static java.util.List<String> runs(ExtentMap map, long from, long to) throws IOException {
        java.util.List<String> out = new java.util.ArrayList<>();
        map.map(from, to - from, (lba, count, e, skip) ->
                out.add(lba + "+" + count + "@" + (e == null ? "hole" : e.address + (long) skip * BLOCK)));
        return out;
    }

    private static void check(ExtentMap map, long[] address, int[] crc, int from, int to) throws IOException {
        long[] cursor = {from};
        map.map(from, to - from, (lba, count, e, skip) -> {
            assertEquals(cursor[0], lba, "runs are contiguous");
            for (int i = 0; i < count; i++) {
                int b = (int) (lba + i);
                if (e == null) {
                    assertEquals(0, address[b], "block " + b + " reads as a hole but was written");
                } else {
                    assertTrue(skip + i < e.blocks);
                    assertEquals(address[b], e.address + (long) (skip + i) * BLOCK, "address of block " + b);
                    assertEquals(crc[b], e.crc(skip + i), "checksum of block " + b);
                }
            }
            cursor[0] = lba + count;
        });
        assertEquals(to, cursor[0], "the runs cover the range");
    }
}
