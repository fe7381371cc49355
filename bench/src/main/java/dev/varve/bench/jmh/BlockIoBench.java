package dev.varve.bench.jmh;

import dev.varve.bench.FilePerDelta;
import dev.varve.engine.BlockDevice;
import dev.varve.engine.Store;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One 4 KiB read or write at a random block of a 256 MiB disk that was written end to end,
 * through Varve's Volume and through the file-per-delta baseline. Writes are not flushed here
 * (the runner measures durable writes); they go to the page cache, and Varve commits by its
 * own timer and dirty limit as it would under a guest.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {Flags.EXPORTS_MISC, Flags.EXPORTS_NIO, Flags.OPENS_REFLECT, Flags.OPENS_NIO})
public class BlockIoBench {
    private static final long SIZE = 256L << 20;
    private static final int BLOCKS = (int) (SIZE / 4096);

    @Param({"varve", "file-per-delta"})
    public String contender;

    private Path dir;
    private Store store;
    private FilePerDelta fpd;
    private BlockDevice volume;
    private FilePerDelta.Disk disk;
    private ByteBuffer block;
    private ByteBuffer dst;
    private SplittableRandom rnd;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        dir = Files.createTempDirectory("varve-jmh-");
        byte[] b = new byte[1 << 20];
        new java.util.Random(3).nextBytes(b);
        ByteBuffer mib = ByteBuffer.allocateDirect(1 << 20).put(b).flip();
        if (contender.equals("varve")) {
            store = Store.create(dir.resolve("store"));
            volume = store.createVolume("disk", SIZE);
        } else {
            fpd = FilePerDelta.create(dir.resolve("fpd"), SIZE);
            disk = fpd.disk(FilePerDelta.DEFAULT_HEAD);
        }
        for (long at = 0; at < SIZE; at += mib.capacity()) {
            write(at, mib.duplicate());
        }
        if (store != null) {
            store.flush();
        } else {
            fpd.flush();
        }
        block = ByteBuffer.allocateDirect(4096).put(b, 0, 4096).flip();
        dst = ByteBuffer.allocateDirect(4096);
        rnd = new SplittableRandom(4);
    }

    private void write(long at, ByteBuffer src) throws IOException {
        if (volume != null) {
            volume.write(at, src);
        } else {
            disk.write(at, src);
        }
    }

    @Benchmark
    public ByteBuffer read4k() throws IOException {
        dst.clear();
        long at = (long) rnd.nextInt(BLOCKS) * 4096;
        if (volume != null) {
            volume.read(at, dst);
        } else {
            disk.read(at, dst);
        }
        return dst;
    }

    @Benchmark
    public void write4k() throws IOException {
        write((long) rnd.nextInt(BLOCKS) * 4096, block.duplicate());
    }

    @TearDown(Level.Trial)
    public void teardown() throws IOException {
        if (store != null) {
            store.close();
        }
        if (fpd != null) {
            fpd.close();
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
