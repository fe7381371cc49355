package dev.varve.nbd;

import static dev.varve.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.NameExistsException;
import dev.varve.engine.NoSuchSnapshotException;
import dev.varve.engine.NoSuchVolumeException;
import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.Store;
import dev.varve.engine.StoreLockedException;
import dev.varve.engine.VolumeInfo;
import dev.varve.nbd.control.ControlClient;
import dev.varve.nbd.control.VolumeBusyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Live management through the control socket while clients are connected: what {@code varve
 * snapshot|revert|clone|destroy|list|info} do against a running {@code varve serve}.
 */
class ControlTest {
    private static final long MiB = 1 << 20;

    @TempDir
    Path tmp;

    @Test
    void snapshotRevertCloneDestroyWhileServing() throws Exception {
        try (Served s = Served.start(tmp, 4 * MiB)) {
            assertThrows(StoreLockedException.class, () -> Store.open(s.dir));
            assertTrue(ControlClient.isServing(s.dir));
            try (ControlClient cc = ControlClient.connect(s.dir); RawClient vm = new RawClient(s.port()).greet()) {
                assertNotNull(cc);
                assertEquals(s.port(), cc.ping().get("port").asInt());
                assertEquals(REP_ACK, vm.go("vol", false).type());
                byte[] a = filled(4096, 0xa);
                assertEquals(0, vm.command(0, CMD_WRITE, 0, 4096, a, 0));

                ControlClient.Listing l = cc.list();
                assertEquals(List.of("vol"), l.volumes().stream().map(VolumeInfo::name).toList());
                assertEquals(Map.of("vol", 1), l.clients());

                // a snapshot while the client is connected: it holds what was acknowledged
                SnapshotInfo snap = cc.snapshot("vol", "before", Map.of("reason", "test"));
                assertEquals("vol@before", snap.fullName());
                assertEquals("test", snap.properties().get("reason"));
                assertThrows(NameExistsException.class, () -> cc.snapshot("vol", "before", null));
                assertEquals(0, vm.command(0, CMD_WRITE, 0, 4096, filled(4096, 0xb), 0));

                // revert is refused while the client is connected, and the client goes on
                VolumeBusyException busy = assertThrows(VolumeBusyException.class,
                        () -> cc.revert("vol", "before", null, false));
                assertTrue(busy.getMessage().contains("vol (1 client)"), busy.getMessage());
                assertEquals(0, vm.command(0, CMD_FLUSH, 0, 0, null, 0));

                // forced, it disconnects the client first
                VolumeInfo reverted = cc.revert("vol", "before", "after", true);
                assertEquals("vol@before", reverted.position());
                assertTrue(vm.closedByServer());
                assertEquals(Map.of(), cc.list().clients());
                try (RawClient again = new RawClient(s.port()).greet()) {
                    assertEquals(REP_ACK, again.go("vol", false).type());
                    again.request(0, CMD_READ, 1, 0, 4096, null);
                    assertTrue(Arrays.equals(a, again.readReply(4096).payload()), "reverted to the snapshot");
                }

                // clone, and the clone is served at once
                VolumeInfo clone = cc.clone("vol", "after", "vol2");
                assertEquals("vol@after", clone.origin());
                try (RawClient c2 = new RawClient(s.port()).greet()) {
                    assertEquals(REP_ACK, c2.go("vol2", false).type());
                    c2.request(0, CMD_READ, 1, 0, 4096, null);
                    assertTrue(Arrays.equals(filled(4096, 0xb), c2.readReply(4096).payload()));
                }

                // destroying an exported snapshot: refused, then forced
                try (RawClient reader = new RawClient(s.port()).greet()) {
                    assertEquals(REP_ACK, reader.go("vol@before", true).type());
                    assertThrows(VolumeBusyException.class, () -> cc.destroy("vol@before", false, false));
                    cc.destroy("vol@before", false, true);
                    assertTrue(reader.closedByServer());
                }
                assertThrows(NoSuchSnapshotException.class, () -> cc.destroy("vol@before", false, false));
                assertThrows(NoSuchVolumeException.class, () -> cc.snapshot("nope", "x", null));
                assertThrows(IllegalArgumentException.class, () -> cc.call("frobnicate", null));

                VolumeInfo made = cc.create("scratch", 8 * MiB, 4096);
                assertEquals(8 * MiB, made.size());
                cc.destroy("scratch", false, false);
                List<SnapshotInfo> group = cc.snapshotGroup("g1", List.of("vol", "vol2"), null);
                assertEquals(2, group.size());
                cc.revertGroup("g1", false);
                // what the destroyed snapshot alone held is collected while clients stay connected
                try (RawClient during = new RawClient(s.port()).greet()) {
                    assertEquals(REP_ACK, during.go("vol", false).type());
                    assertTrue(cc.gc().segmentsAfter() >= 1);
                    assertEquals(0, during.command(0, CMD_READ, 0, 4096, null, 4096));
                }
                ControlClient.ServerInfo info = cc.info();
                assertEquals(2, info.store().volumeCount());
                assertEquals(s.dir.toAbsolutePath(), info.store().directory().toAbsolutePath());
            }
            // the socket answers only its owner
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(ControlClient.socketPath(s.dir))));
        }
        Path dir = tmp.resolve("store");
        assertFalse(Files.exists(ControlClient.socketPath(dir)), "the socket goes with the server");
        assertNull(ControlClient.connect(dir));
        assertFalse(ControlClient.isServing(dir));
    }

    private static byte[] filled(int n, int v) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) v);
        return b;
    }
}
