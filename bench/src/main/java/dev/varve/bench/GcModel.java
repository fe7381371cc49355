package dev.varve.bench;

import java.util.Arrays;
import java.util.Random;

/**
 * An idealised segment cleaner under the same rules as {@code gc.write-amplification}: what
 * the write amplification is when nothing but the choice of victims costs anything. The store
 * may hold {@code capacity} segments of {@code units} write units each (the bench's 64 KiB
 * writes in 4 MiB segments), {@code fill} percent of that capacity live. After each segment's
 * worth of writes (the bench's flush every 4 MiB) it looks at what its segments take, open
 * heads counted by what they hold, and when that exceeds the capacity it cleans victims until
 * two segments' worth is free, as the bench's {@code Store.gcTo(C - 2 segments)} does. No
 * metadata, no segment headers, no padding: every unit is user data or moved user data.
 *
 * <ul>
 *   <li>{@link Policy#GREEDY}: fresh writes and moved data each have their own head, and the
 *   victim is always the emptiest segment. Under uniform writes no segment's future differs
 *   from another's, so the emptiest is the cheapest to clean now and later: this is the
 *   reference for the uniform figure.
 *   <li>{@link Policy#TOLD_TEMPERATURE}: the cleaner is told which writes are hot (the 20% of
 *   the volume that takes 80% of the writes), keeps hot and cold apart in four heads (fresh
 *   and moved, each hot and cold), and picks victims by LFS cost-benefit, (1 - u) * age /
 *   (1 + u) with age the time since the segment was last written. Varve has to guess the
 *   temperature from how long the replaced data lived; this cleaner does not guess.
 * </ul>
 *
 * Write amplification is (units written by users + units moved) / units written by users,
 * over {@code measured} volumes' worth of writes after {@code warmup} volumes' worth.
 */
final class GcModel {
    enum Policy {
        GREEDY("greedy"), TOLD_TEMPERATURE("told each write's temperature, cost-benefit");

        final String label;

        Policy(String label) {
            this.label = label;
        }
    }

    /** Segment slots: the capacity and room for the overshoot between checks. */
    private final int segments;
    private final int capacity;
    private final int units;
    private final int live;
    private final int hot;
    private final boolean skewed;
    private final Policy policy;
    private final Random rnd;

    /** Segment and slot of each logical unit's current copy, as segment * units + slot. */
    private final int[] where;
    /** Which logical unit each slot holds (-1: dead or never written). */
    private final int[][] slots;
    private final int[] liveIn;
    private final long[] lastWritten;
    private final boolean[] free;
    private int freeCount;
    private final int[] head;
    private final int[] headPos;
    private long clock;
    private long moved;

    private GcModel(int capacity, int units, int fillPercent, boolean skewed, Policy policy, long seed) {
        this.capacity = capacity;
        this.segments = capacity + 16;
        this.units = units;
        this.live = (int) ((long) capacity * units * fillPercent / 100);
        this.hot = Math.max(1, live / 5);
        this.skewed = skewed;
        this.policy = policy;
        this.rnd = new Random(seed);
        this.where = new int[live];
        this.slots = new int[segments][units];
        for (int[] s : slots) {
            Arrays.fill(s, -1);
        }
        this.liveIn = new int[segments];
        this.lastWritten = new long[segments];
        this.free = new boolean[segments];
        Arrays.fill(free, true);
        this.freeCount = segments;
        int heads = policy == Policy.GREEDY ? 2 : 4;
        this.head = new int[heads];
        Arrays.fill(head, -1);
        this.headPos = new int[heads];
        // open heads count by what they hold, so the cleaner can reach its target while the
        // live units leave at least a segment of it to garbage
        if (live > (long) (capacity - 3) * units) {
            throw new IllegalArgumentException(fillPercent + "% of " + capacity + " segments leaves the cleaner no room");
        }
    }

    /** The model's write amplification for one seed. */
    static double writeAmplification(int capacity, int units, int fillPercent, boolean skewed, Policy policy,
                                     double warmup, double measured, long seed) {
        GcModel m = new GcModel(capacity, units, fillPercent, skewed, policy, seed);
        for (int u = 0; u < m.live; u++) {
            m.place(u, false);
        }
        m.overwrite((long) (warmup * m.live));
        m.moved = 0;
        long writes = (long) (measured * m.live);
        m.overwrite(writes);
        m.checkWhole();
        return (writes + m.moved) / (double) writes;
    }

    /** Every logical unit has exactly one live copy, where the segment counts say it is. */
    private void checkWhole() {
        long held = 0;
        for (int s = 0; s < segments; s++) {
            int n = 0;
            for (int k = 0; k < units; k++) {
                if (slots[s][k] >= 0) {
                    if (where[slots[s][k]] != s * units + k) {
                        throw new IllegalStateException("unit " + slots[s][k] + " is held twice");
                    }
                    n++;
                }
            }
            if (n != liveIn[s] || (free[s] && n != 0)) {
                throw new IllegalStateException("segment " + s + " counts " + liveIn[s] + " live units but holds " + n);
            }
            held += n;
        }
        if (held != live) {
            throw new IllegalStateException("the model holds " + held + " units of " + live);
        }
    }

    private void overwrite(long writes) {
        for (long i = 0; i < writes; i++) {
            int u = !skewed ? rnd.nextInt(live)
                    : rnd.nextInt(10) < 8 ? rnd.nextInt(hot) : hot + rnd.nextInt(live - hot);
            clock++;
            kill(u);
            place(u, false);
            if (clock % units == 0 && occupied() > (long) capacity * units) {
                while (occupied() > (long) (capacity - 2) * units) {
                    clean(victim());
                }
            }
        }
    }

    /** Units the segments take: full for closed segments, what they hold for open heads. */
    private long occupied() {
        long n = (long) (segments - freeCount) * units;
        for (int h = 0; h < head.length; h++) {
            if (head[h] >= 0) {
                n -= units - headPos[h];
            }
        }
        return n;
    }

    private void kill(int u) {
        int at = where[u];
        slots[at / units][at % units] = -1;
        liveIn[at / units]--;
    }

    private void place(int u, boolean move) {
        int h = policy == Policy.GREEDY ? (move ? 1 : 0) : (u < hot ? 0 : 2) + (move ? 1 : 0);
        if (head[h] < 0 || headPos[h] == units) {
            int s = 0;
            while (s < segments && !free[s]) {
                s++;
            }
            if (s == segments) {
                throw new IllegalStateException("the model ran out of segment slots");
            }
            free[s] = false;
            freeCount--;
            head[h] = s;
            headPos[h] = 0;
        }
        int s = head[h];
        slots[s][headPos[h]] = u;
        where[u] = s * units + headPos[h];
        headPos[h]++;
        liveIn[s]++;
        lastWritten[s] = clock;
    }

    private boolean isHead(int s) {
        for (int h : head) {
            if (h == s) {
                return true;
            }
        }
        return false;
    }

    private int victim() {
        int best = -1;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int s = 0; s < segments; s++) {
            if (free[s] || isHead(s)) {
                continue;
            }
            double u = liveIn[s] / (double) units;
            double score = policy == Policy.GREEDY ? -u : (1 - u) * (clock - lastWritten[s]) / (1 + u);
            if (score > bestScore) {
                bestScore = score;
                best = s;
            }
        }
        if (best < 0 || liveIn[best] == units) {
            throw new IllegalStateException("no segment has anything to clean");
        }
        return best;
    }

    private void clean(int s) {
        for (int k = 0; k < units; k++) {
            int u = slots[s][k];
            if (u >= 0) {
                slots[s][k] = -1;
                liveIn[s]--;
                place(u, true);
                moved++;
            }
        }
        free[s] = true;
        freeCount++;
    }
}
