package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.catalog.Superblock;
import dev.varve.engine.io.CrashableStorage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The intent log: a flush with only volume writes pending logs them and forces them with the
 * data instead of writing every changed tree, and after a power cut the store opens with every
 * flushed write, in order, before any commit wrote the trees.
 */
class IntentLogTest {
    private static final Path ROOT = Path.of("/mem/intents");
    private static final int BLOCK = 4096;
    private static final int BLOCKS = 1024; // a 4 MiB volume

    private static StoreOptions options(CrashableStorage s) {
        return StoreOptions.defaults().withSegmentSize(1 << 20).withCommitIntervalMillis(0)
                .withDirtyBytesLimit(Long.MAX_VALUE).withGcIntervalMillis(0).withStorage(p -> s);
    }

    /** A model of two volumes, block by block (null: never written or trimmed, reads as zeros). */
    private static final class Model {
        final byte[][][] blocks = new byte[2][BLOCKS][];

        Model copy() {
            Model m = new Model();
            m.set(this);
            return m;
        }

        void set(Model from) {
            for (int v = 0; v < 2; v++) {
                blocks[v] = from.blocks[v].clone();
            }
        }

        String verify(Store store, String context) throws IOException {
            for (int v = 0; v < 2; v++) {
                BlockDevice d = store.volume("v" + v);
                byte[] all = new byte[BLOCKS * BLOCK];
                d.read(0, all, 0, all.length);
                for (int b = 0; b < BLOCKS; b++) {
                    byte[] want = blocks[v][b] == null ? new byte[BLOCK] : blocks[v][b];
                    if (!Arrays.equals(want, Arrays.copyOfRange(all, b * BLOCK, (b + 1) * BLOCK))) {
                        return context + ": volume v" + v + " block " + b + " differs from the last flush";
                    }
                }
            }
            return null;
        }
    }

    /** Random writes of 1..80 blocks (a run over 64 blocks is two extents), overlaps and trims. */
    private static void randomOps(Store store, Model m, Random r, int n) throws IOException {
        for (int i = 0; i < n; i++) {
            int v = r.nextInt(2);
            Volume vol = store.volume("v" + v);
            int first = r.nextInt(BLOCKS);
            int count = Math.min(BLOCKS - first, 1 + (r.nextInt(4) == 0 ? r.nextInt(80) : r.nextInt(3)));
            if (r.nextInt(6) == 0) {
                vol.trim((long) first * BLOCK, (long) count * BLOCK);
                for (int b = first; b < first + count; b++) {
                    m.blocks[v][b] = null;
                }
            } else {
                byte[] d = new byte[count * BLOCK];
                r.nextBytes(d);
                vol.write((long) first * BLOCK, d, 0, d.length);
                for (int b = 0; b < count; b++) {
                    m.blocks[v][first + b] = Arrays.copyOfRange(d, b * BLOCK, (b + 1) * BLOCK);
                }
            }
        }
    }

    /** What a test does to a store before the power is cut. */
    @FunctionalInterface
    private interface Work {
        void on(Store store) throws Exception;
    }

    /**
     * Opens a store on {@code disk}, does {@code work}, takes the image a power cut leaves
     * ({@code cut}), then cuts the power and closes the store: its close fails then, as it
     * should. Checks run on the image after this, so a failure of theirs is never taken for the
     * close's, and the original store never writes over the image.
     */
    private static CrashableStorage cutAfter(CrashableStorage disk, Work work,
                                             java.util.function.UnaryOperator<CrashableStorage> cut) throws Exception {
        Store store = Store.open(ROOT, options(disk));
        try {
            work.on(store);
            return cut.apply(disk);
        } finally {
            disk.powerOff();
            try {
                store.close();
            } catch (IOException expected) {
                // the disk is off
            }
        }
    }

    private static CrashableStorage fresh() throws IOException {
        return fresh(1 << 20);
    }

    private static CrashableStorage fresh(long segmentSize) throws IOException {
        CrashableStorage s = new CrashableStorage(ROOT);
        try (Store store = Store.create(ROOT, options(s).withSegmentSize(segmentSize))) {
            store.createVolume("v0", (long) BLOCKS * BLOCK);
            store.createVolume("v1", (long) BLOCKS * BLOCK);
        }
        return s;
    }

    @Test
    void aFlushLogsTheWritesInsteadOfCommittingTheTrees() throws Exception {
        CrashableStorage disk = fresh();
        try (Store store = Store.open(ROOT, options(disk))) {
            Random r = new Random(1);
            randomOps(store, new Model(), r, 300);
            store.flush();
            long gen = store.lastCommit().generation();
            long before = store.bytesAppended();
            Volume v = store.volume("v0");
            for (int i = 0; i < 256; i++) {
                v.write((long) r.nextInt(BLOCKS) * BLOCK, new byte[BLOCK], 0, BLOCK);
            }
            v.flush();
            assertEquals(gen, store.lastCommit().generation(), "a flush of writes alone commits no group");
            assertTrue(store.intentRecordsWritten() >= 1);
            long logged = store.bytesAppended() - before - 256L * BLOCK;
            // 256 one-block write ops of 24 bytes and a record header; the trees they changed are
            // not written
            assertTrue(logged > 256 * 24 && logged < 256 * 24 + 1024, "the flush appended " + logged + " bytes");
            store.commit();
            assertEquals(gen + 1, store.lastCommit().generation(), "commit() writes the trees as one group");
        }
    }

    @Test
    void withTheIntentLogOffEveryFlushCommits() throws Exception {
        CrashableStorage disk = fresh();
        try (Store store = Store.open(ROOT, options(disk).withIntentLog(false))) {
            long gen = store.lastCommit().generation();
            store.volume("v0").write(0, new byte[BLOCK], 0, BLOCK);
            store.flush();
            assertEquals(gen + 1, store.lastCommit().generation());
            assertEquals(0, store.intentRecordsWritten());
        }
    }

    @Test
    void everyFlushedWriteSurvivesAPowerCutBeforeAnyCommit() throws Exception {
        long seed = Long.getLong("varve.seed", System.nanoTime());
        Random r = new Random(seed);
        for (int round = 0; round < 20; round++) {
            CrashableStorage disk = fresh();
            Model flushed = new Model();
            Model live = new Model();
            long[] gen = new long[1];
            CrashableStorage image = cutAfter(disk, store -> {
                gen[0] = store.lastCommit().generation();
                int flushes = 1 + r.nextInt(6);
                for (int f = 0; f < flushes; f++) {
                    randomOps(store, live, r, 1 + r.nextInt(60));
                    store.flush();
                    flushed.set(live);
                }
                randomOps(store, live, r, r.nextInt(30)); // never flushed: must not appear
            }, d -> d.crash(r));
            String context = "seed " + seed + " round " + round;
            try (Store after = Store.open(ROOT, options(image))) {
                assertEquals(gen[0] + 1, after.lastCommit().generation(),
                        context + ": opening commits the replayed intents at once");
                String bad = flushed.verify(after, context);
                assertEquals(null, bad);
            }
            // the replay's commit is durable: a second power cut with nothing written loses nothing
            try (Store again = Store.open(ROOT, options(image.crash(r)))) {
                assertEquals(null, flushed.verify(again, context + " after a second cut"));
            }
        }
    }

    @Test
    void aSmallFlushCarriesItsDataAndForcesTheMetaSegmentAlone() throws Exception {
        CrashableStorage disk = fresh();
        try (Store store = Store.open(ROOT, options(disk))) {
            Volume v = store.volume("v0");
            v.write(0, new byte[BLOCK], 0, BLOCK);
            store.commit(); // the data segment exists and is forced: what follows is a flush's own
            long gen = store.lastCommit().generation();
            byte[] d = pattern(BLOCK, 1);
            long forces = disk.operations(CrashableStorage.Op.FORCE);
            long before = store.bytesAppended();
            v.write(5L * BLOCK, d, 0, BLOCK);
            v.flush();
            assertEquals(1, disk.operations(CrashableStorage.Op.FORCE) - forces,
                    "a one-block flush forces one file: the meta segment, whose intent record carries the data");
            long logged = store.bytesAppended() - before;
            assertTrue(logged > BLOCK && logged < BLOCK + 256, "the flush appended " + logged + " bytes");
            assertEquals(gen, store.lastCommit().generation());

            // 128 KiB in one flush: over the inline limit, the data is forced where it lies
            byte[] big = pattern(32 * BLOCK, 2);
            forces = disk.operations(CrashableStorage.Op.FORCE);
            before = store.bytesAppended();
            v.write(64L * BLOCK, big, 0, big.length);
            v.flush();
            assertEquals(2, disk.operations(CrashableStorage.Op.FORCE) - forces,
                    "a large flush forces the data segment, then the meta segment");
            IllegalArgumentException neg = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> StoreOptions.defaults().withInlineFlushBytes(-1));
            assertTrue(neg.getMessage().contains("0 to 512 KiB, got -1"), neg.getMessage());
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> StoreOptions.defaults().withInlineFlushBytes(1 << 20));
            // the data of the small flush, still in its write-back window, reaches its segment now too
            long meta = store.bytesAppended() - before - big.length - BLOCK;
            assertTrue(meta > 0 && meta < 1024, "the large flush's record carries no data: " + meta + " bytes");
        }
    }

    @Test
    void nearItsSizeLimitAStoreForcesSmallFlushesWhereTheDataLies() throws Exception {
        CrashableStorage disk = fresh();
        // 16 segments of 1 MiB, 3 kept in reserve: writers are slowed from 11 in use
        try (Store store = Store.open(ROOT, options(disk).withMaxSizeBytes(16L << 20))) {
            Volume v = store.volume("v0");
            byte[] d = pattern(BLOCK, 3);
            v.write(0, d, 0, BLOCK);
            store.commit(); // the data segment exists: what follows is the flush's own
            long forces = disk.operations(CrashableStorage.Op.FORCE);
            v.write(2 * BLOCK, d, 0, BLOCK);
            v.flush();
            assertEquals(1, disk.operations(CrashableStorage.Op.FORCE) - forces, "far from the limit: inline");
            // 128 KiB flushes, over the inline limit: no background writeback races the count below
            byte[] chunk = pattern(32 * BLOCK, 4);
            for (int i = 0; store.info().segmentCount() < 11; i++) {
                v.write((long) (i % (BLOCKS / 32)) * chunk.length, chunk, 0, chunk.length);
                v.flush();
            }
            forces = disk.operations(CrashableStorage.Op.FORCE);
            v.write(BLOCK, d, 0, BLOCK);
            v.flush();
            assertEquals(2, disk.operations(CrashableStorage.Op.FORCE) - forces,
                    "near the limit the data segment is forced, and the record carries no copy");
        }
    }

    @Test
    void smallFlushesSurviveAPowerCutThatLosesEveryUnsyncedByte() throws Exception {
        long seed = Long.getLong("varve.seed", System.nanoTime());
        Random r = new Random(seed);
        CrashableStorage disk = fresh();
        Model m = new Model();
        Model flushed = new Model();
        CrashableStorage image = cutAfter(disk, store -> {
            // flushes of one to three blocks: each record carries its data, no data segment is
            // forced, and overwrites and trims between them are replayed in order
            for (int f = 0; f < 120; f++) {
                int v = r.nextInt(2);
                int first = r.nextInt(BLOCKS - 3);
                int count = 1 + r.nextInt(3);
                if (r.nextInt(8) == 0) {
                    store.volume("v" + v).trim((long) first * BLOCK, (long) count * BLOCK);
                    Arrays.fill(m.blocks[v], first, first + count, null);
                } else {
                    byte[] d = pattern(count * BLOCK, r.nextInt());
                    store.volume("v" + v).write((long) first * BLOCK, d, 0, d.length);
                    for (int b = 0; b < count; b++) {
                        m.blocks[v][first + b] = Arrays.copyOfRange(d, b * BLOCK, (b + 1) * BLOCK);
                    }
                }
                long forces = disk.operations(CrashableStorage.Op.FORCE);
                store.flush();
                assertEquals(1, disk.operations(CrashableStorage.Op.FORCE) - forces, "flush " + f + " forces one file");
            }
            assertTrue(store.intentRecordsWritten() >= 100, store.intentRecordsWritten() + " intent records");
            flushed.set(m);
            randomOps(store, m, r, 5); // never flushed
        }, CrashableStorage::crashLosingUnsynced);
        String context = "seed " + seed;
        CrashableStorage readOnlyImage = image.crashLosingUnsynced();
        long writes = readOnlyImage.operations(CrashableStorage.Op.WRITE);
        try (Store ro = Store.open(ROOT, options(readOnlyImage).withReadOnly(true))) {
            assertEquals(null, flushed.verify(ro, context + ", read-only: the data comes from the records"));
            // the replayed records' data lies back to back per stream: a few windows hold it all
            assertTrue(ro.log().unwrittenWindows() <= 8, ro.log().unwrittenWindows() + " windows");
        }
        assertEquals(writes, readOnlyImage.operations(CrashableStorage.Op.WRITE), "a read-only open writes nothing");
        try (Store after = Store.open(ROOT, options(image))) {
            assertEquals(null, flushed.verify(after, context));
        }
        // opening committed the replay, the restored data forced before it: a second cut loses nothing
        try (Store again = Store.open(ROOT, options(image.crashLosingUnsynced()))) {
            assertEquals(null, flushed.verify(again, context + " after a second cut"));
        }
    }

    @Test
    void aStoreOfTheFirstFormatIsMarkedCurrentBeforeAnIntentCanCarryData() throws Exception {
        CrashableStorage disk = fresh();
        Superblock sb = Superblock.readNewest(disk);
        try (dev.varve.engine.io.StorageFile f = disk.open(dev.varve.engine.format.SuperblockLayout.FILE_NAME, false)) {
            new Superblock(1, sb.sequence() + 1, sb.uuidHi(), sb.uuidLo(), sb.segmentSize(), sb.commitAddress(),
                    sb.commitLength(), sb.generation(), sb.maxSegments()).write(f);
        }
        assertEquals(1, Superblock.readNewest(disk).format());
        try (Store ro = Store.open(ROOT, options(disk).withReadOnly(true))) {
            assertTrue(ro.readOnly());
            assertEquals(1, Superblock.readNewest(disk).format(), "a read-only open changes nothing");
        }
        try (Store store = Store.open(ROOT, options(disk))) {
            assertTrue(!store.readOnly());
            assertEquals(dev.varve.engine.format.FormatVersion.CURRENT, Superblock.readNewest(disk).format(),
                    "opened read-write, before any write");
        }
    }

    private static byte[] pattern(int len, int seed) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void aFlushOfManyWritesSpansSeveralRecords() throws Exception {
        // 8 MiB segments: intents never leave the meta segment, and 1.3 MB of them fit
        CrashableStorage disk = fresh(8 << 20);
        Model m = new Model();
        CrashableStorage image = cutAfter(disk, store -> {
            // single-block writes to every other block, many times over: 48,000 ops of 24 bytes in
            // one flush, more than one intent record holds
            Random r = new Random(7);
            for (int i = 0; i < 48_000; i++) {
                int v = i & 1;
                int b = (r.nextInt(BLOCKS / 2)) * 2;
                byte[] d = new byte[BLOCK];
                r.nextBytes(d);
                store.volume("v" + v).write((long) b * BLOCK, d, 0, BLOCK);
                m.blocks[v][b] = d;
            }
            store.flush();
            assertTrue(store.intentRecordsWritten() >= 2, store.intentRecordsWritten() + " intent records");
        }, d -> d.crash(new Random(8)));
        try (Store after = Store.open(ROOT, options(image))) {
            assertEquals(null, m.verify(after, "after the cut"));
        }
    }

    @Test
    void aReadOnlyOpenReplaysInMemoryAndWritesNothing() throws Exception {
        CrashableStorage disk = fresh();
        Model m = new Model();
        CrashableStorage image = cutAfter(disk, store -> {
            randomOps(store, m, new Random(3), 200);
            store.flush();
        }, d -> d.crash(new Random(4)));
        long writes = image.operations(CrashableStorage.Op.WRITE);
        try (Store ro = Store.open(ROOT, options(image).withReadOnly(true))) {
            assertEquals(null, m.verify(ro, "read-only"));
        }
        assertEquals(writes, image.operations(CrashableStorage.Op.WRITE), "a read-only open writes nothing");
        try (Store rw = Store.open(ROOT, options(image))) {
            assertEquals(null, m.verify(rw, "read-write after the read-only open"));
        }
    }

    /**
     * A trim that only an intent record holds when the power goes is replayed as an unmap: a
     * diff from the snapshot before it must still show the trimmed blocks (the head's tree alone
     * does not say where data was).
     */
    @Test
    void aReplayedTrimIsAnUnmapToDiff() throws Exception {
        CrashableStorage disk = fresh();
        CrashableStorage image = cutAfter(disk, store -> {
            byte[] d = pattern(10 * BLOCK, 5);
            store.volume("v0").write(0, d, 0, d.length);
            store.snapshot("v0", "a", java.util.Map.of());
            long commits = store.lastCommit().generation();
            store.volume("v0").trim(2L * BLOCK, 3L * BLOCK);
            store.flush();
            assertEquals(commits, store.lastCommit().generation(), "the trim is in an intent record only");
        }, CrashableStorage::crashLosingUnsynced);
        try (Store after = Store.open(ROOT, options(image))) {
            assertEquals(List.of(new ByteRange(2L * BLOCK, 3L * BLOCK)), after.diff("v0@a", "v0"));
            after.snapshot("v0", "b", java.util.Map.of());
            assertEquals(List.of(new ByteRange(2L * BLOCK, 3L * BLOCK)), after.diff("v0@a", "v0@b"));
        }
    }

    @Test
    void aSnapshotAfterFlushedWritesHoldsThemAndTheIntentsBeforeItAreNotReplayed() throws Exception {
        CrashableStorage disk = fresh();
        Model m = new Model();
        Model atSnapshot = new Model();
        CrashableStorage image = cutAfter(disk, store -> {
            Random r = new Random(11);
            randomOps(store, m, r, 100);
            store.flush();
            store.snapshot("v0", "s", java.util.Map.of());
            atSnapshot.set(m);
            // reverted after the snapshot: an obsolete intent must never be replayed over it
            randomOps(store, m, r, 100);
            store.flush();
            store.revert("v0", "s", null);
            m.blocks[0] = atSnapshot.blocks[0].clone();
            store.volume("v0").write(0, new byte[BLOCK], 0, BLOCK);
            m.blocks[0][0] = new byte[BLOCK];
            store.flush();
        }, d -> d.crash(new Random(12)));
        try (Store after = Store.open(ROOT, options(image))) {
            assertEquals(null, m.verify(after, "after the cut"));
            byte[] snap = new byte[BLOCKS * BLOCK];
            after.snapshotDevice("v0", "s").read(0, snap, 0, snap.length);
            for (int b = 0; b < BLOCKS; b++) {
                byte[] want = atSnapshot.blocks[0][b] == null ? new byte[BLOCK] : atSnapshot.blocks[0][b];
                assertArrayEquals(want, Arrays.copyOfRange(snap, b * BLOCK, (b + 1) * BLOCK), "snapshot block " + b);
            }
        }
    }

    @Test
    void dirtyNodesNeverOutgrowTheirBoundWhileFlushesOnlyLogIntents(@TempDir Path tmp) throws Exception {
        // 24,576 one-block extents, every other block, fill about 60 leaves; once committed,
        // random overwrites copy a clean leaf each, and logged flushes write no tree: only the
        // dirty-node bound (twice the 1 MiB cache here, at a full leaf's heap per node) commits them
        StoreOptions o = StoreOptions.defaults().withCommitIntervalMillis(0).withDirtyBytesLimit(Long.MAX_VALUE)
                .withGcIntervalMillis(0).withNodeCacheBytes(1 << 20);
        try (Store store = Store.create(tmp.resolve("s"), o)) {
            int extents = 24_576;
            Volume v = store.createVolume("v", 2L * extents * BLOCK);
            byte[] b = new byte[BLOCK];
            for (int i = 0; i < extents; i++) {
                v.write(2L * i * BLOCK, b, 0, BLOCK);
            }
            store.commit();
            long gen = store.lastCommit().generation();
            Random r = new Random(9);
            long most = 0;
            for (int i = 1; i <= 5_000; i++) {
                v.write(2L * r.nextInt(extents) * BLOCK, b, 0, BLOCK);
                if (i % 256 == 0) {
                    v.flush();
                }
                most = Math.max(most, store.cache().dirtyNodes());
            }
            assertTrue(store.lastCommit().generation() > gen, "the dirty-node bound committed");
            // 2 MiB of full leaves, and the path the write that crossed it dirtied
            long bound = (2 << 20) / Store.DIRTY_NODE_BYTES;
            assertTrue(most <= bound + 8, "at most " + most + " dirty nodes, bound " + bound);
        }
    }

    @Test
    void aMalformedIntentPayloadIsNamedWithItsGroupsVolume() throws Exception {
        IntentOps ops = new IntentOps();
        ops.write(5, 1, 4096, new int[] {7});
        ops.trim(9, 3);
        byte[] payload = IntentOps.payloads(123, 0, java.util.List.of(new IntentOps.Taken(42, ops.bytes()))).get(0);
        org.agrona.concurrent.UnsafeBuffer b = new org.agrona.concurrent.UnsafeBuffer(payload);
        java.util.List<String> seen = new java.util.ArrayList<>();
        IntentOps.Replay record = new IntentOps.Replay() {
            @Override
            public void write(long volumeId, long lba, int blocks, long address, int[] crcs, byte[] data) {
                seen.add("write " + volumeId + " " + lba + "+" + blocks + " at " + address + " crc " + crcs[0]
                        + (data == null ? "" : " data " + data.length));
            }

            @Override
            public void trim(long volumeId, long lba, long count) {
                seen.add("trim " + volumeId + " " + lba + "+" + count);
            }
        };
        assertEquals(null, IntentOps.replay(b, 0, payload.length, record));
        assertEquals(java.util.List.of("write 42 5+1 at 4096 crc 7", "trim 42 9+3"), seen);

        b.putInt(dev.varve.engine.format.IntentLayout.GROUPS_OFFSET, -1);
        IntentOps.Malformed negative = IntentOps.replay(b, 0, payload.length, record);
        assertTrue(negative != null && negative.why().contains("-1 groups"), String.valueOf(negative));
        b.putInt(dev.varve.engine.format.IntentLayout.GROUPS_OFFSET, 1);
        // the first op claims 65 blocks: malformed, in the group of volume 42
        b.putInt(dev.varve.engine.format.IntentLayout.GROUPS_START + dev.varve.engine.format.IntentLayout.GROUP_HEADER_BYTES + 8, 65);
        IntentOps.Malformed op = IntentOps.replay(b, 0, payload.length, record);
        assertTrue(op != null && op.volume() == 42 && op.why().contains("65 blocks"), String.valueOf(op));
    }
}
