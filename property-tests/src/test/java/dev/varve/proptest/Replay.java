package dev.varve.proptest;

/**
 * Seeds for a randomized test made of rounds. The base seed is {@code -Dvarve.seed} (or the
 * clock's), printed at the start; round i's seed is derived from the base and i alone, so
 * {@code -Dvarve.seed=BASE -Dvarve.round=I} replays round i by itself. Every failure message
 * names both ({@link #of(int)}).
 */
final class Replay {
    final String test;
    final long base;
    /** The one round to run ({@code -Dvarve.round}), or -1 for all. */
    final int only;

    private Replay(String test, long base, int only) {
        this.test = test;
        this.base = base;
        this.only = only;
    }

    /** Reads the seed and the round to replay, and prints them. */
    static Replay start(String test) {
        long base = Long.getLong("varve.seed", System.nanoTime());
        int only = Integer.getInteger("varve.round", -1);
        System.out.println(test + " seed " + base + (only >= 0 ? ", replaying round " + only + " alone" : ""));
        return new Replay(test, base, only);
    }

    /** Whether round i runs (all do unless one was chosen). */
    boolean runs(int round) {
        return only < 0 || only == round;
    }

    /** True when a single round is replayed: the whole run's minimum counts do not apply. */
    boolean replayingOne() {
        return only >= 0;
    }

    /** Round i's seed: the base mixed with i (SplitMix64's finalizer). */
    long seed(int round) {
        long z = base + 0x9E3779B97F4A7C15L * (round + 1);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** What a failure message says so that round i can be replayed alone. */
    String of(int round) {
        String t = test.replace('.', '#');
        return "[replay: -Dtest=" + t + " -Dvarve.seed=" + base + " -Dvarve.round=" + round + "]";
    }
}
