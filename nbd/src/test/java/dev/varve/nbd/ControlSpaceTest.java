package dev.varve.nbd;

import static dev.varve.nbd.NbdProtocol.CMD_WRITE;
import static dev.varve.nbd.NbdProtocol.REP_ACK;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.GcReport;
import dev.varve.engine.SpaceInfo;
import dev.varve.engine.SpaceSummary;
import dev.varve.nbd.control.ControlClient;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@code varve list|info|gc} ask a running server about space and its collector. */
class ControlSpaceTest {
    private static final int BLOCK = 4096;

    @TempDir
    Path tmp;

    @Test
    void spaceSummaryAndCollectorPauseGoThroughTheServer() throws Exception {
        try (Served s = Served.start(tmp, 4 << 20);
             ControlClient cc = ControlClient.connect(s.dir);
             RawClient vm = new RawClient(s.port()).greet()) {
            assertEquals(REP_ACK, vm.go("vol", false).type());
            byte[] a = new byte[10 * BLOCK];
            Arrays.fill(a, (byte) 0xa);
            assertEquals(0, vm.command(0, CMD_WRITE, 0, a.length, a, 0));
            cc.snapshot("vol", "s", Map.of());
            byte[] b = new byte[3 * BLOCK];
            Arrays.fill(b, (byte) 0xb);
            assertEquals(0, vm.command(0, CMD_WRITE, 0, b.length, b, 0));
            s.store.flush();

            // the same numbers the store gives in-process
            List<SpaceInfo> space = cc.space();
            assertEquals(s.store.space(), space);
            assertEquals(List.of(new SpaceInfo("vol", 4 << 20, 10 * BLOCK, 3 * BLOCK),
                    new SpaceInfo("vol@s", 4 << 20, 10 * BLOCK, 3 * BLOCK)), space);
            SpaceSummary sum = cc.spaceSummary();
            assertTrue(sum.bytesOnDisk() > 0 && sum.liveBytes() >= 13 * BLOCK, sum.toString());

            assertFalse(cc.gcPause(), "the collector runs while serving");
            assertTrue(s.store.collectorPaused());
            assertTrue(cc.gcPause(), "pausing twice says so");
            GcReport r = cc.gc(0.5);
            assertTrue(r.segmentsAfter() >= 1, r.toString());
            assertTrue(cc.gcResume());
            assertFalse(s.store.collectorPaused());
            assertFalse(cc.gcResume());
        }
    }
}
