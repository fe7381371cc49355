package dev.varve.fsck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.IntentOps;
import dev.varve.engine.LogAddress;
import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.format.IntentLayout;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.io.CrashableStorage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * Stores with writes pending in intent records after the last commit, as a power cut leaves
 * them between two commits: fsck counts them as content (checks their data, counts it live),
 * finds damage in them and attributes it, and a repair keeps what verifies and says what it
 * drops.
 */
class IntentTest {
    private static final int BS = 4096;

    private static byte[] block(int seed) {
        byte[] b = new byte[BS];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static final byte[] A = block(11);
    private static final byte[] B = block(12);
    private static final byte[] C = block(13);
    private static final byte[] OLD = block(14);

    /** One write or trim an intent record holds, as the record says. */
    private record Op(Disk.Rec in, long volume, long lba, long blocks, long address) {
    }

    /** Every op of every intent record after the last commit, in log order. */
    private static List<Op> pending(CrashableStorage d) throws IOException {
        List<Op> out = new ArrayList<>();
        List<Disk.Rec> recs = Disk.records(d);
        int lastCommit = -1;
        for (int i = 0; i < recs.size(); i++) {
            if (recs.get(i).type() == RecordLayout.TYPE_COMMIT) {
                lastCommit = i;
            }
        }
        for (Disk.Rec r : recs.subList(lastCommit + 1, recs.size())) {
            if (r.type() != RecordLayout.TYPE_INTENT) {
                continue;
            }
            byte[] bytes = Arrays.copyOfRange(d.contents(r.file()), r.offset(), r.offset() + r.length());
            IntentOps.Malformed bad = IntentOps.replay(new UnsafeBuffer(bytes), RecordLayout.HEADER_BYTES,
                    r.length() - RecordLayout.HEADER_BYTES, new IntentOps.Replay() {
                        @Override
                        public void write(long volumeId, long lba, int blocks, long address, int[] crcs, byte[] data) {
                            out.add(new Op(r, volumeId, lba, blocks, address));
                        }

                        @Override
                        public void trim(long volumeId, long lba, long count) {
                            out.add(new Op(r, volumeId, lba, count, 0));
                        }
                    });
            assertEquals(null, bad);
        }
        return out;
    }

    private static List<Disk.Rec> intentRecords(List<Op> ops) {
        List<Disk.Rec> out = new ArrayList<>();
        for (Op op : ops) {
            if (!out.contains(op.in())) {
                out.add(op.in());
            }
        }
        return out;
    }

    /**
     * vm1 (1 MiB, 4 KiB blocks): OLD at blocks 5 and 6, committed. Then, each flushed with no
     * commit after it: A at block 0 and a trim of block 5; B at block 1; C at blocks 16-23. The
     * image is what a power cut leaves after the last flush: three intent records after the last
     * commit.
     */
    private static CrashableStorage pendingStore() throws IOException {
        return pendingStore(false);
    }

    /**
     * As above; {@code inline}: each flush carries its data in its intent record (as small
     * flushes do by default) and the power cut loses every byte not forced, the data of all
     * three flushes with it. Otherwise the data is forced where it lies, so tests can damage it there.
     */
    private static CrashableStorage pendingStore(boolean inline) throws IOException {
        CrashableStorage disk = new CrashableStorage(Disk.ROOT);
        Store store = Store.create(Disk.ROOT, inline ? Stores.options(disk) : Stores.options(disk).withInlineFlushBytes(0));
        try {
            Volume v = store.createVolume("vm1", 1 << 20, BS);
            v.write(5L * BS, OLD, 0, BS);
            v.write(6L * BS, OLD, 0, BS);
            store.commit();
            long gen = store.lastCommit().generation();
            v.write(0, A, 0, BS);
            v.trim(5L * BS, BS);
            v.flush();
            v.write(BS, B, 0, BS);
            v.flush();
            byte[] eight = new byte[8 * BS];
            for (int i = 0; i < 8; i++) {
                System.arraycopy(C, 0, eight, i * BS, BS);
            }
            v.write(16L * BS, eight, 0, eight.length);
            v.flush();
            assertTrue(store.intentRecordsWritten() >= 3, store.intentRecordsWritten() + " intent records");
            assertEquals(gen, store.lastCommit().generation(), "the flushes wrote intent records, not commits");
            // everything is flushed: the power cut keeps exactly what was forced
            CrashableStorage image = inline ? disk.crashLosingUnsynced() : disk.crash(new Random(5));
            disk.powerOff();
            return image;
        } finally {
            try {
                store.close();
            } catch (IOException afterPowerOff) {
                // the original store cannot write any more: the image is what is checked
            }
        }
    }

    private static byte[] read(CrashableStorage d, long block) throws IOException {
        try (Store s = Store.open(Disk.ROOT, Stores.options(d).withReadOnly(true))) {
            byte[] b = new byte[BS];
            s.device("vm1").read(block * BS, b, 0, BS);
            return b;
        }
    }

    @Test
    void pendingWritesAreContentAndCheckClean() throws IOException {
        CrashableStorage d = pendingStore();
        List<Op> ops = pending(d);
        assertEquals(3, intentRecords(ops).size(), ops.toString());
        assertEquals(4, ops.size(), ops.toString());
        Report r = Fsck.check(d, false);
        assertEquals(0, r.exitCode(), r.summary());
        // no errors, and no warning about the pending writes or their data: the one record no
        // tree reaches is the catalog leaf of the commit that created vm1, which the next replaced
        assertEquals(List.of("unreachable-records"), r.problems().stream().map(Problem::kind).toList(), r.summary());
        assertEquals(1, r.unreachableRecords(), r.summary());
        assertEquals(3, r.pendingIntents(), r.summary());
        assertEquals(4, r.pendingOps(), r.summary());
        assertTrue(r.summary().contains("3 intent records (4 writes and trims) pending"), r.summary());
        // the data they name is read, verified and live
        assertEquals(2 + 1 + 1 + 8, r.dataBlocks(), r.summary());
        for (Op op : ops) {
            if (op.address() != 0) {
                assertTrue(r.liveSegments().contains(LogAddress.segment(op.address())), r.liveSegments().toString());
            }
        }
        Report fast = Fsck.check(d, true);
        assertEquals(0, fast.exitCode(), fast.summary());
        assertEquals(0, fast.dataBlocks());
        assertEquals(0, Fsck.repair(d, false, false, null).exitCode(), "nothing to repair");

        assertArrayEquals(A, read(d, 0));
        assertArrayEquals(B, read(d, 1));
        assertArrayEquals(new byte[BS], read(d, 5), "trimmed after the commit");
        assertArrayEquals(OLD, read(d, 6));
        assertArrayEquals(C, read(d, 20));
        // opening read-write commits the replayed writes: the intent records become history
        try (Store s = Store.open(Disk.ROOT, Stores.options(d))) {
            assertEquals(0, s.intentRecordsWritten());
        }
        Report after = Fsck.check(d, false);
        assertEquals(0, after.exitCode(), after.summary());
        assertTrue(after.problems().stream().allMatch(x -> x.kind().equals("unreachable-records")), after.summary());
        assertEquals(0, after.pendingIntents());
        assertArrayEquals(C, read(d, 23));
    }

    @Test
    void inlinePendingWritesCheckCleanThoughTheDataSegmentLostTheirData() throws IOException {
        CrashableStorage d = pendingStore(true);
        List<Op> ops = pending(d);
        assertEquals(4, ops.size(), ops.toString());
        for (Op op : ops) {
            if (op.address() != 0) {
                String file = SegmentLayout.fileName(LogAddress.segment(op.address()));
                assertTrue(d.contents(file).length <= LogAddress.offset(op.address()),
                        "the cut lost the data segment's copy of " + op);
            }
        }
        Report r = Fsck.check(d, false);
        assertEquals(0, r.exitCode(), r.summary());
        assertEquals(List.of("unreachable-records"), r.problems().stream().map(Problem::kind).toList(), r.summary());
        assertEquals(4, r.pendingOps(), r.summary());
        // the committed blocks from their segment, the pending ones verified from their records
        assertEquals(2 + 1 + 1 + 8, r.dataBlocks(), r.summary());
        assertEquals(0, Fsck.repair(d, false, false, null).exitCode(), "nothing to repair");
        assertArrayEquals(A, read(d, 0));
        assertArrayEquals(B, read(d, 1));
        assertArrayEquals(new byte[BS], read(d, 5));
        assertArrayEquals(C, read(d, 20));
    }

    @Test
    void aRepairKeepsInlineWritesByCopyingTheirDataToANewSegment() throws IOException {
        CrashableStorage d = pendingStore(true);
        Disk.Rec second = intentRecords(pending(d)).get(1);
        d.flipBit(second.file(), (second.offset() + RecordLayout.HEADER_BYTES + 20) * 8L);
        java.util.Map<String, byte[]> before = new java.util.HashMap<>();
        for (String f : d.list()) {
            before.put(f, d.contents(f));
        }
        RepairResult rr = Fsck.repair(d, false, false, null);
        assertEquals(1, rr.exitCode(), rr.summary());
        assertTrue(rr.actions().stream().anyMatch(a -> a.contains("into the trees of vm1")), rr.summary());
        assertTrue(rr.after().clean(), rr.after().summary());
        for (var e : before.entrySet()) {
            if (!e.getKey().equals(dev.varve.engine.format.SuperblockLayout.FILE_NAME)) {
                assertArrayEquals(e.getValue(), d.contents(e.getKey()), e.getKey() + " changed: a repair only adds files");
            }
        }
        // the first flush is kept: its write from the new copy, its trim; the two after the damage are gone
        assertArrayEquals(A, read(d, 0));
        assertArrayEquals(new byte[BS], read(d, 5));
        assertArrayEquals(new byte[BS], read(d, 1));
        assertArrayEquals(new byte[BS], read(d, 16));
        assertArrayEquals(OLD, read(d, 6));
        assertEquals(0, Fsck.check(d, false).exitCode());
    }

    @Test
    void aBadBlockOfAPendingWriteIsFoundAttributedAndDroppedWithWhatFollows() throws IOException {
        CrashableStorage d = pendingStore();
        Op c = pending(d).get(3);
        assertEquals(16, c.lba());
        long bad = c.address() + BS; // block 17 of vm1
        String file = SegmentLayout.fileName(LogAddress.segment(bad));
        d.flipBit(file, (LogAddress.offset(bad) + 100) * 8L + 3);

        Report check = Fsck.check(d, false);
        assertEquals(4, check.exitCode(), check.summary());
        Problem p = check.problems().stream().filter(x -> x.kind().equals("data-checksum")).findFirst().orElseThrow();
        assertEquals(Problem.Severity.ERROR, p.severity());
        assertEquals(LogAddress.segment(bad), p.segment());
        assertEquals(LogAddress.offset(bad), p.offset());
        assertEquals(List.of(new Problem.Affected("vm1", 17L * BS, 18L * BS - 1)), p.ranges(), check.summary());
        assertEquals(1, check.errors(), check.summary());
        assertTrue(Fsck.check(d, true).clean(), "a fast check reads no data block");

        RepairResult rr = Fsck.repair(d, false, false, null);
        assertEquals(1, rr.exitCode(), rr.summary());
        assertEquals(rr.fromGeneration(), rr.toGeneration(), "the last commit is kept: " + rr.summary());
        assertEquals(1, rr.losses().size(), rr.summary());
        RepairResult.Loss loss = rr.losses().get(0);
        assertEquals("vm1", loss.name());
        assertTrue(loss.what().contains("bytes 65536-98303") && loss.what().contains("fails its checksum"), rr.summary());
        assertTrue(rr.actions().stream().anyMatch(a -> a.contains("into the trees of vm1")), rr.summary());
        assertTrue(rr.after().clean(), rr.after().summary());
        assertEquals(0, Fsck.check(d, false).exitCode());
        // the writes of the first two flushes are kept; the third is gone, and is not replayed
        assertArrayEquals(A, read(d, 0));
        assertArrayEquals(B, read(d, 1));
        assertArrayEquals(new byte[BS], read(d, 5));
        assertArrayEquals(new byte[BS], read(d, 16));
        assertArrayEquals(new byte[BS], read(d, 17));
        try (Store s = Store.open(Disk.ROOT, Stores.options(d))) {
            s.volume("vm1").write(30L * BS, C, 0, BS);
            s.flush();
        }
        assertEquals(0, Fsck.check(d, false).exitCode(), "the repaired store works on");
        assertEquals(0, Fsck.repair(d, false, false, null).exitCode(), "a second repair has nothing to do");
    }

    @Test
    void aDamagedIntentRecordLosesItsWritesAndThoseAfterIt() throws IOException {
        CrashableStorage d = pendingStore();
        List<Op> ops = pending(d);
        Disk.Rec second = intentRecords(ops).get(1);
        d.flipBit(second.file(), (second.offset() + RecordLayout.HEADER_BYTES + 20) * 8L);

        Report check = Fsck.check(d, false);
        assertEquals(4, check.exitCode(), check.summary());
        Problem p = check.problems().stream().filter(x -> x.severity() == Problem.Severity.ERROR).findFirst().orElseThrow();
        assertEquals("record-checksum", p.kind(), check.summary());
        assertEquals(SegmentLayout.parseFileName(second.file()), p.segment());
        assertEquals(second.offset(), p.offset());
        assertTrue(p.message().contains("intent"), p.message());
        // what opening loses: the damaged record, and the third flush's writes after it
        assertTrue(p.ranges().contains(new Problem.Affected("vm1", 16L * BS, 24L * BS - 1)), check.summary());
        assertEquals(1, check.errors(), check.summary());
        assertEquals(1, check.pendingIntents(), "opening replays the records before the damage: " + check.summary());

        RepairResult rr = Fsck.repair(d, false, false, null);
        assertEquals(1, rr.exitCode(), rr.summary());
        assertTrue(rr.losses().stream().anyMatch(l -> l.what().contains("is damaged")), rr.summary());
        assertTrue(rr.losses().stream().anyMatch(l -> l.name().equals("vm1") && l.what().contains("bytes 65536-98303")),
                rr.summary());
        assertTrue(rr.after().clean(), rr.after().summary());
        assertTrue(rr.after().problems().stream().anyMatch(x -> x.message().contains("accepted as damaged history")),
                rr.after().summary());
        assertEquals(0, Fsck.check(d, false).exitCode());
        assertArrayEquals(A, read(d, 0));
        assertArrayEquals(new byte[BS], read(d, 1));
        assertArrayEquals(new byte[BS], read(d, 16));
        assertArrayEquals(OLD, read(d, 6));
    }

    @Test
    void aDamagedLastIntentRecordIsAFlushThePowerCutInterrupted() throws IOException {
        // nothing follows the last record: a torn write of a flush that never returned looks the same
        CrashableStorage d = pendingStore();
        Disk.Rec third = intentRecords(pending(d)).get(2);
        d.flipBit(third.file(), (third.offset() + RecordLayout.HEADER_BYTES + 30) * 8L);
        Report check = Fsck.check(d, false);
        assertEquals(0, check.exitCode(), check.summary());
        Problem p = check.problems().stream().filter(x -> x.kind().equals("record-checksum")).findFirst().orElseThrow();
        assertEquals(Problem.Severity.WARNING, p.severity());
        assertEquals(third.offset(), p.offset());
        assertTrue(p.message().contains("interrupted"), p.message());
        assertEquals(2, check.pendingIntents(), check.summary());
        assertArrayEquals(B, read(d, 1));
        assertArrayEquals(new byte[BS], read(d, 16));
    }

    @Test
    void committedDataAPendingWriteReplacesIsNotWhatOpeningShows() throws IOException {
        CrashableStorage d = pendingStore();
        // block 5 of vm1 held OLD in the commit; a pending trim replaces it
        Disk.Rec intent = intentRecords(pending(d)).get(0);
        String data = Disk.segments(d, SegmentLayout.KIND_DATA).get(0);
        long old5 = SegmentLayout.HEADER_BYTES; // the first block written, at block 5
        d.flipBit(data, (old5 + 7) * 8L);
        Report check = Fsck.check(d, false);
        assertEquals(0, check.exitCode(), check.summary());
        assertArrayEquals(new byte[BS], read(d, 5));
        assertTrue(intent.offset() > 0);

        // block 6 is not replaced: bad committed data there is damage, and going back loses the pending writes
        d.flipBit(data, (old5 + 7) * 8L);
        d.flipBit(data, (old5 + BS + 7) * 8L);
        check = Fsck.check(d, false);
        Problem p = check.problems().stream().filter(x -> x.kind().equals("data-checksum")).findFirst().orElseThrow();
        assertEquals(List.of(new Problem.Affected("vm1", 6L * BS, 7L * BS - 1)), p.ranges(), check.summary());
        RepairResult rr = Fsck.repair(d, false, false, null);
        assertEquals(1, rr.exitCode(), rr.summary());
        assertTrue(rr.toGeneration() < rr.fromGeneration(), rr.summary());
        assertTrue(rr.losses().stream().anyMatch(l -> l.name().equals("vm1") && l.what().contains("no commit held yet")
                && l.what().contains("goes back")), rr.summary());
        assertEquals(0, Fsck.check(d, false).exitCode());
        assertArrayEquals(new byte[BS], read(d, 0), "the pending writes are not replayed");
    }

    @Test
    void salvageKeepsTheWritesOfVolumesThatVerify() throws IOException {
        CrashableStorage disk = new CrashableStorage(Disk.ROOT);
        Store store = Store.create(Disk.ROOT, Stores.options(disk));
        CrashableStorage image;
        try {
            Volume v1 = store.createVolume("vm1", 1 << 20, BS);
            Volume v2 = store.createVolume("vm2", 1 << 20, BS);
            v1.write(0, OLD, 0, BS);
            store.snapshot("vm1", "s1", Map.of());
            v1.write(BS, OLD, 0, BS); // committed after the snapshot: damaged below
            store.commit();
            v1.write(2L * BS, A, 0, BS);
            v2.write(0, B, 0, BS);
            store.flush();
            image = disk.crash(new Random(9));
            disk.powerOff();
        } finally {
            try {
                store.close();
            } catch (IOException afterPowerOff) {
                // as above
            }
        }
        String data = Disk.segments(image, SegmentLayout.KIND_DATA).get(0);
        image.flipBit(data, (SegmentLayout.HEADER_BYTES + BS + 9) * 8L); // vm1 block 1
        RepairResult rr = Fsck.repair(image, false, true, null);
        assertEquals(1, rr.exitCode(), rr.summary());
        assertTrue(rr.losses().stream().anyMatch(l -> l.name().equals("vm1") && l.what().contains("goes back to snapshot")),
                rr.summary());
        assertTrue(rr.losses().stream().anyMatch(l -> l.name().equals("vm1") && l.what().contains("no commit held yet")
                && l.what().contains("go with its contents")), rr.summary());
        assertFalse(rr.losses().stream().anyMatch(l -> l.name().equals("vm2")), rr.summary());
        assertEquals(0, Fsck.check(image, false).exitCode());
        try (Store s = Store.open(Disk.ROOT, Stores.options(image).withReadOnly(true))) {
            byte[] b = new byte[BS];
            s.device("vm2").read(0, b, 0, BS);
            assertArrayEquals(B, b, "vm2's pending write is kept");
            s.device("vm1").read(2L * BS, b, 0, BS);
            assertArrayEquals(new byte[BS], b, "vm1 went back to its snapshot");
            s.device("vm1").read(0, b, 0, BS);
            assertArrayEquals(OLD, b);
        }
    }

    /** Rewrites bytes of a record's payload and its checksum: a record that verifies but says something else. */
    private static void rewrite(CrashableStorage d, Disk.Rec r, int payloadOffset, byte[] bytes) throws IOException {
        byte[] rec = Arrays.copyOfRange(d.contents(r.file()), r.offset(), r.offset() + r.length());
        System.arraycopy(bytes, 0, rec, RecordLayout.HEADER_BYTES + payloadOffset, bytes.length);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(rec).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(RecordLayout.CRC_OFFSET, 0);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(rec);
        b.putInt(RecordLayout.CRC_OFFSET, (int) crc.getValue());
        Disk.write(d, r.file(), r.offset(), rec, false);
    }

    private static byte[] u64(long v) {
        return java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    private static byte[] u32(int v) {
        return java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    @Test
    void anIntentRecordThatVerifiesButNamesWhatIsNotThereStopsTheStoreFromOpening() throws IOException {
        // payload (IntentLayout): prev u64 | sequence u32 | groups u32 | volume id u64 | ops bytes
        // u32 | lba u64 | blocks u32 | ...
        String[] kinds = {"intent-volume", "intent-range", "intent-record"};
        int group = IntentLayout.GROUPS_START;
        for (String kind : kinds) {
            CrashableStorage d = pendingStore();
            List<Disk.Rec> records = intentRecords(pending(d));
            Disk.Rec second = records.get(1);
            switch (kind) {
                case "intent-volume" -> rewrite(d, second, group, u64(4242));
                case "intent-range" -> rewrite(d, second, group + IntentLayout.GROUP_HEADER_BYTES, u64(1L << 40));
                default -> rewrite(d, second, IntentLayout.GROUPS_OFFSET, u32(7));
            }
            Report check = Fsck.check(d, false);
            assertEquals(4, check.exitCode(), kind + "\n" + check.summary());
            Problem p = check.problems().stream().filter(x -> x.kind().equals(kind)).findFirst().orElseThrow(
                    () -> new AssertionError(kind + "\n" + check.summary()));
            assertEquals(Problem.Severity.ERROR, p.severity());
            assertEquals(SegmentLayout.parseFileName(second.file()), p.segment());
            assertEquals(second.offset(), p.offset());
            assertTrue(p.affected().contains(kind.equals("intent-volume") ? "volume id 4242" : "vm1"), p.toString());
            assertTrue(p.message().contains("does not open read-write"), p.message());
            try (Store s = Store.open(Disk.ROOT, Stores.options(d))) {
                throw new AssertionError(kind + ": the engine opened read-write a store whose intent record it cannot replay");
            } catch (dev.varve.engine.CorruptionException expected) {
                // as fsck said
            }
            long writesBefore = d.operations(CrashableStorage.Op.WRITE);
            try (Store s = Store.open(Disk.ROOT, Stores.options(d).withReadOnly(true))) {
                // read-only, it shows what the records before the bad one leave, and says so
                assertTrue(s.openWarning() != null && s.openWarning().contains("1 of the " + records.size() + " intent records"),
                        kind + ": " + s.openWarning());
                byte[] b = new byte[BS];
                s.device("vm1").read(0, b, 0, BS);
                assertArrayEquals(A, b, kind + ": the first flush is shown");
                s.device("vm1").read(BS, b, 0, BS);
                assertArrayEquals(new byte[BS], b, kind + ": the second flush, whose record is bad, is not");
                s.device("vm1").read(16L * BS, b, 0, BS);
                assertArrayEquals(new byte[BS], b, kind + ": the third flush is not");
            }
            assertEquals(writesBefore, d.operations(CrashableStorage.Op.WRITE), kind + ": a read-only open writes nothing");

            RepairResult rr = Fsck.repair(d, false, false, null);
            assertEquals(1, rr.exitCode(), kind + "\n" + rr.summary());
            // the third flush's writes are lost with the second's
            assertTrue(rr.losses().stream().anyMatch(l -> l.name().equals("vm1") && l.what().contains("65536-98303")),
                    kind + "\n" + rr.summary());
            assertTrue(rr.after().clean(), kind + "\n" + rr.after().summary());
            assertArrayEquals(A, read(d, 0), kind + ": the first flush is kept");
            assertArrayEquals(new byte[BS], read(d, 16), kind + ": the third flush is dropped with the second");
        }
    }

    // ------------------------------------------------------------------ random damage to pending writes

    private static final int VOL_BLOCKS = 64;

    /** Each volume's content after each flush: states.get(k)[v], k = 0 for the last commit. */
    private record History(CrashableStorage image, List<byte[][]> states) {
    }

    private static History randomPending(Random r) throws IOException {
        return randomPending(r, false);
    }

    /**
     * Two volumes, a commit, then flushes of random writes and trims, and the image a power cut
     * leaves after the last flush; with {@code tornLast} the last flush's fsync fails and the
     * cut keeps a random part of what it wrote (its state is in the history: it may have
     * reached the disk whole).
     */
    private static History randomPending(Random r, boolean tornLast) throws IOException {
        CrashableStorage disk = new CrashableStorage(Disk.ROOT);
        // data in the data segments, where damage to it can be placed (inline writes carry theirs)
        Store store = Store.create(Disk.ROOT, Stores.options(disk).withGcIntervalMillis(0).withInlineFlushBytes(0));
        List<byte[][]> states = new ArrayList<>();
        byte[][] model = {new byte[VOL_BLOCKS * BS], new byte[VOL_BLOCKS * BS]};
        try {
            Volume[] v = {store.createVolume("v0", VOL_BLOCKS * BS, BS), store.createVolume("v1", VOL_BLOCKS * BS, BS)};
            int flushes = 2 + r.nextInt(5);
            for (int f = 0; f <= flushes; f++) {
                int n = 1 + r.nextInt(4);
                for (int i = 0; i < n; i++) {
                    int vol = r.nextInt(2);
                    int first = r.nextInt(VOL_BLOCKS - 3);
                    int count = 1 + r.nextInt(3);
                    if (r.nextInt(5) == 0) {
                        v[vol].trim((long) first * BS, (long) count * BS);
                        Arrays.fill(model[vol], first * BS, (first + count) * BS, (byte) 0);
                    } else {
                        byte[] b = new byte[count * BS];
                        r.nextBytes(b);
                        v[vol].write((long) first * BS, b, 0, b.length);
                        System.arraycopy(b, 0, model[vol], first * BS, b.length);
                    }
                }
                if (f == 0) {
                    store.commit(); // the state the pending writes build on
                } else if (f == flushes && tornLast) {
                    disk.failAt(CrashableStorage.Op.FORCE, 1 + r.nextInt(2), true, false);
                    try {
                        store.flush();
                    } catch (IOException expected) {
                        // the power went during the flush: it never returned
                    }
                } else {
                    store.flush();
                }
                states.add(new byte[][] {model[0].clone(), model[1].clone()});
            }
            CrashableStorage image = disk.crash(r);
            disk.powerOff();
            return new History(image, states);
        } finally {
            try {
                store.close();
            } catch (IOException afterPowerOff) {
                // as above
            }
        }
    }

    /** For each volume, the flush whose state it now holds (-1: none). */
    private static int[] stateOf(CrashableStorage d, History h) throws IOException {
        int[] at = {-1, -1};
        try (Store s = Store.open(Disk.ROOT, Stores.options(d).withReadOnly(true))) {
            for (int vol = 0; vol < 2; vol++) {
                byte[] all = new byte[VOL_BLOCKS * BS];
                s.device("v" + vol).read(0, all, 0, all.length);
                for (int k = h.states().size() - 1; k >= 0 && at[vol] < 0; k--) {
                    if (Arrays.equals(all, h.states().get(k)[vol])) {
                        at[vol] = k;
                    }
                }
            }
        }
        return at;
    }

    @Test
    void aFlushThePowerCutInterruptedIsNoError() throws IOException {
        long seed = Long.getLong("varve.seed", 20261128L);
        System.out.println("IntentTest torn flushes: seed " + seed + " (-Dvarve.seed=...)");
        Random r = new Random(seed);
        int warned = 0;
        for (int n = 0; n < 200; n++) {
            History h = randomPending(r, true);
            String context = "seed " + seed + " case " + n;
            Report check = Fsck.check(h.image(), false);
            assertEquals(0, check.exitCode(), context + "\n" + check.summary());
            warned += check.problems().stream().anyMatch(p -> !p.kind().equals("unreachable-records")) ? 1 : 0;
            int[] at = stateOf(h.image(), h);
            assertTrue(at[0] >= h.states().size() - 2 && at[1] >= h.states().size() - 2, context
                    + ": every flush that returned is there: " + Arrays.toString(at));
        }
        System.out.println("IntentTest torn flushes: 200 cases, " + warned + " with a torn flush reported as a warning");
    }

    @Test
    void randomDamageToPendingWritesIsFoundAndRepairKeepsAPrefixOfEachVolumesFlushes() throws IOException {
        long seed = Long.getLong("varve.seed", 20261127L);
        System.out.println("IntentTest random pending damage: seed " + seed + " (-Dvarve.seed=...)");
        Random r = new Random(seed);
        int errors = 0;
        int repairs = 0;
        for (int n = 0; n < 160; n++) {
            History h = randomPending(r);
            CrashableStorage d = h.image();
            int last = h.states().size() - 1;
            String context = "seed " + seed + " case " + n;
            List<Op> ops = pending(d);
            assertTrue(!ops.isEmpty(), context + ": writes are pending");
            Report clean = Fsck.check(d, false);
            assertEquals(0, clean.exitCode(), context + "\n" + clean.summary());
            assertArrayEquals(new int[] {last, last}, stateOf(d, h), context + ": opening replays every flush");

            int kind = n % 4;
            String what;
            boolean mustFind = false;
            Op op = ops.get(r.nextInt(ops.size()));
            List<Disk.Rec> recs = intentRecords(ops);
            Disk.Rec first = recs.get(0);
            if (kind == 0) {
                Disk.Rec x = recs.get(r.nextInt(recs.size()));
                long bit = x.offset() * 8L + r.nextInt(x.length() * 8);
                d.flipBit(x.file(), bit);
                what = "bit " + (bit - x.offset() * 8L) + " of the intent record at " + x.file() + ":" + x.offset();
                // a later flush's record follows it: a flush that returned wrote it
                mustFind = x != recs.get(recs.size() - 1);
            } else if (kind == 1 && op.address() != 0) {
                long block = op.address() + (long) BS * r.nextInt((int) op.blocks());
                String file = SegmentLayout.fileName(LogAddress.segment(block));
                d.flipBit(file, LogAddress.offset(block) * 8L + r.nextInt(BS * 8));
                Report check = Fsck.check(d, false);
                what = "a bit of the data block at " + file + ":" + LogAddress.offset(block);
                assertTrue(check.problems().stream().anyMatch(p -> p.severity() == Problem.Severity.ERROR
                        && p.kind().equals("data-checksum") && p.offset() == LogAddress.offset(block)),
                        context + ": " + what + "\n" + check.summary());
            } else if (kind == 2) {
                long size = Disk.size(d, first.file());
                long at = first.offset() + (long) (r.nextDouble() * (size - first.offset()));
                Disk.zero(d, first.file(), at, (int) Math.min(512, size - at));
                what = "512 bytes of " + first.file() + " zeroed at " + at;
            } else {
                long size = Disk.size(d, first.file());
                long at = first.offset() + (long) (r.nextDouble() * (size - first.offset()));
                Disk.truncate(d, first.file(), at);
                what = first.file() + " truncated to " + at;
            }
            context += ": " + what;
            Report check = Fsck.check(d, false);
            assertFalse(check.aborted(), context + "\n" + check.summary());
            assertTrue(!mustFind || !check.clean(), context + ": an acknowledged flush is lost\n" + check.summary());
            if (check.clean()) {
                int[] at = stateOf(d, h);
                assertTrue(at[0] >= 0 && at[1] >= 0, context + ": a clean store holds a state each volume had: "
                        + Arrays.toString(at) + " " + recs + "\n" + check.summary());
                continue;
            }
            errors++;
            RepairResult rr = Fsck.repair(d, false, n % 8 >= 4, null);
            assertEquals(1, rr.exitCode(), context + "\n" + check.summary() + rr.summary() + rr.after().summary());
            assertEquals(0, Fsck.check(d, false).exitCode(), context);
            int[] at = stateOf(d, h);
            assertTrue(at[0] >= 0 && at[1] >= 0, context + ": each volume holds the state of one of its flushes: "
                    + Arrays.toString(at) + "\n" + rr.summary());
            if (at[0] < last || at[1] < last) {
                assertFalse(rr.losses().isEmpty(), context + ": what is lost is said\n" + rr.summary());
            }
            repairs++;
        }
        System.out.println("IntentTest random pending damage: 160 cases, " + errors + " errors found, " + repairs
                + " repaired");
        assertTrue(errors >= 40, errors + " cases with errors");
    }
}
