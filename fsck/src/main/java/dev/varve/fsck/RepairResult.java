package dev.varve.fsck;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** What {@code fsck --repair} found, did, and lost. */
public final class RepairResult {
    /**
     * Something the repair could not keep: a volume, a snapshot, properties, or commits;
     * {@code ranges} the byte ranges of {@code name} lost, when known (a volume going back to an
     * older commit, whose trees could both be read), else empty.
     */
    public record Loss(String name, String what, List<Problem.Affected> ranges) {
        public Loss {
            ranges = ranges == null ? List.of() : List.copyOf(ranges);
        }

        public Loss(String name, String what) {
            this(name, what, List.of());
        }

        @Override
        public String toString() {
            return name + ": " + what;
        }
    }

    /** Losses listed in the text summary; JSON has them all. */
    private static final int LOSSES_SHOWN = 20;

    final List<String> actions = new ArrayList<>();
    final List<Loss> losses = new ArrayList<>();
    Report before;
    Report after;
    /** Where the log ended before the repair (-1 when no commit could be found). */
    long fromGeneration = -1;
    /** The commit whose content the store now holds (-1 when nothing was done). */
    long toGeneration = -1;
    /** The generation of the commit the repair wrote (-1 when it only rewrote superblocks, or nothing). */
    long newGeneration = -1;
    boolean performed;
    /** Why no repair was possible, or null. */
    String impossible;
    boolean salvage;

    /** The check before repairing. */
    public Report before() {
        return before;
    }

    /** The check after repairing (the same as {@link #before} when nothing was written). */
    public Report after() {
        return after;
    }

    public List<String> actions() {
        return Collections.unmodifiableList(actions);
    }

    public List<Loss> losses() {
        return Collections.unmodifiableList(losses);
    }

    public long fromGeneration() {
        return fromGeneration;
    }

    public long toGeneration() {
        return toGeneration;
    }

    public long newGeneration() {
        return newGeneration;
    }

    /** True when the repair wrote anything. */
    public boolean performed() {
        return performed;
    }

    /** Why the store could not be repaired, or null. */
    public String impossible() {
        return impossible;
    }

    public boolean salvage() {
        return salvage;
    }

    /** e2fsck-style: 0 nothing to repair, 1 errors corrected, 4 errors left, 8 the check itself failed. */
    public int exitCode() {
        if (before.aborted() || (after != null && after.aborted())) {
            return Report.EXIT_OPERATIONAL;
        }
        if (before.clean()) {
            return Report.EXIT_CLEAN;
        }
        return performed && after != null && after.clean() ? Report.EXIT_CORRECTED : Report.EXIT_UNCORRECTED;
    }

    public String summary() {
        StringBuilder sb = new StringBuilder();
        if (before.clean()) {
            sb.append("nothing to repair\n");
            return sb.toString();
        }
        for (String a : actions) {
            sb.append("repair: ").append(a).append('\n');
        }
        if (impossible != null) {
            sb.append("repair: not possible: ").append(impossible).append('\n');
        }
        if (performed) {
            if (losses.isEmpty()) {
                sb.append("repair: nothing was lost\n");
            }
            for (Loss l : losses.subList(0, Math.min(losses.size(), LOSSES_SHOWN))) {
                sb.append("lost: ").append(l).append('\n');
            }
            if (losses.size() > LOSSES_SHOWN) {
                sb.append("lost: ... and ").append(losses.size() - LOSSES_SHOWN).append(" more (--json lists them all)\n");
            }
        }
        return sb.toString();
    }
}
