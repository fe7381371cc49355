package dev.varve.nbd;

import static dev.varve.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.CorruptionException;
import dev.varve.engine.OutOfSpaceException;
import dev.varve.engine.ReadOnlyException;
import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.fsck.Fsck;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The replies the protocol prescribes for what real clients never send, through a hand-made
 * client: every error leaves the connection (or, for a broken frame, the server) serving.
 */
class ProtocolTest {
    private static final long MiB = 1 << 20;

    @TempDir
    Path tmp;

    /**
     * The volume an interrupted resumable receive keeps ({@code %recv-NAME}) is neither listed,
     * nor reachable by name, nor the default export: a client writing to it would change what
     * the resumed stream continues from.
     */
    @Test
    void aPartialReceiveIsNoExport() throws Exception {
        try (Served s = Served.start(tmp, 4 * MiB)) {
            s.store.volume("vol").write(0, new byte[] {1, 2, 3}, 0, 3);
            s.store.snapshot("vol", "s1", Map.of());
            java.io.ByteArrayOutputStream stream = new java.io.ByteArrayOutputStream();
            s.store.send("vol@s1", null, stream);
            byte[] cut = Arrays.copyOf(stream.toByteArray(), stream.size() / 2);
            org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> s.store.receive(
                    new java.io.ByteArrayInputStream(cut), "copy",
                    dev.varve.engine.ReceiveOptions.defaults().withResumable(true)));
            String partial = dev.varve.engine.stream.StreamLayout.PARTIAL_PREFIX + "copy";
            assertTrue(s.store.volumes().stream().anyMatch(v -> v.name().equals(partial)),
                    "the interrupted receive kept its partial volume: " + s.store.volumes());
            try (RawClient c = new RawClient(s.port()).greet()) {
                List<RawClient.OptionReply> list = c.option(OPT_LIST, new byte[0]);
                List<String> names = new java.util.ArrayList<>();
                for (RawClient.OptionReply r : list) {
                    if (r.type() == REP_SERVER) {
                        ByteBuffer b = ByteBuffer.wrap(r.data());
                        byte[] name = new byte[b.getInt()];
                        b.get(name);
                        names.add(new String(name, java.nio.charset.StandardCharsets.UTF_8));
                    }
                }
                assertEquals(List.of("vol", "vol@s1"), names);
                List<RawClient.OptionReply> go = c.option(OPT_INFO, RawClient.goData(partial));
                assertEquals(REP_ERR_UNKNOWN, go.get(0).type(), go.get(0).text());
                List<RawClient.OptionReply> dflt = c.option(OPT_INFO, RawClient.goData("", INFO_NAME));
                assertEquals(REP_ACK, dflt.get(dflt.size() - 1).type(), "the store's only volume is the default");
            }
        }
    }

    @Test
    void optionErrorsLeaveTheHandshakeGoing() throws Exception {
        try (Served s = Served.start(tmp, 4 * MiB); RawClient c = new RawClient(s.port()).greet()) {
            assertEquals(REP_ERR_UNSUP, c.option(77, new byte[] {1, 2, 3}).get(0).type());
            assertEquals(REP_ERR_UNSUP, c.option(OPT_STARTTLS, new byte[0]).get(0).type());
            assertEquals(REP_ERR_INVALID, c.option(OPT_LIST, new byte[] {1}).get(0).type());
            assertEquals(REP_ERR_INVALID, c.option(OPT_GO, new byte[] {0, 0, 0, 9, 'a'}).get(0).type());
            assertEquals(REP_ERR_INVALID, c.option(OPT_STRUCTURED_REPLY, new byte[] {0}).get(0).type());
            // SET_META_CONTEXT needs structured replies first
            assertEquals(REP_ERR_INVALID, c.option(OPT_SET_META_CONTEXT,
                    RawClient.metaData("vol", BASE_ALLOCATION)).get(0).type());
            List<RawClient.OptionReply> unknown = c.option(OPT_GO, RawClient.goData("nope"));
            assertEquals(REP_ERR_UNKNOWN, unknown.get(0).type());
            assertTrue(unknown.get(0).text().contains("nope"), unknown.get(0).text());
            // too long to read, short enough to skip
            assertEquals(REP_ERR_TOO_BIG, c.option(OPT_INFO, new byte[200_000]).get(0).type());

            List<RawClient.OptionReply> list = c.option(OPT_LIST_META_CONTEXT, RawClient.metaData("vol"));
            assertEquals(REP_META_CONTEXT, list.get(0).type());
            assertEquals(REP_ACK, list.get(1).type());

            List<RawClient.OptionReply> info = c.option(OPT_INFO, RawClient.goData("vol", INFO_NAME, INFO_DESCRIPTION,
                    INFO_BLOCK_SIZE));
            assertEquals(REP_ACK, info.get(info.size() - 1).type());
            assertEquals(5, info.size(), "export, name, description, block size, ack");
            ByteBuffer bs = ByteBuffer.wrap(info.get(3).data());
            assertEquals(INFO_BLOCK_SIZE, bs.getShort());
            assertEquals(1, bs.getInt());
            assertEquals(4096, bs.getInt());
            assertEquals(32 << 20, bs.getInt());

            // the empty name is the store's only volume
            List<RawClient.OptionReply> dflt = c.option(OPT_INFO, RawClient.goData("", INFO_NAME));
            assertEquals(REP_ACK, dflt.get(dflt.size() - 1).type());
            assertEquals("vol", new String(dflt.get(1).data(), 2, 3, java.nio.charset.StandardCharsets.UTF_8));

            assertEquals(REP_ACK, c.go("vol", true).type());
            assertEquals(4 * MiB, c.size);
            assertEquals(0, c.transmissionFlags & FLAG_READ_ONLY);
            assertTrue((c.transmissionFlags & FLAG_CAN_MULTI_CONN) != 0);
            assertEquals(0, c.command(0, CMD_READ, 0, 4096, null, 4096));
        }
    }

    @Test
    void abortIsAcknowledgedAndThenTheServerCloses() throws Exception {
        try (Served s = Served.start(tmp, 4 * MiB); RawClient c = new RawClient(s.port()).greet()) {
            assertEquals(REP_ACK, c.option(OPT_LIST, new byte[0]).get(1).type(), "the handshake is under way");
            c.sendOption(OPT_ABORT, new byte[0]);
            RawClient.OptionReply ack = c.readOptionReply();
            assertEquals(OPT_ABORT, ack.option());
            assertEquals(REP_ACK, ack.type());
            assertEquals(0, ack.data().length);
            assertTrue(c.closedByServer(), "the server closes after acknowledging ABORT");
        }
    }

    @Test
    void fastZeroWithoutNoHoleZeroesTheRange() throws Exception {
        try (Served s = Served.start(tmp, 4 * MiB)) {
            for (boolean structured : new boolean[] {false, true}) {
                try (RawClient c = new RawClient(s.port()).greet()) {
                    assertEquals(REP_ACK, c.go("vol", structured).type());
                    assertTrue((c.transmissionFlags & FLAG_SEND_FAST_ZERO) != 0);
                    byte[] data = new byte[64 << 10];
                    Arrays.fill(data, (byte) 0x3c);
                    assertEquals(0, c.command(0, CMD_WRITE, 0, data.length, data, 0));
                    // a hole is quick to make: FAST_ZERO alone is no reason to refuse
                    assertEquals(0, c.command(CMD_FLAG_FAST_ZERO, CMD_WRITE_ZEROES, 4096, 40960, null, 0));
                    c.request(0, CMD_READ, 9, 0, data.length, null);
                    List<RawClient.Chunk> reply = c.readAll(data.length);
                    byte[] got = structured ? readStructured(reply, 0, data.length) : reply.get(0).payload();
                    byte[] want = data.clone();
                    Arrays.fill(want, 4096, 4096 + 40960, (byte) 0);
                    assertArrayEquals(want, got);
                }
            }
        }
    }

    @Test
    void exportNameForAMissingExportEndsTheSession() throws Exception {
        try (Served s = Served.start(tmp, 4 * MiB)) {
            try (RawClient c = new RawClient(s.port()).greet()) {
                c.sendOption(OPT_EXPORT_NAME, "nope".getBytes());
                assertTrue(c.closedByServer());
            }
            try (RawClient c = new RawClient(s.port()).greet()) {
                c.sendOption(OPT_EXPORT_NAME, "vol".getBytes());
                assertEquals(4 * MiB, c.in.readLong());
                int flags = c.in.readUnsignedShort();
                assertTrue((flags & FLAG_SEND_FLUSH) != 0);
                assertEquals(0, c.command(0, CMD_WRITE, 0, 3, new byte[] {1, 2, 3}, 0));
                assertEquals(0, c.command(0, CMD_FLUSH, 0, 0, null, 0));
            }
        }
    }

    @Test
    void commandErrorsFollowTheProtocol() throws Exception {
        try (Served s = Served.start(tmp, 4 * MiB)) {
            s.store.snapshot("vol", "s", Map.of());
            for (boolean structured : new boolean[] {false, true}) {
                try (RawClient c = new RawClient(s.port()).greet()) {
                    assertEquals(REP_ACK, c.go("vol", structured).type());
                    long end = 4 * MiB;
                    assertEquals(EINVAL, c.command(0, CMD_READ, end - 10, 11, null, 11));
                    assertEquals(EINVAL, c.command(0, CMD_READ, -1L, 1, null, 1));
                    assertEquals(ENOSPC, c.command(0, CMD_WRITE, end - 1, 2, new byte[2], 0));
                    assertEquals(EINVAL, c.command(0, CMD_TRIM, end, 1, null, 0));
                    assertEquals(ENOSPC, c.command(0, CMD_WRITE_ZEROES, end - 4096, 8192, null, 0));
                    assertEquals(EINVAL, c.command(0, CMD_READ, 0, (32 << 20) + 1, null, 0));
                    assertEquals(EINVAL, c.command(0, CMD_CACHE, 0, 4096, null, 0));
                    assertEquals(EINVAL, c.command(0, 99, 0, 4096, null, 0));
                    assertEquals(EINVAL, c.command(1 << 9, CMD_READ, 0, 4096, null, 4096));
                    assertEquals(EINVAL, c.command(CMD_FLAG_NO_HOLE, CMD_WRITE, 0, 1, new byte[1], 0));
                    assertEquals(ENOTSUP, c.command(CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO, CMD_WRITE_ZEROES, 0, 4096,
                            null, 0));
                    assertEquals(structured ? EINVAL : EINVAL, c.command(0, CMD_BLOCK_STATUS, 0, 0, null, 0));
                    // and the connection still works
                    byte[] data = new byte[8192];
                    Arrays.fill(data, (byte) 9);
                    assertEquals(0, c.command(CMD_FLAG_FUA, CMD_WRITE, 100, data.length, data, 0));
                    if (!structured) {
                        c.request(0, CMD_READ, 1, 100, data.length, null);
                        assertArrayEquals(data, c.readReply(data.length).payload());
                        assertEquals(EINVAL, c.command(0, CMD_BLOCK_STATUS, 0, 4096, null, 0));
                    } else {
                        c.request(0, CMD_READ, 1, 0, 3 * MiB, null);
                        byte[] got = readStructured(c.readAll(0), 0, (int) (3 * MiB));
                        byte[] want = new byte[(int) (3 * MiB)];
                        System.arraycopy(data, 0, want, 100, data.length);
                        assertArrayEquals(want, got);
                        c.request(0, CMD_BLOCK_STATUS, 2, 0, 4 * MiB, null);
                        List<RawClient.Chunk> st = c.readAll(0);
                        assertEquals(1, st.size());
                        ByteBuffer p = ByteBuffer.wrap(st.get(0).payload());
                        assertEquals(REPLY_TYPE_BLOCK_STATUS, st.get(0).type());
                        assertEquals(Handshake.BASE_ALLOCATION_ID, p.getInt());
                        assertEquals(12288, p.getInt()); // blocks 0..2 hold the write at 100
                        assertEquals(0, p.getInt());
                        assertEquals(4 * MiB - 12288, p.getInt());
                        assertEquals(STATE_HOLE | STATE_ZERO, p.getInt());
                        assertFalse(p.hasRemaining());
                    }
                    c.request(0, CMD_DISC, 3, 0, 0, null);
                    assertTrue(c.closedByServer());
                }
                try (RawClient c = new RawClient(s.port()).greet()) {
                    assertEquals(REP_ACK, c.go("vol@s", structured).type());
                    assertTrue((c.transmissionFlags & FLAG_READ_ONLY) != 0);
                    assertEquals(EPERM, c.command(0, CMD_WRITE, 0, 1, new byte[1], 0));
                    assertEquals(EPERM, c.command(0, CMD_TRIM, 0, 4096, null, 0));
                    assertEquals(EPERM, c.command(0, CMD_WRITE_ZEROES, 0, 4096, null, 0));
                    assertEquals(0, c.command(0, CMD_FLUSH, 0, 0, null, 0));
                }
            }
        }
    }

    @Test
    void blockStatusOfAFragmentedVolumeCoversAPrefixInOneBoundedReply() throws Exception {
        // every other block written: one descriptor per block, far more than one reply holds
        fragmentedBlockStatus(tmp.resolve("default"), ServerOptions.defaults(), 8191);
        // a server with 4 KiB requests holds its replies to 4 KiB as well
        fragmentedBlockStatus(tmp.resolve("small"), ServerOptions.defaults().withMaxRequestBytes(4096), 511);
    }

    private static void fragmentedBlockStatus(Path dir, ServerOptions options, int maxDescriptors) throws Exception {
        // blocks 0, 2, 4, ...: 2 * dataBlocks - 1 runs (one and a half replies), then a hole
        int dataBlocks = maxDescriptors * 3 / 4;
        long fragmented = (2L * dataBlocks - 1) * 4096;
        try (Served s = Served.start(dir, 8L << 30, options)) {
            byte[] block = new byte[4096];
            Arrays.fill(block, (byte) 7);
            for (int i = 0; i < dataBlocks; i++) {
                s.store.volume("vol").write(2L * i * 4096, block, 0, block.length);
            }
            int budget = s.server.buffers().availableKib();
            try (RawClient c = new RawClient(s.port()).greet()) {
                assertEquals(REP_ACK, c.go("vol", true).type());
                long huge = 0xffff_f000L; // the largest length a request carries
                c.request(0, CMD_BLOCK_STATUS, 1, 0, huge, null);
                List<long[]> first = blockStatus(c.readAll(0), 1);
                assertEquals(maxDescriptors, first.size(), "the reply stops at the cap");
                long covered = 0;
                for (int k = 0; k < first.size(); k++) {
                    assertEquals(4096, first.get(k)[0], "descriptor " + k);
                    assertEquals(k % 2 == 0 ? 0 : STATE_HOLE | STATE_ZERO, first.get(k)[1], "descriptor " + k);
                    covered += first.get(k)[0];
                }
                assertTrue(covered < huge);

                // the client asks again where the reply ended, and the rest follows
                c.request(0, CMD_BLOCK_STATUS, 2, covered, huge, null);
                List<long[]> rest = blockStatus(c.readAll(0), 2);
                long at = covered;
                for (int k = 0; k < rest.size() - 1; k++) {
                    assertEquals(4096, rest.get(k)[0], "descriptor " + k + " of the second reply");
                    assertEquals((at / 4096) % 2 == 0 ? 0 : STATE_HOLE | STATE_ZERO, rest.get(k)[1]);
                    at += 4096;
                }
                assertEquals(fragmented, at, "the second reply reaches the end of the written blocks");
                long[] tail = rest.get(rest.size() - 1);
                assertEquals(STATE_HOLE | STATE_ZERO, tail[1], "then one hole");
                assertTrue(tail[0] >= 64L << 20, "the hole runs on: " + tail[0]);

                // REQ_ONE: the first run alone
                c.request(CMD_FLAG_REQ_ONE, CMD_BLOCK_STATUS, 3, 4096, huge, null);
                List<long[]> one = blockStatus(c.readAll(0), 3);
                assertEquals(1, one.size());
                assertArrayEquals(new long[] {4096, STATE_HOLE | STATE_ZERO}, one.get(0));
            }
            // the reply buffers come from the pool and go back to it
            for (int i = 0; i < 500 && s.server.buffers().availableKib() != budget; i++) {
                Thread.sleep(10);
            }
            assertEquals(budget, s.server.buffers().availableKib());
        }
    }

    /** The (length, state) descriptors of a one-chunk BLOCK_STATUS reply. */
    private static List<long[]> blockStatus(List<RawClient.Chunk> reply, long cookie) {
        assertEquals(1, reply.size());
        RawClient.Chunk c = reply.get(0);
        assertEquals(cookie, c.cookie());
        assertEquals(REPLY_TYPE_BLOCK_STATUS, c.type(), "chunk type");
        assertTrue(c.done());
        assertTrue(c.payload().length <= 64 << 10, "a reply of " + c.payload().length + " bytes");
        ByteBuffer p = ByteBuffer.wrap(c.payload());
        assertEquals(Handshake.BASE_ALLOCATION_ID, p.getInt());
        List<long[]> out = new java.util.ArrayList<>();
        while (p.hasRemaining()) {
            out.add(new long[] {Integer.toUnsignedLong(p.getInt()), p.getInt()});
        }
        return out;
    }

    /** Assembles a structured READ reply into the bytes it stands for. */
    static byte[] readStructured(List<RawClient.Chunk> chunks, long offset, int length) {
        byte[] out = new byte[length];
        long covered = 0;
        for (RawClient.Chunk c : chunks) {
            ByteBuffer p = ByteBuffer.wrap(c.payload());
            if (c.type() == REPLY_TYPE_OFFSET_DATA) {
                long at = p.getLong();
                p.get(out, (int) (at - offset), p.remaining());
                covered += c.payload().length - 8;
            } else if (c.type() == REPLY_TYPE_OFFSET_HOLE) {
                p.getLong();
                covered += Integer.toUnsignedLong(p.getInt());
            } else if (c.type() != REPLY_TYPE_NONE) {
                throw new AssertionError("chunk type " + c.type());
            }
        }
        assertEquals(length, covered, "the chunks cover the read");
        return out;
    }

    @Test
    void brokenFramesDisconnectOnlyTheirOwnClient() throws Exception {
        try (Served s = Served.start(tmp, 4 * MiB); RawClient good = new RawClient(s.port()).greet()) {
            assertEquals(REP_ACK, good.go("vol", true).type());
            try (RawClient c = new RawClient(s.port()).greet()) {
                c.out.writeLong(0x1234); // not IHAVEOPT
                c.out.writeLong(0);
                c.out.flush();
                assertTrue(c.closedByServer());
            }
            try (RawClient c = new RawClient(s.port())) {
                c.in.readLong();
                c.in.readLong();
                c.in.readShort();
                c.out.writeInt(1 << 7); // unknown client flag
                c.out.flush();
                assertTrue(c.closedByServer());
            }
            try (RawClient c = new RawClient(s.port()).greet()) {
                assertEquals(REP_ACK, c.go("vol", false).type());
                c.out.writeInt(0xdeadbeef);
                c.out.write(new byte[24]);
                c.out.flush();
                assertTrue(c.closedByServer());
            }
            try (RawClient c = new RawClient(s.port()).greet()) {
                assertEquals(REP_ACK, c.go("vol", false).type());
                c.request(0, CMD_WRITE, 5, 0, (64 << 20), null);
                RawClient.Chunk r = c.readReply(0);
                assertEquals(EINVAL, r.errno());
                assertTrue(c.closedByServer());
            }
            try (RawClient c = new RawClient(s.port()).greet()) {
                assertEquals(REP_ACK, c.go("vol", false).type());
                c.request(0, CMD_WRITE, 5, 0, 1 << 20, new byte[1000]); // then drop mid-payload
            }
            assertEquals(0, good.command(0, CMD_WRITE, 0, 4096, new byte[4096], 0));
            assertTrue(s.server.stats().protocolErrors() >= 4);
        }
    }

    @Test
    void readOnlyServerAndConnectionLimitAndHandshakeTimeout() throws Exception {
        ServerOptions o = ServerOptions.defaults().withReadOnly(true).withMaxConnections(2)
                .withHandshakeTimeout(Duration.ofMillis(300));
        try (Served s = Served.start(tmp, 4 * MiB, o)) {
            RawClient a = new RawClient(s.port()).greet();
            RawClient b = new RawClient(s.port()).greet();
            assertEquals(REP_ACK, a.go("vol", false).type());
            assertTrue((a.transmissionFlags & FLAG_READ_ONLY) != 0);
            assertEquals(EPERM, a.command(0, CMD_WRITE, 0, 1, new byte[1], 0));
            try (RawClient c = new RawClient(s.port())) {
                assertTrue(c.closedByServer(), "over the connection limit");
            }
            // b never finishes its handshake: it is dropped, and its slot comes back
            assertTrue(b.closedByServer());
            b.close();
            RawClient d = null;
            for (int i = 0; i < 100 && d == null; i++) {
                RawClient x = new RawClient(s.port());
                try {
                    x.greet();
                    d = x;
                } catch (IOException e) {
                    x.close();
                    Thread.sleep(20);
                }
            }
            assertTrue(d != null, "a slot frees up");
            assertEquals(REP_ACK, d.go("vol", true).type());
            assertEquals(0, d.command(0, CMD_READ, 0, 4096, null, 0));
            a.close();
            d.close();
        }
    }

    @Test
    void outOfSpaceIsEnospcAndTheServerKeepsReading() throws Exception {
        Path dir = tmp.resolve("mem");
        CrashableStorage disk = new CrashableStorage(dir);
        Store store = Store.create(dir, StoreOptions.defaults().withSegmentSize(1 << 20).withStorage(p -> disk));
        store.createVolume("vol", 64 * MiB);
        store.flush();
        disk.capacity(6 * MiB);
        NbdServer server = new NbdServer(store, ServerOptions.defaults().withPort(0).withLog(x -> { })).start();
        try (RawClient c = new RawClient(server.port()).greet()) {
            assertEquals(REP_ACK, c.go("vol", true).type());
            byte[] data = new byte[1 << 20];
            Arrays.fill(data, (byte) 1);
            int errno = 0;
            for (int i = 0; i < 64 && errno == 0; i++) {
                errno = c.command(0, CMD_WRITE, i * MiB, data.length, data, 0);
            }
            assertEquals(ENOSPC, errno);
            c.request(0, CMD_READ, 9, 0, 4096, null);
            assertEquals(1, c.readAll(0).size());
        } finally {
            server.close();
            assertEquals(0, server.stats().internalErrors());
        }
        try {
            store.close();
        } catch (IOException expected) {
            // the store refuses to commit after a failed write; reopening gives its last commit
        }
        assertEquals(0, Fsck.check(disk, false).exitCode());
    }

    @Test
    void concurrentSectorWritesToOneBlockAreAllKept() throws Exception {
        // the engine merges a partial block by read-modify-write: without the server's
        // per-volume lock, writes to different sectors of one block in flight together lose some
        try (Served s = Served.start(tmp, 4 * MiB); RawClient a = new RawClient(s.port()).greet();
             RawClient b = new RawClient(s.port()).greet()) {
            assertEquals(REP_ACK, a.go("vol", false).type());
            assertEquals(REP_ACK, b.go("vol", false).type());
            int blocks = 64;
            for (int blk = 0; blk < blocks; blk++) {
                for (int sector = 0; sector < 8; sector++) {
                    RawClient c = sector % 2 == 0 ? a : b;
                    byte[] d = new byte[512];
                    Arrays.fill(d, (byte) (blk * 8 + sector + 1));
                    c.request(0, CMD_WRITE, blk * 8 + sector, blk * 4096L + sector * 512L, 512, d);
                }
            }
            for (int i = 0; i < blocks * 4; i++) {
                assertEquals(0, a.readReply(0).errno());
                assertEquals(0, b.readReply(0).errno());
            }
            byte[] all = new byte[blocks * 4096];
            s.store.volume("vol").read(0, all, 0, all.length);
            for (int i = 0; i < all.length; i++) {
                assertEquals((byte) (i / 512 + 1), all[i], "byte " + i + ": a sector write was lost");
            }
        }
    }

    @Test
    void engineFailuresMapToNbdErrors() {
        assertEquals(ENOSPC, Transmission.errno(new OutOfSpaceException("full")));
        assertEquals(EPERM, Transmission.errno(new ReadOnlyException("ro")));
        assertEquals(EIO, Transmission.errno(new CorruptionException("bad")));
        assertEquals(EIO, Transmission.errno(new IOException("disk")));
    }

    @Test
    void nonLoopbackBindWarns() throws Exception {
        try (Served s = Served.start(tmp, 4 * MiB, ServerOptions.defaults().withBindAddress("0.0.0.0"))) {
            assertEquals(1, s.server.warnings().size());
            assertTrue(s.server.warnings().get(0).contains("not loopback"), s.server.warnings().toString());
        }
        try (Served s = Served.start(tmp.resolve("2"), 4 * MiB)) {
            assertTrue(s.server.warnings().isEmpty());
        }
    }
}
