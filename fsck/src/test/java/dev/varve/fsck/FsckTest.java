package dev.varve.fsck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.Volume;
import dev.varve.engine.format.FillLayout;
import dev.varve.engine.format.SegmentLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FsckTest {
    @TempDir
    Path dir;

    private Path build() throws IOException {
        Path s = dir.resolve("store");
        Random r = new Random(42);
        try (Store store = Store.create(s, StoreOptions.defaults().withSegmentSize(1 << 20))) {
            Volume v = store.createVolume("vm", 64L << 20);
            for (int i = 0; i < 200; i++) {
                byte[] b = new byte[4096 * (1 + r.nextInt(4))];
                r.nextBytes(b);
                v.write(4096L * r.nextInt(10_000), b, 0, b.length);
                if (i % 50 == 49) {
                    store.snapshot("vm", "s" + i, Map.of("note", "snapshot " + i));
                }
            }
            store.clone("vm", "s49", "vm2").write(0, new byte[4096], 0, 4096);
        }
        return s;
    }

    private static Map<String, String> digests(Path s) throws Exception {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> files = Files.list(s)) {
            for (Path p : files.toList()) {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                m.put(p.getFileName().toString(), java.util.HexFormat.of().formatHex(md.digest(Files.readAllBytes(p))));
            }
        }
        return m;
    }

    private static Path segmentOfKind(Path s, int kind) throws IOException {
        try (Stream<Path> files = Files.list(s)) {
            for (Path p : files.sorted().toList()) {
                if (p.toString().endsWith(".seg")) {
                    ByteBuffer b = ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                    try (FileChannel ch = FileChannel.open(p)) {
                        ch.read(b, 0);
                    }
                    if (b.getInt(SegmentLayout.KIND_OFFSET) == kind) {
                        return p;
                    }
                }
            }
        }
        throw new AssertionError("no segment of kind " + kind);
    }

    /** Where the records of a meta segment end: before the zeros and fill written ahead of them. */
    private static long logEnd(Path meta) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(meta));
        long id = SegmentLayout.parseFileName(meta.getFileName().toString());
        int end = b.capacity();
        while (end >= FillLayout.PAGE && FillLayout.isFillPage(b, end - FillLayout.PAGE, id, end - FillLayout.PAGE)) {
            end -= FillLayout.PAGE;
        }
        while (end > SegmentLayout.HEADER_BYTES && b.get(end - 1) == 0) {
            end--;
        }
        return end;
    }

    @Test
    void aFlippedBitInTheFillAheadOfTheLogIsOnlyAWarning() throws Exception {
        Path s = build();
        Path meta = null;
        try (Stream<Path> files = Files.list(s)) {
            for (Path p : files.sorted().toList()) {
                if (p.toString().endsWith(".seg") && Files.size(p) > logEnd(p) + FillLayout.PAGE) {
                    meta = p; // the meta head: fill follows its records
                }
            }
        }
        assertTrue(meta != null, "the meta head holds fill ahead of its records");
        flip(meta, Files.size(meta) - 100);
        Report r = Fsck.check(s);
        assertEquals(0, r.errors(), r.summary());
        assertTrue(r.problems().stream().anyMatch(p -> p.kind().equals("torn-tail")), r.summary());
        try (Store store = Store.open(s, StoreOptions.defaults().withSegmentSize(1 << 20))) {
            assertEquals(64L << 20, store.volume("vm").size());
        }
    }

    private static void flip(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, offset);
            b.put(0, (byte) (b.get(0) ^ 0x10));
            b.rewind();
            ch.write(b, offset);
        }
    }

    @Test
    void cleanStoreIsCleanAndCheckChangesNoByte() throws Exception {
        Path s = build();
        Map<String, String> before = digests(s);
        Report r = Fsck.check(s);
        assertTrue(r.clean(), r.summary());
        assertEquals(0, r.exitCode());
        assertEquals(2, r.volumes());
        assertEquals(4, r.snapshots());
        assertTrue(r.dataBlocks() > 200, r.summary());
        assertEquals(before, digests(s), "check mode must not change a byte");
    }

    @Test
    void flippedDataBitIsFoundAndAttributed() throws Exception {
        Path s = build();
        Path data = segmentOfKind(s, SegmentLayout.KIND_DATA);
        flip(data, SegmentLayout.HEADER_BYTES + 100);
        Report r = Fsck.check(s);
        assertFalse(r.clean());
        assertEquals(4, r.exitCode());
        Problem p = r.problems().stream().filter(x -> x.kind().equals("data-checksum")).findFirst().orElseThrow();
        assertTrue(p.affected().contains("vm"), p.toString());
        assertTrue(p.affected().contains("bytes"), p.toString());
    }

    /**
     * A store whose data lies in one run longer than the data check reads at once (one 8 MiB run
     * read in pieces of {@link LogScan#WINDOW_BYTES}): 4 KiB of one volume, then 12 MiB of 64
     * KiB blocks of another, so that a 64 KiB block lies across the end of the first piece.
     */
    private Path bigRunStore() throws IOException {
        Path s = dir.resolve("big");
        Random r = new Random(7);
        try (Store store = Store.create(s, StoreOptions.defaults().withSegmentSize(32 << 20))) {
            byte[] small = new byte[4096];
            r.nextBytes(small);
            store.createVolume("pad", 1 << 20).write(0, small, 0, small.length);
            Volume v = store.createVolume("vm", 64L << 20, 64 << 10);
            byte[] b = new byte[1 << 20];
            for (int i = 0; i < 12; i++) {
                r.nextBytes(b);
                v.write((long) i << 20, b, 0, b.length);
            }
        }
        return s;
    }

    @Test
    void dataRunsLongerThanOneReadAreCheckedWhole() throws Exception {
        Path s = bigRunStore();
        Report clean = Fsck.check(s);
        assertTrue(clean.clean(), clean.summary());
        assertEquals(1 + 12 * 16, clean.dataBlocks(), clean.summary());
        Path data = segmentOfKind(s, SegmentLayout.KIND_DATA);
        long pieceEnd = SegmentLayout.HEADER_BYTES + LogScan.WINDOW_BYTES;
        // the block across the first piece's end, and one well inside a later piece
        flip(data, pieceEnd + 100);
        flip(data, pieceEnd + (2 << 20) + 100);
        Report r = Fsck.check(s);
        java.util.List<Long> at = r.problems().stream().filter(x -> x.kind().equals("data-checksum"))
                .map(Problem::offset).sorted().toList();
        long firstBlock = 2L * SegmentLayout.HEADER_BYTES; // after the header and the 4 KiB of "pad"
        long across = firstBlock + (pieceEnd - firstBlock) / (64 << 10) * (64 << 10);
        assertTrue(across < pieceEnd && across + (64 << 10) > pieceEnd, "the block lies across the piece's end");
        long inside = firstBlock + (pieceEnd + (2 << 20) - firstBlock) / (64 << 10) * (64 << 10);
        assertEquals(java.util.List.of(across, inside), at, r.summary());
    }

    @Test
    void aDataFileEndingInsideALongRunIsFoundWhereItEnds() throws Exception {
        Path s = bigRunStore();
        Path data = segmentOfKind(s, SegmentLayout.KIND_DATA);
        long end = SegmentLayout.HEADER_BYTES + LogScan.WINDOW_BYTES + (1 << 20) + 12288;
        try (FileChannel ch = FileChannel.open(data, StandardOpenOption.WRITE)) {
            ch.truncate(end);
        }
        Report r = Fsck.check(s);
        Problem p = r.problems().stream().filter(x -> x.kind().equals("data-missing")).findFirst().orElseThrow();
        assertEquals(end, p.offset(), r.summary());
        assertTrue(p.message().contains("it ends at byte " + end), p.message());
        assertEquals(end - SegmentLayout.HEADER_BYTES, r.dataBytes(), r.summary());
    }

    @Test
    void flippedMetadataBitIsFound() throws Exception {
        Path s = build();
        Path meta = segmentOfKind(s, SegmentLayout.KIND_META);
        long size = logEnd(meta);
        // flip bits spread over the committed metadata: every one must be noticed
        Random r = new Random(7);
        int found = 0;
        for (int i = 0; i < 20; i++) {
            Path copy = dir.resolve("copy" + i);
            Files.createDirectories(copy);
            try (Stream<Path> files = Files.list(s)) {
                for (Path p : files.toList()) {
                    Files.copy(p, copy.resolve(p.getFileName()));
                }
            }
            long off = SegmentLayout.HEADER_BYTES + (long) (r.nextDouble() * (size - SegmentLayout.HEADER_BYTES - 1));
            flip(copy.resolve(meta.getFileName()), off);
            Report rep = Fsck.check(copy);
            if (rep.errors() > 0) {
                found++;
            }
        }
        assertEquals(20, found, "every flipped metadata bit is reported");
    }

    @Test
    void missingSegmentAndBadSuperblocksAreReported() throws Exception {
        Path s = build();
        Files.delete(segmentOfKind(s, SegmentLayout.KIND_DATA));
        Report r = Fsck.check(s);
        assertTrue(r.problems().stream().anyMatch(p -> p.kind().equals("data-missing")), r.summary());

        Path t = dir.resolve("t");
        try (Store store = Store.create(t)) {
            store.createVolume("x", 1 << 20);
        }
        flip(t.resolve("SUPERBLOCK"), 20);
        Report one = Fsck.check(t);
        assertEquals(1, one.errors(), one.summary());
        flip(t.resolve("SUPERBLOCK"), 4096 + 20);
        Report both = Fsck.check(t);
        assertTrue(both.problems().stream().anyMatch(p -> p.message().contains("both")), both.summary());
    }

    @Test
    void aFreedFileCaughtWhileRenamedForReuseIsOnlyAWarning() throws Exception {
        // a crash between renaming a freed data segment to a new id and rewriting its header:
        // a whole header naming its old id, and the old data after it, under a name nothing uses
        Path s = build();
        Path data = segmentOfKind(s, SegmentLayout.KIND_DATA);
        Files.copy(data, s.resolve(SegmentLayout.fileName(900)));
        Report r = Fsck.check(s);
        assertEquals(0, r.exitCode(), r.summary());
        assertTrue(r.clean(), r.summary());
        assertTrue(r.problems().stream().anyMatch(p -> p.kind().equals("segment-header") && p.message().contains("reused")),
                r.summary());
        try (Store store = Store.open(s)) {
            byte[] a = new byte[4096];
            store.volume("vm2").read(0, a, 0, a.length);
            assertArrayEquals(new byte[4096], a);
        }
    }

    @Test
    void reopenedStoreReadsWhatFsckCalledClean() throws Exception {
        Path s = build();
        assertTrue(Fsck.check(s).clean());
        try (Store store = Store.open(s)) {
            byte[] a = new byte[4096];
            store.volume("vm2").read(0, a, 0, a.length);
            assertArrayEquals(new byte[4096], a);
        }
    }
}
