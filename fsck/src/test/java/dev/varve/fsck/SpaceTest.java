package dev.varve.fsck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.SpaceInfo;
import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import dev.varve.engine.io.CrashableStorage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** What fsck counts of the space the data takes: data nothing points at, and each tree's referenced bytes. */
class SpaceTest {
    private static final int BLOCK = 4096;

    private static byte[] bytes(int seed, int blocks) {
        byte[] b = new byte[blocks * BLOCK];
        new Random(seed).nextBytes(b);
        return b;
    }

    /**
     * vm1: X at blocks 0-63; snapshot s1; Y over blocks 0-31 (X's first half is s1's alone); Z at
     * blocks 64-127, then W over it (Z is no one's). Never collected.
     */
    private static CrashableStorage store() throws IOException {
        CrashableStorage d = new CrashableStorage(Disk.ROOT);
        try (Store s = Store.create(Disk.ROOT, Stores.options(d).withGcIntervalMillis(0))) {
            Volume v = s.createVolume("vm1", 8L << 20, BLOCK);
            v.write(0, bytes(1, 64), 0, 64 * BLOCK);
            s.snapshot("vm1", "s1", Map.of());
            v.write(0, bytes(2, 32), 0, 32 * BLOCK);
            v.write(64L * BLOCK, bytes(3, 64), 0, 64 * BLOCK);
            s.flush();
            v.write(64L * BLOCK, bytes(4, 64), 0, 64 * BLOCK);
        }
        return d;
    }

    @Test
    void dataNoTreePointsAtIsCountedPerSegmentApartFromNodes() throws IOException {
        CrashableStorage d = store();
        Report r = Fsck.check(d, false);
        assertTrue(r.clean(), r.summary());
        // Z only: X's overwritten half is still s1's
        assertEquals(64L * BLOCK, r.unreferencedDataBytes(), r.summary());
        Problem p = r.problems().stream().filter(x -> x.kind().equals("unreachable-records")).findFirst().orElseThrow();
        assertEquals(Problem.Severity.WARNING, p.severity());
        assertTrue(p.message().startsWith(r.unreachableRecords() + " tree nodes and blobs are not reachable"), p.message());
        assertTrue(p.message().contains("; " + 64L * BLOCK + " bytes of data blocks in " + r.unreferencedData().size()
                + " data segment"), p.message());
        for (var e : r.unreferencedData().entrySet()) {
            assertTrue(p.message().contains("segment " + e.getKey() + ": " + e.getValue() + " bytes"), p.message());
        }
        assertTrue(p.message().contains("may be garbage the collector has not yet reclaimed"), p.message());
    }

    @Test
    void afterACollectionNoDataIsUnreferenced() throws IOException {
        CrashableStorage d = store();
        try (Store s = Store.open(Disk.ROOT, Stores.options(d).withGcIntervalMillis(0))) {
            s.destroySnapshot("vm1", "s1");
            s.gc();
        }
        Report r = Fsck.check(d, false);
        assertTrue(r.clean(), r.summary());
        assertEquals(Map.of(), r.unreferencedData(), r.summary());
    }

    @Test
    void referencedBytesAreRecomputedAndMatchTheEngines() throws IOException {
        CrashableStorage d = store();
        Report r = Fsck.check(d, false);
        assertTrue(r.spaceCrossChecked(), r.summary());
        assertTrue(r.problems().stream().noneMatch(p -> p.kind().equals("space-accounting")), r.summary());
        assertEquals(List.of(new Report.Space("vm1", 8L << 20, 128L * BLOCK), new Report.Space("vm1@s1", 8L << 20,
                64L * BLOCK)), r.space().stream().sorted(java.util.Comparator.comparing(Report.Space::name)).toList());
        try (Store s = Store.open(Disk.ROOT, Stores.options(d).withReadOnly(true))) {
            for (SpaceInfo i : s.space()) {
                assertTrue(r.space().contains(new Report.Space(i.name(), i.logical(), i.referenced())), i.toString());
            }
        }
    }

    @Test
    void aFigureTheEngineGetsWrongIsSpaceAccounting() throws IOException {
        CrashableStorage d = store();
        // an engine whose walk counts one block too many for vm1
        SpaceCheck.EngineSpace wrong = storage -> {
            List<SpaceInfo> out = new ArrayList<>();
            for (SpaceInfo i : SpaceCheck.ENGINE.space(storage)) {
                out.add(i.name().equals("vm1") ? new SpaceInfo(i.name(), i.logical(), i.referenced() + BLOCK, i.exclusive())
                        : i);
            }
            return out;
        };
        Report r = Fsck.check(d, false, Fsck.Listener.NONE, wrong);
        assertEquals(Report.EXIT_UNCORRECTED, r.exitCode(), r.summary());
        List<Problem> l = r.problems().stream().filter(p -> p.kind().equals("space-accounting")).toList();
        assertEquals(1, l.size(), r.summary());
        Problem p = l.get(0);
        assertEquals(Problem.Severity.ERROR, p.severity());
        assertEquals(List.of(new Problem.Affected("vm1", -1, -1)), p.ranges());
        assertTrue(p.message().contains((128L * BLOCK + BLOCK) + " bytes referenced by vm1")
                && p.message().contains("its tree maps " + 128L * BLOCK + " bytes"), p.message());
    }
}
