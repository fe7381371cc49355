package dev.varve.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.format.SuperblockLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code varve fsck}: check, --repair, --salvage, --json, and the e2fsck exit codes. */
class FsckCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    Path store;
    final byte[] first = block(1);
    final byte[] second = block(2);

    private static byte[] block(int seed) {
        byte[] b = new byte[4096];
        new java.util.Random(seed).nextBytes(b);
        return b;
    }

    /** vm1: block 0 written, snapshot s1, block 0 overwritten; so s1 alone holds the first data block. */
    @BeforeEach
    void build() throws IOException {
        store = tmp.resolve("store");
        try (Store s = Store.create(store)) {
            Volume v = s.createVolume("vm1", 1 << 20);
            v.write(0, first, 0, first.length);
            s.snapshot("vm1", "s1", Map.of());
            v.write(0, second, 0, second.length);
            s.createVolume("vm2", 1 << 20).write(8192, second, 0, second.length);
        }
    }

    /** Flips a bit of the first data block written (vm1@s1's block 0). */
    private void damageFirstDataBlock() throws IOException {
        try (Stream<Path> files = Files.list(store)) {
            for (Path p : files.sorted().toList()) {
                if (SegmentLayout.parseFileName(p.getFileName().toString()) <= 0) {
                    continue;
                }
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
                    ch.read(b, 0);
                    if (b.getInt(SegmentLayout.KIND_OFFSET) == SegmentLayout.KIND_DATA) {
                        ByteBuffer one = ByteBuffer.allocate(1);
                        ch.read(one, SegmentLayout.HEADER_BYTES + 100);
                        one.put(0, (byte) (one.get(0) ^ 4)).rewind();
                        ch.write(one, SegmentLayout.HEADER_BYTES + 100);
                        return;
                    }
                }
            }
        }
        throw new AssertionError("no data segment");
    }

    private byte[] read(String device) throws IOException {
        try (Store s = Store.open(store)) {
            byte[] b = new byte[4096];
            s.device(device).read(0, b, 0, b.length);
            return b;
        }
    }

    @Test
    void aCleanStoreNeedsNoRepair() throws IOException {
        assertEquals(0, Cli.run("fsck", store).exit());
        Cli.Result r = Cli.run("fsck", store, "--repair");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("nothing to repair"), r.out());
        JsonNode j = JSON.readTree(Cli.run("fsck", store, "--repair", "--json").out());
        assertEquals(0, j.get("exitCode").asInt());
        assertFalse(j.get("repair").get("performed").asBoolean());
        assertTrue(j.get("before").get("clean").asBoolean());
    }

    @Test
    void damagedDataNamesTheSnapshotAndItsBytes() throws IOException {
        damageFirstDataBlock();
        Cli.Result text = Cli.run("fsck", store);
        assertEquals(4, text.exit(), text.toString());
        assertTrue(text.out().contains("[affects vm1@s1 bytes 0-4095]"), text.out());
        JsonNode j = JSON.readTree(Cli.run("fsck", store, "--json").out());
        assertEquals(4, j.get("exitCode").asInt());
        JsonNode p = null;
        for (JsonNode x : j.get("problems")) {
            if (x.get("kind").asText().equals("data-checksum")) {
                p = x;
            }
        }
        assertTrue(p != null, j.toString());
        assertEquals("ERROR", p.get("severity").asText());
        assertEquals("vm1@s1", p.get("ranges").get(0).get("name").asText());
        assertEquals(0, p.get("ranges").get(0).get("fromByte").asLong());
        assertEquals(4095, p.get("ranges").get(0).get("toByte").asLong());
        assertEquals(SegmentLayout.HEADER_BYTES, p.get("offset").asLong());
    }

    @Test
    void salvageDropsOnlyTheDamagedSnapshot() throws IOException {
        damageFirstDataBlock();
        Cli.Result r = Cli.run("fsck", store, "--salvage");
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.out().contains("lost: vm1@s1: dropped"), r.out());
        assertTrue(r.out().endsWith(store + ": 1 error(s) corrected\n"), r.out());
        assertEquals(0, Cli.run("fsck", store).exit());
        assertArrayEquals(second, read("vm1"));
        try (Store s = Store.open(store)) {
            assertTrue(s.snapshots().isEmpty());
            assertEquals(2, s.volumes().size());
        }
    }

    @Test
    void repairGoesBackAndSaysWhatIsLost() throws IOException {
        damageFirstDataBlock();
        Cli.Result r = Cli.run("fsck", store, "--repair", "--json");
        assertEquals(1, r.exit(), r.toString());
        JsonNode j = JSON.readTree(r.out());
        JsonNode rep = j.get("repair");
        assertTrue(rep.get("performed").asBoolean());
        assertTrue(rep.get("toGeneration").asLong() < rep.get("fromGeneration").asLong(), rep.toString());
        assertTrue(rep.get("newGeneration").asLong() > rep.get("fromGeneration").asLong(), rep.toString());
        boolean namesSnapshot = false;
        for (JsonNode l : rep.get("lost")) {
            namesSnapshot |= l.get("name").asText().equals("vm1@s1");
        }
        assertTrue(namesSnapshot, rep.toString());
        boolean rangesLost = false;
        for (JsonNode l : rep.get("lost")) {
            for (JsonNode range : l.get("ranges")) {
                rangesLost |= range.get("fromByte").asLong(-1) >= 0 && range.get("toByte").asLong(-1) >= range.get("fromByte").asLong();
            }
        }
        assertTrue(rangesLost, "a volume going back lists the byte ranges it loses: " + rep);
        JsonNode after = j.get("after");
        assertTrue(after.get("spaceCrossChecked").asBoolean(), after.toString());
        assertTrue(after.get("space").size() > 0, after.toString());
        assertTrue(after.has("unreferencedDataBytes") && after.get("unreferencedDataBySegment").isObject(), after.toString());
        assertEquals(0, j.get("after").get("exitCode").asInt());
        assertEquals(4, j.get("before").get("exitCode").asInt());
        assertEquals(0, Cli.run("fsck", store).exit());
        // the store works on from the commit repair wrote
        try (Store s = Store.open(store)) {
            s.createVolume("vm9", 1 << 20).write(0, first, 0, first.length);
        }
        assertEquals(0, Cli.run("fsck", store).exit());
        assertArrayEquals(first, read("vm9"));
    }

    @Test
    void bothSuperblocksGoneIsRepaired() throws IOException {
        Path sb = store.resolve(SuperblockLayout.FILE_NAME);
        Files.write(sb, new byte[(int) Files.size(sb)]);
        assertEquals(4, Cli.run("fsck", store).exit());
        Cli.Result r = Cli.run("fsck", store, "--repair");
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.out().contains("rewrote both superblock copies"), r.out());
        assertEquals(0, Cli.run("fsck", store).exit());
        assertArrayEquals(second, read("vm1"));
        assertArrayEquals(first, read("vm1@s1"));

        Files.delete(sb);
        assertEquals(4, Cli.run("fsck", store).exit(), "a store whose superblock file is gone is still checked");
        assertEquals(1, Cli.run("fsck", store, "--repair").exit());
        assertArrayEquals(first, read("vm1@s1"));
    }

    @Test
    void anOpenStoreIsNeitherCheckedNorRepaired() throws IOException {
        try (Store open = Store.open(store)) {
            Cli.Result check = Cli.run("fsck", store);
            assertEquals(8, check.exit(), check.toString());
            assertTrue(check.err().contains("is open in another Varve process"), check.err());
            Cli.Result repair = Cli.run("fsck", store, "--repair");
            assertEquals(8, repair.exit(), repair.toString());
            assertTrue(repair.err().contains("is open"), repair.err());
        }
        assertEquals(0, Cli.run("fsck", store).exit());
    }

    @Test
    void aStoreWithNoCommitLeftCannotBeRepaired() throws IOException {
        try (Stream<Path> files = Files.list(store)) {
            for (Path p : files.toList()) {
                if (SegmentLayout.parseFileName(p.getFileName().toString()) > 0) {
                    try (FileChannel ch = FileChannel.open(p)) {
                        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
                        ch.read(b, 0);
                        if (b.getInt(SegmentLayout.KIND_OFFSET) == SegmentLayout.KIND_META) {
                            Files.delete(p);
                        }
                    }
                }
            }
        }
        assertEquals(4, Cli.run("fsck", store).exit());
        Cli.Result r = Cli.run("fsck", store, "--salvage");
        assertEquals(4, r.exit(), r.toString());
        assertTrue(r.out().contains("repair: not possible: no whole commit record is left in the log"), r.out());
        assertTrue(r.out().endsWith("error(s) left\n"), r.out());
    }

    @Test
    void usageErrorsExit16() {
        assertEquals(16, Cli.run("fsck", store, "--repair", "--no-such-option").exit());
        assertEquals(16, Cli.run("fsck").exit());
    }
}
