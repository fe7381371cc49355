package dev.varve.bench.jmh;

import dev.varve.engine.btree.CowTree;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.ExtentMap;
import dev.varve.engine.btree.NodeSource;
import dev.varve.engine.btree.TreeKind;
import dev.varve.engine.btree.TreePointer;
import java.io.IOException;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Lookup and update in a volume's extent map (the copy-on-write B+tree), held in memory: a
 * map of {@code blocks} single-block extents, as a disk written by random 4 KiB writes has.
 * The tree is never committed here, so updates change dirty nodes in place; the cost of copying
 * a shared path after a snapshot is in the runner's {@code write4k.after-snapshot}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {Flags.EXPORTS_MISC, Flags.EXPORTS_NIO, Flags.OPENS_REFLECT, Flags.OPENS_NIO})
public class ExtentMapBench {
    private static final NodeSource NOTHING_ON_DISK = new NodeSource() {
        @Override
        public <V> dev.varve.engine.btree.Node<V> load(TreeKind kind, dev.varve.engine.btree.ValueCodec<V> codec,
                                                       long address, int length, long generation) {
            throw new IllegalStateException("invariant violated: an uncommitted tree loaded a node");
        }
    };

    @Param({"262144"})
    public int blocks;

    private ExtentMap map;
    private CowTree<Extent> tree;
    private SplittableRandom rnd;
    private long nextAddress;

    @Setup(Level.Trial)
    public void fill() throws IOException {
        tree = new CowTree<>(TreeKind.EXTENTS, Extent.CODEC, NOTHING_ON_DISK, TreePointer.EMPTY);
        map = new ExtentMap(tree, 4096);
        rnd = new SplittableRandom(8);
        // every other block's address is out of line, so neighbouring blocks never merge
        for (int lba = 0; lba < blocks; lba++) {
            map.insert(lba, new Extent(1, address(), 1, new int[] {lba}));
        }
    }

    private long address() {
        nextAddress += 2 * 4096;
        return (1L << 32) + nextAddress;
    }

    @Benchmark
    public Extent get() throws IOException {
        return tree.get(rnd.nextInt(blocks));
    }

    @Benchmark
    public void mapOneBlock(Blackhole bh) throws IOException {
        map.map(rnd.nextInt(blocks), 1, (lba, count, e, skip) -> bh.consume(e));
    }

    @Benchmark
    public void insertOneBlock() throws IOException {
        map.insert(rnd.nextInt(blocks), new Extent(1, address(), 2, new int[] {7}));
    }
}
