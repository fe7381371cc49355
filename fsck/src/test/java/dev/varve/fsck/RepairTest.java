package dev.varve.fsck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.Store;
import dev.varve.engine.StoreLockedException;
import dev.varve.engine.Volume;
import dev.varve.engine.catalog.Superblock;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.format.SuperblockLayout;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.io.StorageFile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** {@link Fsck#repair}: what it writes, what it keeps, what it says it lost, and that the store works on. */
class RepairTest {
    private static final byte[] A = bytes(1);
    private static final byte[] B = bytes(2);

    private static byte[] bytes(int seed) {
        byte[] b = new byte[4096];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** vm1: A at block 0, snapshot s1, then B at block 5; the data segment holds A then B. */
    private static CrashableStorage small() throws IOException {
        CrashableStorage d = new CrashableStorage(Disk.ROOT);
        try (Store s = Store.create(Disk.ROOT, Stores.options(d))) {
            Volume v = s.createVolume("vm1", 1 << 20);
            v.write(0, A, 0, A.length);
            s.snapshot("vm1", "s1", Map.of("note", "before B"));
            v.write(5 * 4096, B, 0, B.length);
        }
        return d;
    }

    private static String firstData(CrashableStorage d) {
        return Disk.segments(d, SegmentLayout.KIND_DATA).get(0);
    }

    private static byte[] read(CrashableStorage d, String device, long offset) throws IOException {
        try (Store s = Store.open(Disk.ROOT, Stores.options(d).withReadOnly(true))) {
            byte[] b = new byte[4096];
            s.device(device).read(offset, b, 0, b.length);
            return b;
        }
    }

    private static Map<String, byte[]> files(CrashableStorage d) {
        Map<String, byte[]> m = new TreeMap<>();
        for (String n : d.list()) {
            m.put(n, d.contents(n));
        }
        return m;
    }

    @Test
    void aCleanStoreIsLeftAlone() throws IOException {
        CrashableStorage d = small();
        Map<String, byte[]> before = files(d);
        RepairResult r = Fsck.repair(d, false, false, null);
        assertEquals(0, r.exitCode());
        assertTrue(!r.performed() && r.summary().contains("nothing to repair"), r.summary());
        assertEquals(before.keySet(), files(d).keySet());
        before.forEach((k, v) -> assertArrayEquals(v, d.contents(k), k));
    }

    @Test
    void anOpenStoreIsRefused() throws IOException {
        CrashableStorage d = small();
        try (Store open = Store.open(Disk.ROOT, Stores.options(d))) {
            assertThrows(StoreLockedException.class, () -> Fsck.repair(d, false, false, null));
        }
    }

    @Test
    void damagedDataGoesBackToBeforeItWasWritten() throws IOException {
        CrashableStorage d = small();
        d.flipBit(firstData(d), (SegmentLayout.HEADER_BYTES + 4096 + 10) * 8L);
        Report check = Fsck.check(d, false);
        Problem p = check.problems().stream().filter(x -> x.kind().equals("data-checksum")).findFirst().orElseThrow();
        assertEquals(List.of(new Problem.Affected("vm1", 5 * 4096, 6 * 4096 - 1)), p.ranges(), check.summary());

        RepairResult r = Fsck.repair(d, false, false, null);
        assertEquals(1, r.exitCode(), r.summary());
        assertTrue(r.toGeneration() < r.fromGeneration() && r.newGeneration() > r.fromGeneration(), r.summary());
        assertTrue(r.losses().stream().anyMatch(l -> l.name().equals("vm1") && l.what().contains("goes back")), r.summary());
        assertTrue(r.after().clean(), r.after().summary());
        // the snapshot was taken before B was written: it is still there, with its properties
        try (Store s = Store.open(Disk.ROOT, Stores.options(d))) {
            assertEquals("before B", s.properties("vm1@s1").get("note"));
            byte[] b = new byte[4096];
            s.device("vm1").read(0, b, 0, b.length);
            assertArrayEquals(A, b);
            s.device("vm1").read(5 * 4096, b, 0, b.length);
            assertArrayEquals(new byte[4096], b);
            // and the store works on from the commit the repair wrote
            s.volume("vm1").write(7 * 4096, B, 0, B.length);
            s.snapshot("vm1", "s2", Map.of());
        }
        assertEquals(0, Fsck.check(d, false).exitCode(), Fsck.check(d, false).summary());
        assertEquals(0, Fsck.repair(d, false, false, null).exitCode(), "a second repair has nothing to do");
    }

    /**
     * vm1: A at block 0 and snapshot s1 (generation g1); B at blocks 5-6, committed; C at block 9,
     * committed. The data segment holds A, B, C in that order.
     */
    private static CrashableStorage threeCommits(long[] g1) throws IOException {
        CrashableStorage d = new CrashableStorage(Disk.ROOT);
        try (Store s = Store.create(Disk.ROOT, Stores.options(d))) {
            Volume v = s.createVolume("vm1", 1 << 20);
            v.write(0, A, 0, A.length);
            s.snapshot("vm1", "s1", Map.of());
            g1[0] = s.lastCommit().generation();
            byte[] b2 = new byte[8192];
            System.arraycopy(B, 0, b2, 0, 4096);
            System.arraycopy(A, 0, b2, 4096, 4096);
            v.write(5 * 4096, b2, 0, b2.length);
            s.commit();
            v.write(9 * 4096, B, 0, B.length);
            s.commit();
        }
        return d;
    }

    @Test
    void goingBackListsTheBytesEachVolumeLoses() throws IOException {
        long[] g1 = new long[1];
        CrashableStorage d = threeCommits(g1);
        // B's first block: every commit since B was written reaches it, so the store goes back to g1
        d.flipBit(firstData(d), (SegmentLayout.HEADER_BYTES + 4096 + 10) * 8L);
        RepairResult r = Fsck.repair(d, false, false, null);
        assertEquals(1, r.exitCode(), r.summary());
        assertEquals(g1[0], r.toGeneration(), r.summary());
        List<RepairResult.Loss> vm1 = r.losses().stream().filter(l -> l.name().equals("vm1")).toList();
        assertEquals(1, vm1.size(), r.summary());
        assertEquals(List.of(new Problem.Affected("vm1", 5 * 4096, 7 * 4096 - 1),
                new Problem.Affected("vm1", 9 * 4096, 10 * 4096 - 1)), vm1.get(0).ranges(), r.summary());
        String line = "lost: vm1: goes back to generation " + g1[0] + ": bytes 20480-28671, 36864-40959 (12288 bytes in 2"
                + " ranges) differ from its current contents";
        assertTrue(r.summary().contains(line), r.summary());
        // the snapshot is the same in both commits: nothing of it is lost
        assertTrue(r.losses().stream().noneMatch(l -> l.name().equals("vm1@s1")), r.summary());
    }

    @Test
    void goingBackFromATreeThatCannotBeReadSaysChangesAreLost() throws IOException {
        long[] g1 = new long[1];
        CrashableStorage d = threeCommits(g1);
        Disk.Rec leaf = null;
        for (Disk.Rec x : Disk.records(d)) {
            if (x.typeName().equals("extent-leaf")) {
                leaf = x; // the last one written: vm1's current root
            }
        }
        d.flipBit(leaf.file(), leaf.offset() * 8L + 300);
        RepairResult r = Fsck.repair(d, false, false, null);
        assertEquals(1, r.exitCode(), r.summary());
        RepairResult.Loss l = r.losses().stream().filter(x -> x.name().equals("vm1")).findFirst().orElseThrow();
        assertEquals("goes back to generation " + r.toGeneration() + ": changes made to it since generation "
                + r.toGeneration() + " are lost (its current tree cannot be read whole, so which bytes is not known)",
                l.what());
        assertTrue(l.ranges().isEmpty(), l.toString());
    }

    @Test
    void salvageTakesAVolumeBackToItsSnapshot() throws IOException {
        CrashableStorage d = small();
        d.flipBit(firstData(d), (SegmentLayout.HEADER_BYTES + 4096 + 10) * 8L);
        RepairResult r = Fsck.repair(d, false, true, null);
        assertEquals(1, r.exitCode(), r.summary());
        assertEquals(r.fromGeneration(), r.toGeneration(), "salvage keeps the newest commit");
        assertEquals(1, r.losses().size(), r.summary());
        assertTrue(r.losses().get(0).toString().contains("vm1: its current contents do not verify (bytes 20480-24575); "
                + "it goes back to snapshot vm1@s1"), r.summary());
        assertArrayEquals(A, read(d, "vm1", 0));
        assertArrayEquals(new byte[4096], read(d, "vm1", 5 * 4096));
        assertArrayEquals(A, read(d, "vm1@s1", 0));
    }

    @Test
    void aDamagedSegmentHeaderIsRebuiltAndNothingIsLost() throws IOException {
        CrashableStorage d = small();
        for (String seg : List.of(firstData(d), Disk.segments(d, SegmentLayout.KIND_META).get(0))) {
            Disk.zero(d, seg, 0, SegmentLayout.HEADER_BYTES);
        }
        Report check = Fsck.check(d, false);
        assertTrue(check.problems().stream().filter(p -> p.kind().equals("segment-header")).count() == 2, check.summary());
        RepairResult r = Fsck.repair(d, false, false, null);
        assertEquals(1, r.exitCode(), r.summary());
        assertEquals(2, r.actions().stream().filter(a -> a.startsWith("rebuilt the header")).count(), r.summary());
        assertTrue(r.actions().stream().anyMatch(a -> a.contains("(data,")), r.summary());
        assertTrue(r.actions().stream().anyMatch(a -> a.contains("(meta,")), r.summary());
        assertTrue(r.losses().isEmpty(), r.summary());
        assertArrayEquals(B, read(d, "vm1", 5 * 4096));
    }

    @Test
    void wholeCommitsAfterDamageAreRecovered() throws IOException {
        // a power cut after these flushes leaves the superblock naming an early commit; every
        // flush commits (with the intent log a flush of writes alone would commit nothing)
        CrashableStorage live = new CrashableStorage(Disk.ROOT);
        Store s = Store.create(Disk.ROOT, Stores.options(live).withIntentLog(false));
        Volume v = s.createVolume("vm1", 1 << 20);
        for (int i = 0; i < 20; i++) {
            v.write(4096L * i, i % 2 == 0 ? A : B, 0, 4096);
            s.flush();
        }
        CrashableStorage d = live.crash(new Random(1));
        s.close();
        Superblock sb;
        try (StorageFile f = d.open(SuperblockLayout.FILE_NAME, false)) {
            Superblock[] slots = Superblock.readSlots(f);
            sb = slots[0].sequence() > slots[1].sequence() ? slots[0] : slots[1];
        }
        // damage a data summary a few groups after the superblock's commit: recovery stops there
        List<Disk.Rec> after = new ArrayList<>();
        for (Disk.Rec x : Disk.records(d)) {
            if (x.typeName().equals("data-summary") && x.generation() > sb.generation() + 3) {
                after.add(x);
            }
        }
        Disk.Rec victim = after.get(0);
        d.flipBit(victim.file(), victim.offset() * 8L + 300);
        Report check = Fsck.check(d, false);
        assertTrue(check.problems().stream().anyMatch(p -> p.kind().equals("log-break")), check.summary());
        assertTrue(check.problems().stream().anyMatch(p -> p.kind().equals("record-checksum")
                && p.severity() == Problem.Severity.ERROR && p.offset() == victim.offset()), check.summary());

        RepairResult r = Fsck.repair(d, false, false, null);
        assertEquals(1, r.exitCode(), r.summary() + r.after().summary());
        assertTrue(r.toGeneration() > r.fromGeneration(), r.summary());
        assertTrue(r.actions().stream().anyMatch(a -> a.startsWith("recovered the whole commits")), r.summary());
        for (int i = 0; i < 20; i++) {
            assertArrayEquals(i % 2 == 0 ? A : B, read(d, "vm1", 4096L * i), "block " + i + " of the last commit");
        }
    }

    @Test
    void aDamagedLeafAffectsOnlyTheKeyRangeItCovers() throws IOException {
        CrashableStorage d = new CrashableStorage(Disk.ROOT);
        try (Store s = Store.create(Disk.ROOT, Stores.options(d))) {
            Volume v = s.createVolume("vm1", 64L << 20);
            for (int i = 0; i < 3_000; i++) {
                v.write(4096L * 3 * i, A, 0, 4096); // 3,000 separate extents: several leaves under one root
            }
        }
        Disk.Rec leaf = Disk.records(d).stream().filter(x -> x.typeName().equals("extent-leaf")).findFirst().orElseThrow();
        d.flipBit(leaf.file(), leaf.offset() * 8L + 500);
        Report check = Fsck.check(d, false);
        Problem p = check.problems().stream().filter(x -> x.kind().equals("tree-node")).findFirst().orElseThrow();
        assertEquals(SegmentLayout.parseFileName(leaf.file()), p.segment());
        assertEquals(leaf.offset(), p.offset());
        assertEquals(1, p.ranges().size(), check.summary());
        Problem.Affected a = p.ranges().get(0);
        assertEquals("vm1", a.name());
        assertTrue(a.toByte() - a.fromByte() + 1 < (64L << 20) && a.toByte() - a.fromByte() + 1 >= 4096, a.toString());
        assertEquals(0, a.fromByte() % 4096);
    }

    /**
     * Overwrites everything twice over, so that most segments end up holding nothing current.
     * The collector runs only when asked: one nudged in the background by the churn could
     * reclaim the dead segments before the test looks for them.
     */
    private static CrashableStorage churned(boolean collect) throws IOException {
        CrashableStorage d = new CrashableStorage(Disk.ROOT);
        try (Store s = Store.create(Disk.ROOT, Stores.options(d).withGcIntervalMillis(0))) {
            Volume v = s.createVolume("vm1", 2L << 20);
            byte[] big = new byte[256 * 1024];
            Random r = new Random(3);
            for (int round = 0; round < 3; round++) {
                for (int off = 0; off < v.size(); off += big.length) {
                    r.nextBytes(big);
                    v.write(off, big, 0, big.length);
                    s.flush();
                }
                s.snapshot("vm1", "r" + round, Map.of());
                if (round > 0) {
                    s.destroySnapshot("vm1", "r" + (round - 1));
                }
            }
            if (collect) {
                assertTrue(s.gc().segmentsDeleted() > 0);
                v.write(0, A, 0, A.length);
            }
        }
        return d;
    }

    @Test
    void damageWhereNothingCurrentLiesIsOnlyAWarning() throws IOException {
        CrashableStorage d = churned(false);
        Report clean = Fsck.check(d, false);
        assertTrue(clean.clean(), clean.summary());
        String dead = null;
        for (String seg : Disk.segments(d, SegmentLayout.KIND_DATA)) {
            if (!clean.liveSegments().contains(SegmentLayout.parseFileName(seg))) {
                dead = seg;
            }
        }
        assertTrue(dead != null, "some data segment holds only overwritten data");
        // as a reclaim that was wiping the file leaves it when the power goes
        Disk.zero(d, dead, 0, SegmentLayout.HEADER_BYTES + 8192);
        Report r = Fsck.check(d, false);
        assertTrue(r.clean(), r.summary());
        assertTrue(r.problems().stream().anyMatch(p -> p.kind().equals("segment-header")), r.summary());
    }

    @Test
    void aCollectedStoreChecksCleanAndRepairs() throws IOException {
        CrashableStorage d = churned(true);
        Report clean = Fsck.check(d, false);
        assertTrue(clean.clean(), "after gc, older commits point into deleted segments: history, not damage\n"
                + clean.summary());
        Disk.Rec leaf = null;
        for (Disk.Rec x : Disk.records(d)) {
            if (x.typeName().equals("extent-leaf")) {
                leaf = x;
            }
        }
        d.flipBit(leaf.file(), leaf.offset() * 8L + 400);
        RepairResult r = Fsck.repair(d, false, true, null);
        assertEquals(1, r.exitCode(), r.summary() + r.after().summary());
        try (Store s = Store.open(Disk.ROOT, Stores.options(d))) {
            s.volume("vm1").write(4096, B, 0, B.length);
        }
        assertEquals(0, Fsck.check(d, false).exitCode());
    }

    @Test
    void progressIsReportedInBytes() throws IOException {
        CrashableStorage d = small();
        long[] seen = {-1, 0};
        Report r = Fsck.check(d, false, new Fsck.Listener() {
            @Override
            public void start(long totalBytes) {
                seen[0] = totalBytes;
            }

            @Override
            public void checked(long bytes) {
                assertTrue(bytes >= seen[1]);
                seen[1] = bytes;
            }
        });
        assertTrue(r.clean());
        assertTrue(seen[0] > SegmentLayout.HEADER_BYTES, "total " + seen[0]);
        assertTrue(seen[1] > 0 && seen[1] <= seen[0] + SegmentLayout.HEADER_BYTES, seen[1] + " of " + seen[0]);
    }
}
