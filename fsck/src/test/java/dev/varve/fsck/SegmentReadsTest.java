package dev.varve.fsck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.nio.file.ExtendedOpenOption;
import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.Volume;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.io.FileStorage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ways a check reads its data: the whole data segments read while the trees are walked and
 * checked from their 4 KiB CRCs ({@link DataScan}), through the page cache or with direct I/O;
 * each run read after the walk with threads reading ahead ({@link SegmentReads.Ahead}); the runs
 * read through the storage as before the scan; and in batches. Each must find what the others do.
 */
class SegmentReadsTest {
    @TempDir
    Path dir;

    /** Whether this file system takes direct reads (tmpfs does not): what the tests below need. */
    private static boolean directWorks(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, ExtendedOpenOption.DIRECT)) {
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    @Test
    void piecesAreReadAheadInOrderAlignedAndStopAtTheFilesEnd() throws Exception {
        Path d = dir.resolve("files");
        Files.createDirectories(d);
        byte[] content = new byte[(5 << 20) + 1000];
        new Random(3).nextBytes(content);
        Files.write(d.resolve(SegmentLayout.fileName(7)), content);
        assumeTrue(directWorks(d.resolve(SegmentLayout.fileName(7))), "no direct I/O on " + d);
        SegmentReads direct = SegmentReads.open(FileStorage.readOnly(d), 7, true);
        assertNotNull(direct, "a data segment on a file system with direct I/O");
        int a = direct.alignment;
        long firstFrom = 3 * a + 100; // a run need not start on a block of the file system
        long firstTo = 3L << 20;
        List<SegmentReads.Run> runs = List.of(new SegmentReads.Run(7, firstFrom, firstTo),
                new SegmentReads.Run(7, 4L << 20, content.length + 5000L));
        try (SegmentReads.Ahead ahead = direct.ahead(runs)) {
            SegmentReads.Piece p = ahead.take(7, firstFrom, 4096);
            assertNotNull(p);
            assertEquals(3L * a, p.position, "read from the block boundary before the run's start");
            assertEquals(LogScan.WINDOW_BYTES, p.bytes);
            assertSame(p, ahead.take(7, firstFrom + 8192, 4096), "a block inside the piece held");
            assertContent(content, p, p.position, p.bytes);
            // a block across the end of the piece is in no piece whole: the check reads it itself
            assertNull(ahead.take(7, p.end() - 100, 4096));
            SegmentReads.Piece next = ahead.take(7, p.end(), 4096);
            assertEquals(p.end(), next.position, "pieces follow on");
            assertContent(content, next, next.position, next.bytes);
            // the last piece of the first run ends at the block boundary after the run's end
            SegmentReads.Piece last = ahead.take(7, firstTo - 4096, 4096);
            assertTrue(last.end() >= firstTo && last.end() - firstTo < a, "last piece ends " + last.end());
            // a block behind what was read ahead: null, and the next run's pieces are still there
            assertNull(ahead.take(7, 0, 4096));
            SegmentReads.Piece second = ahead.take(7, (4L << 20) + 4096, 4096);
            assertEquals(4L << 20, second.position);
            assertContent(content, second, second.position, second.bytes);
            SegmentReads.Piece tail = ahead.take(7, content.length - 1000, 1000);
            assertNotNull(tail, "the piece where the file ends");
            assertEquals(content.length, tail.end(), "a short last piece: the file ends there");
            assertTrue(tail.bytes < tail.wanted);
            assertContent(content, tail, tail.position, tail.bytes);
            assertNull(ahead.take(7, content.length, 4096), "nothing past the file's end");
            assertNull(ahead.take(8, 0, 4096), "nothing of a segment the runs did not name");
        } finally {
            direct.close();
        }
    }

    private static void assertContent(byte[] content, SegmentReads.Piece p, long from, int bytes) {
        ByteBuffer b = p.buffer.duplicate();
        b.position(0).limit(bytes);
        byte[] got = new byte[bytes];
        b.get(got);
        byte[] want = java.util.Arrays.copyOfRange(content, (int) from, (int) from + bytes);
        assertTrue(java.util.Arrays.equals(want, got), "the bytes of [" + from + ", " + (from + bytes) + ")");
    }

    /**
     * A store with data in several segments, damaged: data bits flipped at a piece boundary and
     * inside runs, a data segment cut short inside a run, and one deleted.
     */
    private Path damagedStore() throws IOException {
        Path s = dir.resolve("store");
        Random r = new Random(11);
        try (Store store = Store.create(s, StoreOptions.defaults().withSegmentSize(4 << 20))) {
            Volume v = store.createVolume("vm", 256L << 20);
            Volume w = store.createVolume("big", 64L << 20, 64 << 10);
            byte[] b = new byte[256 << 10];
            for (int i = 0; i < 120; i++) {
                r.nextBytes(b);
                v.write(4096L * r.nextInt(60_000), b, 0, 4096 * (1 + r.nextInt(64)));
                if (i % 10 == 0) {
                    w.write((long) (i / 10) << 20, b, 0, b.length);
                }
                if (i % 40 == 39) {
                    store.snapshot("vm", "s" + i, Map.of());
                }
            }
        }
        List<Path> data = new ArrayList<>();
        try (Stream<Path> files = Files.list(s)) {
            for (Path p : files.sorted().toList()) {
                if (p.toString().endsWith(".seg") && kind(p) == SegmentLayout.KIND_DATA && Files.size(p) > (2 << 20)) {
                    data.add(p);
                }
            }
        }
        assertTrue(data.size() >= 4, "data segments: " + data);
        flip(data.get(0), SegmentLayout.HEADER_BYTES + LogScan.WINDOW_BYTES - 10);
        flip(data.get(0), SegmentLayout.HEADER_BYTES + LogScan.WINDOW_BYTES + (300 << 10));
        flip(data.get(1), (3 << 20) + 12345);
        try (FileChannel ch = FileChannel.open(data.get(2), StandardOpenOption.WRITE)) {
            ch.truncate((1 << 20) + 777);
        }
        Files.delete(data.get(3));
        return s;
    }

    private static int kind(Path segment) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(segment)) {
            ch.read(b, 0);
        }
        return b.getInt(SegmentLayout.KIND_OFFSET);
    }

    private static void flip(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, offset);
            b.put(0, (byte) (b.get(0) ^ 0x10)).rewind();
            ch.write(b, offset);
        }
    }

    /** A full check with system properties set (name, value, name, value...), restored after. */
    private static Report checkWith(Path s, String... properties) {
        Map<String, String> before = new java.util.HashMap<>();
        for (int i = 0; i < properties.length; i += 2) {
            before.put(properties[i], System.getProperty(properties[i]));
            System.setProperty(properties[i], properties[i + 1]);
        }
        try {
            return Fsck.check(s, false);
        } finally {
            before.forEach((k, v) -> {
                if (v == null) {
                    System.clearProperty(k);
                } else {
                    System.setProperty(k, v);
                }
            });
        }
    }

    private static List<String> findings(Report r) {
        return r.problems().stream().map(p -> p.kind() + " " + p.segment() + "@" + p.offset() + ": " + p.message()
                + " [" + p.affected() + "]").sorted().toList();
    }

    @Test
    void directBufferedAndBatchedChecksFindTheSame() throws Exception {
        Path s = damagedStore();
        try (Stream<Path> files = Files.list(s)) {
            assumeTrue(directWorks(files.filter(p -> p.toString().endsWith(".seg")).findFirst().orElseThrow()),
                    "no direct I/O on " + s);
        }
        Report direct = checkWith(s, "varve.fsck.scan", "direct");
        Report buffered = checkWith(s, "varve.fsck.scan", "off"); // runs read after the walk, cached
        Report batched = checkWith(s, "varve.fsck.extentMemory", "4096");
        Report runs = checkWith(s, "varve.fsck.scanMemory", "0"); // each run read after the walk
        Report runsDirect = checkWith(s, "varve.fsck.scanMemory", "0", "varve.fsck.scan", "direct");
        Report scanCached = Fsck.check(s, false); // the scan through the page cache, the default
        List<String> want = findings(buffered);
        assertFalse(direct.clean());
        for (String kind : List.of("data-checksum", "data-missing")) {
            assertTrue(want.stream().anyMatch(f -> f.startsWith(kind)), kind + " among " + want);
        }
        assertEquals(3, want.stream().filter(f -> f.startsWith("data-checksum")).count(), String.join("\n", want));
        assertEquals(want, findings(direct), "direct reads find what buffered reads do");
        assertEquals(want, findings(batched), "checked in batches, the same");
        assertEquals(want, findings(runs), "runs read after the walk, threads ahead, the same");
        assertEquals(want, findings(runsDirect), "and with direct I/O, the same");
        assertEquals(want, findings(scanCached), "the scan through the page cache, the same");
        for (Report r : List.of(direct, batched, runs, runsDirect, scanCached)) {
            assertEquals(buffered.dataBlocks(), r.dataBlocks());
            assertEquals(buffered.exitCode(), r.exitCode());
        }
        assertEquals(buffered.dataBytes(), direct.dataBytes(), "bytes checked");
        assertEquals(buffered.dataBytes(), runs.dataBytes(), "bytes read");
        assertEquals(buffered.dataBytes(), runsDirect.dataBytes(), "bytes read");
        assertEquals(buffered.dataBytes(), scanCached.dataBytes(), "bytes checked");
        // a batch is read across every segment, so batches read some bytes again
        assertTrue(batched.dataBytes() >= buffered.dataBytes(), batched.dataBytes() + " bytes read in batches");
    }

    @Test
    void progressCountsTheDataAsTheScanReadsIt() throws Exception {
        Path s = dir.resolve("progress");
        Random r = new Random(13);
        try (Store store = Store.create(s, StoreOptions.defaults().withSegmentSize(4 << 20))) {
            Volume v = store.createVolume("vm", 64L << 20);
            byte[] b = new byte[1 << 20];
            for (int i = 0; i < 24; i++) {
                r.nextBytes(b);
                v.write((long) i << 20, b, 0, b.length);
            }
        }
        long dataBytes = 0;
        try (Stream<Path> files = Files.list(s)) {
            for (Path p : files.filter(p -> p.toString().endsWith(".seg")).toList()) {
                assumeTrue(directWorks(p), "no direct I/O on " + s);
                if (kind(p) == SegmentLayout.KIND_DATA) {
                    dataBytes += Files.size(p);
                }
            }
        }
        long[] seen = {-1, 0, 0};
        Report rep = Fsck.check(s, false, new Fsck.Listener() {
            @Override
            public void start(long totalBytes) {
                seen[0] = totalBytes;
            }

            @Override
            public void checked(long bytes) {
                if (bytes < seen[1]) {
                    seen[2]++; // asserted below: an assertion here would fail on the scan's thread
                }
                seen[1] = bytes;
            }
        });
        assertTrue(rep.clean(), rep.summary());
        assertEquals(0, seen[2], "progress never goes back");
        assertTrue(dataBytes > (20 << 20), "data " + dataBytes);
        assertTrue(seen[1] >= dataBytes && seen[1] <= seen[0], seen[1] + " of " + seen[0] + ", data " + dataBytes);
    }

    @Test
    void aSettingThatDoesNotParseIsRefusedByName() throws Exception {
        Path s = dir.resolve("settings");
        try (Store store = Store.create(s, StoreOptions.defaults())) {
            store.createVolume("vm", 1 << 20).write(0, new byte[4096], 0, 4096);
        }
        String[][] bad = {{"varve.fsck.scan", "fast", "use cached (the default), direct or off"},
            {"varve.fsck.scanMemory", "-1", "a number of bytes"},
            {"varve.fsck.extentMemory", "lots", "a number of bytes"}};
        for (String[] b : bad) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> checkWith(s, b[0], b[1]));
            assertTrue(e.getMessage().contains(b[0]) && e.getMessage().contains("'" + b[1] + "'")
                    && e.getMessage().contains(b[2]), e.getMessage());
            assertNull(System.getProperty(b[0]), "restored");
        }
        assertTrue(Fsck.check(s, false).clean(), "and with them unset, the check runs");
    }
}
