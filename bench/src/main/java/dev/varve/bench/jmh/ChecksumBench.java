package dev.varve.bench.jmh;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** CRC32C of one 4 KiB block (what every data write and read pays), direct and heap; CRC32 beside it. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ChecksumBench {
    private ByteBuffer direct;
    private ByteBuffer heap;
    private final CRC32C crc32c = new CRC32C();
    private final CRC32 crc32 = new CRC32();

    @Setup
    public void setup() {
        byte[] b = new byte[4096];
        new java.util.Random(1).nextBytes(b);
        direct = ByteBuffer.allocateDirect(4096).put(b).flip();
        heap = ByteBuffer.wrap(b);
    }

    @Benchmark
    public long crc32c4kDirect() {
        crc32c.reset();
        crc32c.update(direct.duplicate());
        return crc32c.getValue();
    }

    @Benchmark
    public long crc32c4kHeap() {
        crc32c.reset();
        crc32c.update(heap.duplicate());
        return crc32c.getValue();
    }

    @Benchmark
    public long crc32for4kDirect() {
        crc32.reset();
        crc32.update(direct.duplicate());
        return crc32.getValue();
    }
}
