package dev.varve.fsck;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link ByteRanges} against {@link CommitContent.Ranges}, which merges as it goes, as the model. */
class ByteRangesTest {
    @Test
    void touchingOverlappingAndNestedRangesMerge() {
        ByteRanges a = new ByteRanges();
        a.add(100, 200);
        a.add(200, 300); // touches
        a.add(50, 120); // overlaps
        a.add(150, 160); // nested
        a.add(500, 500); // empty
        a.add(400, 450);
        assertEquals(250 + 50, a.bytesNotIn(null));
        ByteRanges b = new ByteRanges();
        b.add(0, 60);
        b.add(290, 410);
        b.add(440, 1000);
        // a is [50, 300) and [400, 450): b covers 50-60, 290-300, 400-410 and 440-450
        assertEquals(300 - 40, a.bytesNotIn(b));
        assertEquals(60 + 120 + 560 - 40, b.bytesNotIn(a));
    }

    @Test
    void agreesWithRangesOnRandomSets() {
        long seed = new Random().nextLong();
        System.out.println("ByteRangesTest seed " + seed);
        Random rnd = new Random(seed);
        for (int round = 0; round < 500; round++) {
            ByteRanges a = new ByteRanges();
            ByteRanges b = new ByteRanges();
            CommitContent.Ranges ra = new CommitContent.Ranges();
            CommitContent.Ranges rb = new CommitContent.Ranges();
            int span = 1 + rnd.nextInt(round < 250 ? 64 : 1 << 20);
            addRandom(rnd, span, a, ra);
            addRandom(rnd, span, b, rb);
            String at = "seed " + seed + " round " + round;
            assertEquals(ra.bytesNotIn(rb), a.bytesNotIn(b), at);
            assertEquals(rb.bytesNotIn(ra), b.bytesNotIn(a), at);
            assertEquals(ra.bytesNotIn(null), a.bytesNotIn(null), at);
            // measured again after merging, and after more ranges come
            a.add(span, span + 10);
            ra.add(span, span + 10);
            assertEquals(ra.bytesNotIn(rb), a.bytesNotIn(b), at);
        }
    }

    /** Up to 40 random ranges (empty ones too) under {@code span}, added to both. */
    private static void addRandom(Random rnd, int span, ByteRanges spans, CommitContent.Ranges model) {
        for (int i = rnd.nextInt(40); i > 0; i--) {
            long from = rnd.nextInt(span);
            long to = from + rnd.nextInt(span / 4 + 2);
            spans.add(from, to);
            if (from < to) {
                model.add(from, to);
            }
        }
    }
}
