package dev.varve.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.NoSuchVolumeException;
import dev.varve.engine.ReceiveResult;
import dev.varve.nbd.control.ControlClient;
import dev.varve.nbd.control.Upload;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bytes through the control socket when things go wrong: a client that stops reading a
 * download, an upload abandoned or refused half-way, a client that vanishes mid-upload. The
 * server must free the connection, clean up, and keep the connection usable where it can.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ControlTransferTest {
    private static final int MiB = 1 << 20;

    @TempDir
    Path tmp;

    @Test
    void downloadsAbandonedHalfWayFreeTheirConnections() throws Exception {
        try (Served s = Served.start(tmp, 8L * MiB)) {
            byte[] data = random(1, 6 * MiB);
            s.store.volume("vol").write(0, ByteBuffer.wrap(data));
            // more abandoned downloads than the server has connection slots (8): each must be let go
            for (int i = 0; i < 12; i++) {
                try (ControlClient c = ControlClient.connect(s.dir)) {
                    int[] chunks = {0};
                    IllegalStateException stop = assertThrows(IllegalStateException.class, () ->
                            c.read("vol", 0, -1, (off, b, len) -> {
                                if (++chunks[0] == 2) {
                                    throw new IllegalStateException("stop reading");
                                }
                            }));
                    assertEquals("stop reading", stop.getMessage());
                    // closed, not left out of step with frames still coming
                    assertThrows(ClosedChannelException.class, c::ping);
                }
            }
            try (ControlClient c = ControlClient.connect(s.dir)) {
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                ControlClient.Device d = c.read("vol", 0, -1, (off, b, len) -> {
                    assertEquals(got.size(), off, "chunks come in order, each at its offset");
                    got.write(b, 0, len);
                });
                assertEquals(8 * MiB, d.size());
                assertArrayEquals(data, Arrays.copyOf(got.toByteArray(), data.length));
                assertEquals(8 * MiB, got.size());
            }
        }
    }

    @Test
    void anUploadRefusedHalfWayLeavesTheConnectionUsable() throws Exception {
        try (Served s = Served.start(tmp, 4L * MiB); ControlClient c = ControlClient.connect(s.dir)) {
            byte[] a = random(2, MiB);
            try (Upload u = c.write("vol", false)) {
                assertEquals(4 * MiB, u.header(ControlClient.Device.class).size());
                u.write(0, a, 0, a.length);
                // past the end: the server answers this frame with the error, not a later one
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> u.write(4L * MiB - 100, a, 0, 4096));
                assertTrue(e.getMessage().contains("outside"), e.getMessage());
            }
            assertEquals(s.port(), c.ping().get("port").asInt(), "the connection is between requests again");
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            c.read("vol", 0, MiB, (off, b, len) -> got.write(b, 0, len));
            assertArrayEquals(a, got.toByteArray(), "what was written before the failure stays");

            // an import closed unfinished: the partial volume is gone before close returns
            try (Upload u = c.importVolume("img", 2L * MiB, 4096)) {
                u.write(0, a, 0, a.length);
            }
            assertThrows(NoSuchVolumeException.class, () -> c.device("img"));

            // a corrupt stream fails the receive and changes nothing
            ByteArrayOutputStream stream = new ByteArrayOutputStream();
            s.store.snapshot("vol", "s", Map.of());
            c.send("vol@s", null, null, stream, (done, total) -> { });
            byte[] bad = stream.toByteArray();
            bad[bad.length / 2] ^= 1;
            IOException corrupt = assertThrows(IOException.class, () -> {
                try (Upload u = c.receive("copy", false, false, false, (done, total) -> { })) {
                    u.write(0, bad, 0, bad.length);
                    u.finish(ReceiveResult.class);
                }
            });
            assertTrue(corrupt.getMessage().contains("corrupt"), corrupt.getMessage());
            assertThrows(NoSuchVolumeException.class, () -> c.device("copy"));
            try (Upload u = c.receive("copy", false, false, false, (done, total) -> { })) {
                byte[] good = stream.toByteArray();
                u.write(0, good, 0, good.length);
                assertEquals("copy@s", u.finish(ReceiveResult.class).snapshot().fullName());
            }
        }
    }

    @Test
    void aClientGoneMidImportLeavesNoVolume() throws Exception {
        try (Served s = Served.start(tmp, 4L * MiB)) {
            ControlClient c = ControlClient.connect(s.dir);
            Upload u = c.importVolume("img", 4L * MiB, 4096);
            byte[] a = random(3, MiB);
            u.write(0, a, 0, a.length);
            c.close(); // no ABORT: the process died
            try (ControlClient other = ControlClient.connect(s.dir)) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (true) {
                    try {
                        other.device("img");
                    } catch (NoSuchVolumeException gone) {
                        break;
                    }
                    assertTrue(System.nanoTime() < deadline, "the partly imported volume is still there");
                    Thread.sleep(20);
                }
            }
        }
    }

    @Test
    void aRefusedDownloadSendsNothingMoreAndAFrameOutOfStepClosesTheConnection() throws Exception {
        try (Served s = Served.start(tmp, 4L * MiB); ControlClient c = ControlClient.connect(s.dir)) {
            // refused at once: one error line and nothing after it, so the next request works
            IllegalArgumentException past = assertThrows(IllegalArgumentException.class,
                    () -> c.read("vol", 5L * MiB, -1, (off, b, len) -> { }));
            assertEquals("offset 5242880 is past the end of vol (4194304 bytes)", past.getMessage());
            assertThrows(NoSuchVolumeException.class, () -> c.readAllocated("nope", (off, b, len) -> { },
                    (done, total) -> { }));
            assertEquals(s.port(), c.ping().get("port").asInt());

            // a byte that is no frame in the middle of an upload: the server hangs up, and serves on
            try (SocketChannel raw = SocketChannel.open(UnixDomainSocketAddress.of(ControlClient.socketPath(s.dir)))) {
                raw.write(ByteBuffer.wrap("{\"op\":\"write\",\"volume\":\"vol\"}\n".getBytes(StandardCharsets.UTF_8)));
                ByteBuffer header = ByteBuffer.allocate(4096);
                while (header.position() == 0 || header.get(header.position() - 1) != '\n') {
                    assertTrue(raw.read(header) > 0, "the header line");
                }
                assertTrue(new String(header.array(), 0, header.position(), StandardCharsets.UTF_8)
                        .startsWith("{\"ok\":true"));
                raw.write(ByteBuffer.wrap(new byte[] {'Z'}));
                assertEquals(-1, raw.read(ByteBuffer.allocate(16)), "closed by the server");
            }
            assertEquals(s.port(), c.ping().get("port").asInt());
        }
    }

    private static byte[] random(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }
}
