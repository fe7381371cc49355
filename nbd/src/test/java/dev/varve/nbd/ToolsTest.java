package dev.varve.nbd;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** A missing NBD client skips its test on a workstation and fails it under CI. */
class ToolsTest {
    private static final String MISSING = "varve-no-such-tool";

    @Test
    void aMissingToolFailsUnderCiAndSkipsElsewhere() {
        AssertionFailedError ci = assertThrows(AssertionFailedError.class, () -> Tools.requireUnder("true", MISSING));
        assertTrue(ci.getMessage().contains(MISSING + " is not installed") && ci.getMessage().contains("CI=true"),
                ci.getMessage());
        assertThrows(TestAbortedException.class, () -> Tools.requireUnder(null, MISSING));
        assertThrows(TestAbortedException.class, () -> Tools.requireUnder("false", MISSING));
        // a tool that is there passes either way
        assertDoesNotThrow(() -> Tools.requireUnder("true", "sh"));
        assertDoesNotThrow(() -> Tools.requireUnder(null, "sh"));
    }
}
