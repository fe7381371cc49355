package dev.varve.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.BlockDevice;
import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataCommandsTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path tmp;
    Path store;

    @BeforeEach
    void init() {
        store = tmp.resolve("store");
        Cli.ok("init", store);
    }

    private static byte[] random(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void writeAFileAndReadItBackAtAnyOffset() throws IOException {
        Cli.ok("create", store, "vm1", "--size", "4M");
        byte[] data = random(1, 10_000);
        Path in = tmp.resolve("in");
        Files.write(in, data);
        Cli.Result w = Cli.ok("write", store, "vm1", in, "--offset", "1000");
        assertEquals("wrote 10000 bytes to vm1 at offset 1000\n", w.out());

        assertArrayEquals(data, Cli.ok("read", store, "vm1", "--offset", "1000", "--length", "10000").stdout());
        byte[] whole = Cli.ok("read", store, "vm1").stdout();
        assertEquals(4 * MIB, whole.length);
        assertArrayEquals(data, Arrays.copyOfRange(whole, 1000, 11_000));
        assertTrue(isZero(whole, 0, 1000) && isZero(whole, 11_000, whole.length), "the rest reads as zeros");

        Path out = tmp.resolve("out");
        assertEquals(0, Cli.ok("read", store, "vm1", "--offset", "1000", "--length", "10000", "-o", out).stdout().length);
        assertArrayEquals(data, Files.readAllBytes(out));
    }

    @Test
    void writeFromStdin() {
        Cli.ok("create", store, "vm1", "--size", "1M");
        byte[] data = "from a pipe".getBytes(StandardCharsets.UTF_8);
        Cli.Result r = Cli.runWithInput(data, "write", store, "vm1", "-", "--offset", "4K");
        assertEquals(0, r.exit(), r.toString());
        assertArrayEquals(data, Cli.ok("read", store, "vm1", "--offset", "4K", "--length", data.length).stdout());
        assertEquals(0, Cli.runWithInput(data, "write", store, "vm1").exit(), "no FILE reads stdin too");
    }

    @Test
    void outOfRangeWritesAndReadsChangeNothing() throws IOException {
        Cli.ok("create", store, "vm1", "--size", "64K");
        Path in = tmp.resolve("in");
        Files.write(in, random(2, 8192));
        Cli.Result past = Cli.run("write", store, "vm1", in, "--offset", "60K");
        assertEquals(1, past.exit());
        assertTrue(past.err().contains("runs past the end of vm1") && past.err().contains("nothing was written"), past.err());
        assertTrue(isZero(Cli.ok("read", store, "vm1").stdout(), 0, 65536), "nothing was written");

        Cli.Result stdin = Cli.runWithInput(random(3, 70_000), "write", store, "vm1");
        assertEquals(1, stdin.exit());
        assertTrue(stdin.err().contains("runs past the end of vm1"), stdin.err());

        Cli.Result read = Cli.run("read", store, "vm1", "--offset", "60K", "--length", "8K");
        assertEquals(1, read.exit());
        assertTrue(read.err().contains("runs past the end of vm1"), read.err());
        assertEquals(0, read.stdout().length);
        assertEquals(2, Cli.run("read", store, "vm1", "--offset", "-5").exit());
        assertEquals(2, Cli.run("read", store, "vm1", "--length", "lots").exit());
        Cli.Result noFile = Cli.run("write", store, "vm1", tmp.resolve("absent"));
        assertEquals(1, noFile.exit());
        assertEquals("varve: no such file or directory: " + tmp.resolve("absent") + "\n", noFile.err());
    }

    /** A 64 MiB image with data at three places, the rest holes; not a multiple of the block size. */
    private Path sparseImage() throws IOException {
        Path img = tmp.resolve("disk.raw");
        long size = 64 * MIB + 1000;
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(size);
            f.seek(0);
            f.write(random(4, 4096));
            f.seek(20 * MIB + 123);
            f.write(random(5, (int) (3 * MIB)));
            f.seek(size - 10);
            f.write(random(6, 10));
        }
        return img;
    }

    @Test
    void importThenExportIsByteExactAndKeepsHoles() throws IOException {
        Path img = sparseImage();
        Cli.Result imp = Cli.ok("import", store, "disk", img);
        assertTrue(imp.out().startsWith("imported " + img + " as disk: 64.0 MiB"), imp.out());
        try (Store s = Store.open(store)) {
            Volume v = s.volume("disk");
            assertEquals(64 * MIB + 4096, v.size(), "rounded up to the block size");
            // 1 block at 0, the 3 MiB run touches 769 blocks, 1 block at the end
            assertEquals(1 + 769 + 1, v.allocatedBlocks(), "zero blocks stayed holes");
        }

        Path out = tmp.resolve("out.raw");
        Cli.Result exp = Cli.ok("export", store, "disk", out);
        assertTrue(exp.out().startsWith("exported disk to " + out), exp.out());
        assertEquals(64 * MIB + 4096, Files.size(out));
        assertTrue(sameBytes(img, out, Files.size(img)), "the exported image matches the imported one");
        assertTrue(isZero(Files.readAllBytes(out), (int) Files.size(img), (int) Files.size(out)));

        long allocated = allocatedBytes(out);
        assertTrue(allocated < 8 * MIB, "the export is sparse: " + allocated + " bytes allocated for 64 MiB");
    }

    @Test
    void exportASnapshotAndRefuseToOverwrite() throws IOException {
        Cli.ok("create", store, "vm1", "--size", "1M");
        byte[] before = random(7, 4096);
        Files.write(tmp.resolve("a"), before);
        Cli.ok("write", store, "vm1", tmp.resolve("a"));
        Cli.ok("snapshot", store, "vm1@a");
        Files.write(tmp.resolve("b"), random(8, 4096));
        Cli.ok("write", store, "vm1", tmp.resolve("b"));

        Path out = tmp.resolve("snap.raw");
        Cli.ok("export", store, "vm1@a", out);
        assertArrayEquals(before, Arrays.copyOf(Files.readAllBytes(out), 4096));
        Cli.Result again = Cli.run("export", store, "vm1", out);
        assertEquals(1, again.exit());
        assertTrue(again.err().contains("--force"), again.err());
        assertArrayEquals(before, Arrays.copyOf(Files.readAllBytes(out), 4096), "the file was left alone");
        Cli.ok("export", store, "vm1", out, "--force");
        assertFalse(Arrays.equals(before, Arrays.copyOf(Files.readAllBytes(out), 4096)));
        assertEquals(1, Cli.run("export", store, "vm1@ghost", tmp.resolve("x")).exit());
        assertFalse(Files.exists(tmp.resolve("x")), "no image is left for a snapshot that is not there");
    }

    @Test
    void importRefusesEmptyFilesAndTakenNames() throws IOException {
        Path empty = tmp.resolve("empty");
        Files.write(empty, new byte[0]);
        Cli.Result r = Cli.run("import", store, "disk", empty);
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("is empty"), r.err());
        Files.write(tmp.resolve("small"), random(9, 5000));
        Cli.ok("import", store, "disk", tmp.resolve("small"), "--block-size", "512");
        Cli.Result taken = Cli.run("import", store, "disk", tmp.resolve("small"));
        assertEquals(1, taken.exit());
        assertTrue(taken.err().contains("already exists"), taken.err());
        try (Store s = Store.open(store)) {
            BlockDevice d = s.device("disk");
            assertEquals(5120, d.size());
            assertEquals(512, d.blockSize());
        }
    }

    private static boolean isZero(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    private static boolean sameBytes(Path a, Path b, long length) throws IOException {
        byte[] x = Files.readAllBytes(a);
        byte[] y = Files.readAllBytes(b);
        return Arrays.equals(x, 0, (int) length, y, 0, (int) length);
    }

    /** Bytes the file system really allocated, from stat(1) (st_blocks * 512 on Linux). */
    private static long allocatedBytes(Path p) throws IOException {
        Process stat = new ProcessBuilder("stat", "-c", "%b %B", p.toString()).redirectErrorStream(true).start();
        String[] words = new String(stat.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim().split(" ");
        try {
            assertEquals(0, stat.waitFor(), "stat failed: " + String.join(" ", words));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return Long.parseLong(words[0]) * Long.parseLong(words[1]);
    }
}
