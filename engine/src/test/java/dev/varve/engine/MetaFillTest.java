package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.format.FillLayout;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.io.FileStorage;
import dev.varve.engine.io.StorageFile;
import dev.varve.engine.log.Log;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Fill written ahead of the meta head: a clean end on open, and damage to it told apart from one. */
class MetaFillTest {
    private static final int MIB = 1 << 20;

    private static StoreOptions options() {
        return StoreOptions.defaults().withSegmentSize(8 * MIB).withCommitIntervalMillis(0).withGcIntervalMillis(0);
    }

    private static List<Path> segmentFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".seg")).sorted().toList();
        }
    }

    private static int kind(Path seg) throws IOException {
        try (FileChannel ch = FileChannel.open(seg, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(SegmentLayout.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, 0);
            return b.getInt(SegmentLayout.KIND_OFFSET);
        }
    }

    private static Path newestMeta(Path dir) throws IOException {
        Path meta = null;
        for (Path p : segmentFiles(dir)) {
            if (kind(p) == SegmentLayout.KIND_META) {
                meta = p;
            }
        }
        return meta;
    }

    private static boolean lastPageIsFill(Path meta) throws IOException {
        long size = Files.size(meta);
        try (FileChannel ch = FileChannel.open(meta, StandardOpenOption.READ)) {
            ByteBuffer last = ByteBuffer.allocate(FillLayout.PAGE);
            ch.read(last, size - FillLayout.PAGE);
            return FillLayout.isFillPage(last, 0, SegmentLayout.parseFileName(meta.getFileName().toString()),
                    size - FillLayout.PAGE);
        }
    }

    private static byte[] written(Path dir, StoreOptions o, long seed) throws IOException {
        try (Store store = Store.create(dir, o)) {
            return fill(store, new Random(seed));
        }
    }

    /** Writes, snapshots and commits enough that the meta head holds fill; returns the volume's bytes. */
    private static byte[] fill(Store store, Random r) throws IOException {
        Volume v = store.createVolume("v", 4 * MIB);
        byte[] model = new byte[4 * MIB];
        for (int i = 0; i < 40; i++) {
            byte[] d = new byte[4096 * (1 + r.nextInt(8))];
            r.nextBytes(d);
            int at = r.nextInt(4 * MIB / 4096 - 8) * 4096;
            v.write(at, d, 0, d.length);
            System.arraycopy(d, 0, model, at, d.length);
            v.flush();
            if (i % 10 == 9) {
                store.snapshot("v", "s" + i, Map.of());
            }
        }
        return model;
    }

    private static byte[] read(Store store) throws IOException {
        byte[] out = new byte[4 * MIB];
        store.volume("v").read(0, out, 0, out.length);
        return out;
    }

    @Test
    void aStoreClosedCleanlyKeepsAppendingToItsMetaSegmentAfterTheFill(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("s");
        byte[] model = written(dir, options(), 5);
        Path meta = newestMeta(dir);
        long size = Files.size(meta);
        assertEquals(0, size % FillLayout.PAGE, "the meta head ends on a page boundary");
        assertTrue(lastPageIsFill(meta), "the last page is fill");
        List<Path> before = segmentFiles(dir);
        try (Store store = Store.open(dir, options())) {
            assertArrayEquals(model, read(store));
            store.createVolume("w", MIB); // a commit of catalog records only
        }
        assertEquals(before, segmentFiles(dir), "the reopened store appended where it left off, no new meta segment");
        try (Store store = Store.open(dir, options())) {
            assertArrayEquals(model, read(store));
            assertEquals(List.of("v", "w"), store.volumes().stream().map(VolumeInfo::name).sorted().toList());
        }
    }

    @Test
    void withoutMetaFillTheMetaHeadEndsAtItsLastPageAndStillReopensInPlace(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("s");
        byte[] model = written(dir, options().withMetaFill(false), 7);
        Path meta = newestMeta(dir);
        long size = Files.size(meta);
        assertEquals(0, size % FillLayout.PAGE, "writes are padded to a page");
        assertFalse(lastPageIsFill(meta), "no fill is written");
        List<Path> before = segmentFiles(dir);
        // a store written without fill opens with it, and the other way round
        try (Store store = Store.open(dir, options())) {
            assertArrayEquals(model, read(store));
            store.createVolume("w", MIB);
        }
        assertEquals(before, segmentFiles(dir));
        try (Store store = Store.open(dir, options().withMetaFill(false))) {
            assertArrayEquals(model, read(store));
            store.createVolume("x", MIB);
        }
        assertEquals(before, segmentFiles(dir));
    }

    @Test
    void zeroedFillIsATornTailSteppedOverNotAnEnd(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("s");
        byte[] model = written(dir, options(), 6);
        Path meta = newestMeta(dir);
        long size = Files.size(meta);
        // the fill a power cut lost: its blocks allocated, their bytes never written
        try (FileChannel ch = FileChannel.open(meta, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(FillLayout.PAGE), size - FillLayout.PAGE);
        }
        List<Path> before = segmentFiles(dir);
        try (Store store = Store.open(dir, options())) {
            assertArrayEquals(model, read(store));
            store.createVolume("w", MIB);
        }
        List<Path> after = segmentFiles(dir);
        assertEquals(before.size() + 1, after.size(), "the next commit went to a fresh meta segment");
        assertEquals(size, Files.size(meta), "nothing was written after the torn tail");
        try (Store store = Store.open(dir, options())) {
            assertArrayEquals(model, read(store));
            assertEquals(2, store.volumes().size());
        }
    }

    @Test
    void aCleanEndIsZerosToThePageThenFillPagesOfThisSegmentAtTheirOffsets(@TempDir Path tmp) throws Exception {
        FileStorage storage = new FileStorage(tmp);
        long id = 7;
        long end = 3 * FillLayout.PAGE + 200;
        long to = 8L * FillLayout.PAGE;
        try (StorageFile f = storage.open("f", true)) {
            byte[] head = new byte[(int) end];
            new Random(1).nextBytes(head);
            f.write(ByteBuffer.wrap(head), 0);
            assertTrue(Log.cleanEnd(f, id, end), "nothing after the end");
            f.write(FillLayout.encode(id, end, to), end);
            assertTrue(Log.cleanEnd(f, id, end));
            assertFalse(Log.cleanEnd(f, id, end - 8), "a record's last bytes are not zeros");
            assertFalse(Log.cleanEnd(f, id + 1, end), "fill pages of another segment");

            f.write(ByteBuffer.wrap(new byte[] {1}), end + 100);
            assertFalse(Log.cleanEnd(f, id, end), "a byte after the end in its page");
            f.write(ByteBuffer.wrap(new byte[] {0}), end + 100);
            assertTrue(Log.cleanEnd(f, id, end));

            f.write(ByteBuffer.allocate(FillLayout.PAGE), 5L * FillLayout.PAGE);
            assertFalse(Log.cleanEnd(f, id, end), "a zeroed page where fill should be");
            f.write(FillLayout.encode(id, 6L * FillLayout.PAGE, 7L * FillLayout.PAGE), 5L * FillLayout.PAGE);
            assertFalse(Log.cleanEnd(f, id, end), "a fill page naming another offset");
            f.write(FillLayout.encode(id, 5L * FillLayout.PAGE, 6L * FillLayout.PAGE), 5L * FillLayout.PAGE);
            assertTrue(Log.cleanEnd(f, id, end));

            f.write(ByteBuffer.wrap(new byte[] {0}), to);
            assertFalse(Log.cleanEnd(f, id, end), "a file that does not end on a page boundary");
        }
    }
}
