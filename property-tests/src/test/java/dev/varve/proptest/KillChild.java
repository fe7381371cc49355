package dev.varve.proptest;

import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * The child JVM of {@link KillTest}: opens the store, writes stamped blocks following
 * {@link Plan}, and prints {@code acked N} after each flush returns, until it is killed.
 */
public final class KillChild {
    static final int BLOCKS = 1024;

    /** The deterministic sequence of writes and flushes of one cycle. */
    static final class Plan {
        private final SplittableRandom r;

        Plan(long seed) {
            this.r = new SplittableRandom(seed);
        }

        /** The block written by the next write. */
        int nextBlock() {
            return r.nextInt(BLOCKS);
        }

        /** Whether a flush follows the write just made. */
        boolean flushAfter() {
            return r.nextInt(8) == 0;
        }
    }

    private KillChild() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long cycle = Long.parseLong(args[1]);
        long seed = Long.parseLong(args[2]);
        PrintStream out = new PrintStream(System.out, true);
        try (Store store = Store.open(dir)) {
            Volume v = store.volume("v");
            out.println("ready");
            Plan plan = new Plan(seed);
            for (long seq = 1; ; seq++) {
                int block = plan.nextBlock();
                byte[] b = new Stamp(cycle, seq, block).bytes();
                v.write((long) block * Stamp.BLOCK, b, 0, b.length);
                if (plan.flushAfter()) {
                    v.flush();
                    out.println("acked " + seq);
                }
            }
        }
    }
}
