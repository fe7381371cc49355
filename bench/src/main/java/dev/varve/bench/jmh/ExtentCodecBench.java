package dev.varve.bench.jmh;

import dev.varve.engine.btree.Extent;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** Encoding and decoding one extent entry of a tree node (record encoding), 1 and 64 blocks long. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {Flags.EXPORTS_MISC, Flags.EXPORTS_NIO, Flags.OPENS_REFLECT, Flags.OPENS_NIO})
public class ExtentCodecBench {
    @Param({"1", "64"})
    public int blocks;

    private Extent extent;
    private UnsafeBuffer buf;
    private final int[] length = new int[1];

    @Setup
    public void setup() {
        int[] crcs = new int[blocks];
        for (int i = 0; i < blocks; i++) {
            crcs[i] = i * 0x9E3779B9;
        }
        extent = new Extent(blocks, (3L << 32) + 8192, 42, crcs);
        buf = new UnsafeBuffer(java.nio.ByteBuffer.allocateDirect(Extent.CODEC.encodedLength(extent)));
        Extent.CODEC.encode(extent, buf, 0);
    }

    @Benchmark
    public int encode() {
        return Extent.CODEC.encode(extent, buf, 0);
    }

    @Benchmark
    public Extent decode() {
        return Extent.CODEC.decode(buf, 0, length);
    }
}
