package dev.varve.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The ideal cleaner the write-amplification figures are read against behaves as cleaning theory says. */
class GcModelTest {
    private static double wa(int fill, boolean skewed, GcModel.Policy policy, long seed) {
        return GcModel.writeAmplification(64, 64, fill, skewed, policy, 2, 2, seed);
    }

    @Test
    void aNearlyEmptyStoreMovesAlmostNothing() {
        double w = wa(20, false, GcModel.Policy.GREEDY, 1);
        assertTrue(w >= 1.0 && w < 1.05, "write amplification at 20% fill: " + w);
    }

    @Test
    void writeAmplificationGrowsWithFill() {
        double previous = 1.0;
        for (int fill : new int[] {50, 70, 80, 90}) {
            double w = wa(fill, false, GcModel.Policy.GREEDY, 2);
            assertTrue(w > previous, fill + "% gave " + w + ", not more than " + previous + " at the fill below");
            previous = w;
        }
    }

    @Test
    void knowingTheTemperatureBeatsGreedyUnderSkew() {
        for (long seed = 3; seed < 6; seed++) {
            double greedy = wa(80, true, GcModel.Policy.GREEDY, seed);
            double told = wa(80, true, GcModel.Policy.TOLD_TEMPERATURE, seed);
            assertTrue(told < greedy * 0.9, "seed " + seed + ": told " + told + ", greedy " + greedy);
        }
    }

    @Test
    void aSeedReplaysExactly() {
        assertEquals(wa(80, true, GcModel.Policy.TOLD_TEMPERATURE, 7), wa(80, true, GcModel.Policy.TOLD_TEMPERATURE, 7));
    }

    @Test
    void refusesAFillThatLeavesNoRoomToClean() {
        assertThrows(IllegalArgumentException.class, () -> wa(97, false, GcModel.Policy.TOLD_TEMPERATURE, 1));
    }
}
