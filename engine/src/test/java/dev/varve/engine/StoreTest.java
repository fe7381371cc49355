package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreTest {
    @TempDir
    Path dir;

    static byte[] pattern(int len, int seed) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] read(BlockDevice d, long off, int len) throws Exception {
        byte[] b = new byte[len];
        d.read(off, b, 0, len);
        return b;
    }

    @Test
    void bytesAppendedCountsDataAndMetadata() throws Exception {
        try (Store store = Store.create(dir.resolve("s"))) {
            Volume v = store.createVolume("vm1", 1L << 30);
            byte[] a = pattern(1 << 20, 3);
            v.write(8 << 20, a, 0, 4096); // the first data write also creates a segment, header and all
            store.commit(); // and reaches the file from its write-back window here (a small flush leaves it there)
            long start = store.bytesAppended();
            v.write(0, a, 0, a.length);
            assertEquals(start + a.length, store.bytesAppended(), "a whole-block write appends exactly its bytes");
            v.flush();
            long afterFlush = store.bytesAppended();
            assertTrue(afterFlush > start + a.length, "the flush appends an intent record too");
            v.write(4096, a, 0, 4096);
            v.flush();
            long meta = store.bytesAppended() - afterFlush - 4096;
            assertTrue(meta > 0 && meta < 64 << 10, "one block's flush appends a little metadata: " + meta);
            store.commit();
            assertTrue(store.bytesAppended() > afterFlush + 4096 + meta, "the commit writes the changed trees");
        }
    }

    @Test
    void writeReadFlushReopen() throws Exception {
        Path s = dir.resolve("s");
        byte[] a = pattern(1 << 20, 1);
        byte[] u = pattern(10_000, 2);
        try (Store store = Store.create(s)) {
            Volume v = store.createVolume("vm1", 1L << 40);
            v.write(0, a, 0, a.length);
            v.write(123_457, u, 0, u.length);
            v.flush();
            byte[] expect = a.clone();
            System.arraycopy(u, 0, expect, 123_457, u.length);
            assertArrayEquals(expect, read(v, 0, a.length));
        }
        try (Store store = Store.open(s)) {
            Volume v = store.volume("vm1");
            assertEquals(1L << 40, v.size());
            byte[] expect = a.clone();
            System.arraycopy(u, 0, expect, 123_457, u.length);
            assertArrayEquals(expect, read(v, 0, a.length));
            assertArrayEquals(new byte[8192], read(v, (1L << 40) - 8192, 8192));
        }
    }

    @Test
    void thinTrimAndHoles() throws Exception {
        try (Store store = Store.create(dir.resolve("s"))) {
            Volume v = store.createVolume("d", 64L << 20);
            v.write(4096, pattern(3 * 4096, 3), 0, 3 * 4096);
            v.trim(4096 + 100, 4096 * 2);
            byte[] got = read(v, 4096, 3 * 4096);
            byte[] exp = pattern(3 * 4096, 3);
            java.util.Arrays.fill(exp, 100, 100 + 8192, (byte) 0);
            assertArrayEquals(exp, got);
            List<long[]> runs = new ArrayList<>();
            v.mapAllocation(0, v.size(), (o, l, al) -> runs.add(new long[] {o, l, al ? 1 : 0}));
            assertEquals(0, runs.get(0)[0]);
            assertEquals(0, runs.get(0)[2]);
            long alloc = runs.stream().filter(r -> r[2] == 1).mapToLong(r -> r[1]).sum();
            assertEquals(2 * 4096, alloc, "the fully trimmed block is a hole again");
        }
    }

    @Test
    void snapshotRevertCloneKeepEveryBranch() throws Exception {
        Path s = dir.resolve("s");
        try (Store store = Store.create(s)) {
            Volume v = store.createVolume("vm", 16L << 20);
            v.write(0, pattern(8192, 1), 0, 8192);
            store.snapshot("vm", "a", Map.of("vm.config", "<domain/>"));
            v.write(0, pattern(8192, 2), 0, 8192);
            store.snapshot("vm", "b", Map.of());
            v.write(0, pattern(8192, 3), 0, 8192);
            assertArrayEquals(pattern(8192, 1), read(store.device("vm@a"), 0, 8192));
            assertArrayEquals(pattern(8192, 2), read(store.device("vm@b"), 0, 8192));
            store.revert("vm", "a", "before-revert");
            assertArrayEquals(pattern(8192, 1), read(v, 0, 8192));
            assertArrayEquals(pattern(8192, 2), read(store.device("vm@b"), 0, 8192), "later snapshot kept");
            assertArrayEquals(pattern(8192, 3), read(store.device("vm@before-revert"), 0, 8192));
            Volume c = store.clone("vm", "b", "vm-clone");
            c.write(0, pattern(4096, 9), 0, 4096);
            assertArrayEquals(pattern(8192, 2), read(store.device("vm@b"), 0, 8192));
            assertEquals("vm@a", store.volumeInfo("vm").position());
            assertThrows(HasSnapshotsException.class, () -> store.destroyVolume("vm", false));
            assertThrows(NameExistsException.class, () -> store.snapshot("vm", "a", Map.of()));
            assertThrows(InvalidNameException.class, () -> store.snapshot("vm", "x@y", Map.of()));
            store.destroyVolume("vm", true);
            assertArrayEquals(pattern(4096, 9), read(c, 0, 4096), "clone survives its origin");
            assertArrayEquals(java.util.Arrays.copyOfRange(pattern(8192, 2), 4096, 8192), read(c, 4096, 4096));
        }
        try (Store store = Store.open(s)) {
            Volume c = store.volume("vm-clone");
            assertArrayEquals(pattern(4096, 9), read(c, 0, 4096));
            assertArrayEquals(java.util.Arrays.copyOfRange(pattern(8192, 2), 4096, 8192), read(c, 4096, 4096));
            assertThrows(NoSuchVolumeException.class, () -> store.volume("vm"));
        }
    }

    @Test
    void secondOpenIsRefused() throws Exception {
        Path s = dir.resolve("s");
        try (Store store = Store.create(s)) {
            assertThrows(StoreLockedException.class, () -> Store.open(s));
        }
        assertThrows(NotAStoreException.class, () -> Store.open(Files.createDirectories(dir.resolve("empty"))));
    }

    @Test
    void outOfRangeWritesChangeNothing() throws Exception {
        try (Store store = Store.create(dir.resolve("s"))) {
            Volume v = store.createVolume("v", 1 << 20);
            assertThrows(IllegalArgumentException.class, () -> v.write((1 << 20) - 10, new byte[20], 0, 20));
            assertThrows(IllegalArgumentException.class, () -> v.write(-1, new byte[1], 0, 1));
            assertEquals(0, ((MappedDevice) v).allocatedBlocks());
        }
    }

    @Test
    void manyVolumesAndRandomWritesAgreeWithModel() throws Exception {
        Path s = dir.resolve("s");
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        Random r = new Random(seed);
        int size = 4 << 20;
        byte[] model = new byte[size];
        StoreOptions small = StoreOptions.defaults().withSegmentSize(1 << 20).withNodeCacheBytes(1 << 16);
        Store store = Store.create(s, small);
        Volume v = store.createVolume("v", size, 512);
        for (int i = 0; i < 3000; i++) {
            int off = r.nextInt(size - 9000);
            int len = 1 + r.nextInt(9000);
            if (r.nextInt(10) == 0) {
                v.trim(off, len);
                java.util.Arrays.fill(model, off, off + len, (byte) 0);
            } else {
                byte[] d = pattern(len, r.nextInt());
                v.write(off, d, 0, len);
                System.arraycopy(d, 0, model, off, len);
            }
            if (r.nextInt(100) == 0) {
                v.flush();
            }
            if (r.nextInt(500) == 0) {
                store.close();
                store = Store.open(s, small);
                v = store.volume("v");
            }
        }
        assertArrayEquals(model, read(v, 0, size), "seed " + seed);
        store.close();
        try (Store again = Store.open(s, small)) {
            assertArrayEquals(model, read(again.volume("v"), 0, size), "seed " + seed);
            assertTrue(again.info().segmentCount() > 1);
        }
    }
}
