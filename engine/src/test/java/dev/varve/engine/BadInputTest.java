package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.catalog.Superblock;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.format.SuperblockLayout;
import dev.varve.engine.io.FileStorage;
import dev.varve.engine.io.StorageFile;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each kind of bad input gets a clear error that says what and where, and changes nothing.
 */
class BadInputTest {
    private static final StoreOptions OPTS = StoreOptions.defaults().withGcIntervalMillis(0);

    @Test
    void aNewerFormatVersionIsRefusedWithAClearMessage(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("s");
        Store.create(dir, OPTS).close();
        FileStorage fs = new FileStorage(dir);
        Superblock sb = Superblock.readNewest(fs);
        Superblock newer = new Superblock(sb.format() + 1, sb.sequence() + 1, sb.uuidHi(), sb.uuidLo(),
                sb.segmentSize(), sb.commitAddress(), sb.commitLength(), sb.generation());
        try (StorageFile f = fs.open(SuperblockLayout.FILE_NAME, false)) {
            newer.write(f);
        }
        FormatVersionException e = assertThrows(FormatVersionException.class, () -> Store.open(dir, OPTS));
        assertTrue(e.getMessage().contains("newer than this Varve understands") && e.getMessage().contains("upgrade"),
                e.getMessage());
    }

    @Test
    void aSuperblockNamingACommitOfAnotherGenerationIsRefused(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("s");
        long previous;
        try (Store store = Store.create(dir, OPTS)) {
            store.createVolume("v", 1 << 20).write(0, new byte[4096], 0, 4096);
            store.commit();
            store.volume("v").write(4096, new byte[4096], 0, 4096);
            store.commit();
            previous = store.lastCommit().previous();
        }
        // the newest slot keeps its generation but points at the commit before it, as a
        // misdirected superblock write would leave it
        FileStorage fs = new FileStorage(dir);
        Superblock sb = Superblock.readNewest(fs);
        Superblock moved = new Superblock(sb.format(), sb.sequence() + 1, sb.uuidHi(), sb.uuidLo(),
                sb.segmentSize(), previous, sb.commitLength(), sb.generation());
        try (StorageFile f = fs.open(SuperblockLayout.FILE_NAME, false)) {
            moved.write(f);
        }
        CorruptionException e = assertThrows(CorruptionException.class, () -> Store.open(dir, OPTS));
        assertTrue(e.getMessage().contains("generation " + sb.generation()) && e.getMessage().contains("fsck --repair"),
                e.getMessage());
        // and the store's files are as they were: the good slot still opens it once the bad one is gone
        Superblock again = new Superblock(sb.format(), sb.sequence() + 2, sb.uuidHi(), sb.uuidLo(),
                sb.segmentSize(), sb.commitAddress(), sb.commitLength(), sb.generation());
        try (StorageFile f = fs.open(SuperblockLayout.FILE_NAME, false)) {
            again.write(f);
        }
        try (Store store = Store.open(dir, OPTS)) {
            assertEquals(sb.generation(), store.lastCommit().generation());
        }
    }

    @Test
    void aDataBlockThatFailsItsChecksumIsAnErrorNamingSegmentAndOffset(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("s");
        byte[] d = new byte[8192];
        java.util.Arrays.fill(d, (byte) 0x5A);
        try (Store store = Store.create(dir, OPTS)) {
            store.createVolume("v", 1 << 20, 4096).write(0, d, 0, d.length);
        }
        // flip one byte in the first data block of the data segment
        Path seg;
        try (Stream<Path> s = Files.list(dir)) {
            seg = s.filter(p -> p.toString().endsWith(".seg")).filter(p -> {
                try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "r")) {
                    f.seek(SegmentLayout.HEADER_BYTES);
                    return f.read() == 0x5A;
                } catch (java.io.IOException x) {
                    return false;
                }
            }).findFirst().orElseThrow();
        }
        try (RandomAccessFile f = new RandomAccessFile(seg.toFile(), "rw")) {
            f.seek(SegmentLayout.HEADER_BYTES + 100);
            f.write(0x00);
        }
        try (Store store = Store.open(dir, OPTS)) {
            byte[] got = new byte[4096];
            CorruptionException e = assertThrows(CorruptionException.class, () -> store.volume("v").read(0, got, 0, 4096));
            assertTrue(e.getMessage().contains(seg.getFileName().toString()) && e.getMessage().contains("checksum"),
                    e.getMessage());
            // the undamaged block still reads
            byte[] ok = new byte[4096];
            store.device("v").read(4096, ok, 0, 4096);
            assertArrayEquals(java.util.Arrays.copyOf(d, 4096), ok);
        }
    }

    @Test
    void snapshotNamesAndTargetsAreChecked(@TempDir Path tmp) throws Exception {
        try (Store store = Store.create(tmp.resolve("s"), OPTS)) {
            store.createVolume("a", 1 << 20);
            store.createVolume("b", 1 << 20);
            store.snapshot("a", "s1", Map.of());
            for (String bad : List.of("x@y", "x/y", "tab\there", "nl\n", "", "..", "-dash")) {
                assertThrows(InvalidNameException.class, () -> store.snapshot("a", bad, Map.of()), "'" + bad + "'");
                assertThrows(InvalidNameException.class, () -> store.createVolume(bad, 4096), "'" + bad + "'");
            }
            IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
                    () -> store.revert("b", "a@s1", null));
            assertTrue(other.getMessage().contains("clone"), "points to clone: " + other.getMessage());
            assertThrows(NoSuchSnapshotException.class, () -> store.revert("a", "nope", null));
            store.destroySnapshot("a", "s1");
            assertThrows(NoSuchSnapshotException.class, () -> store.device("a@s1"));
            assertThrows(NoSuchSnapshotException.class, () -> store.destroySnapshot("a", "s1"));
            assertThrows(NoSuchSnapshotException.class, () -> store.clone("a", "s1", "c"));
            assertThrows(NoSuchVolumeException.class, () -> store.snapshot("zz", "s", Map.of()));
            assertEquals(2, store.volumes().size());
            assertEquals(0, store.snapshots().size());
        }
    }

    @Test
    void aSegmentFromAnotherStoreIsNotMistakenForOurs(@TempDir Path tmp) throws Exception {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        try (Store s = Store.create(a, OPTS)) {
            s.createVolume("v", 1 << 20).write(0, new byte[] {1}, 0, 1);
        }
        try (Store s = Store.create(b, OPTS)) {
            s.createVolume("v", 1 << 20).write(0, new byte[] {2}, 0, 1);
        }
        // put a's first segment in place of b's
        Files.copy(a.resolve(SegmentLayout.fileName(1)), b.resolve(SegmentLayout.fileName(1)),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Exception e = assertThrows(Exception.class, () -> {
            try (Store s = Store.open(b, OPTS)) {
                byte[] x = new byte[1];
                s.volume("v").read(0, x, 0, 1);
            }
        });
        assertTrue(e instanceof CorruptionException || e instanceof java.io.IOException, e.toString());
    }
}
