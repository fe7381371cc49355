package dev.varve.fsck;

import java.util.ArrayList;
import java.util.List;

/** Everything a check found, with the counts it went through. */
public final class Report {
    public static final int EXIT_CLEAN = 0;
    public static final int EXIT_CORRECTED = 1;
    public static final int EXIT_UNCORRECTED = 4;
    public static final int EXIT_OPERATIONAL = 8;
    public static final int EXIT_USAGE = 16;

    final List<Problem> problems = new ArrayList<>();
    long metaRecords;
    long treeNodes;
    long extents;
    long dataBlocks;
    long volumes;
    long snapshots;
    long lastGeneration;

    public List<Problem> problems() {
        return problems;
    }

    public long errors() {
        return problems.stream().filter(p -> p.severity() == Problem.Severity.ERROR).count();
    }

    public boolean clean() {
        return errors() == 0;
    }

    public long metaRecords() {
        return metaRecords;
    }

    public long treeNodes() {
        return treeNodes;
    }

    public long extents() {
        return extents;
    }

    public long dataBlocks() {
        return dataBlocks;
    }

    public long volumes() {
        return volumes;
    }

    public long snapshots() {
        return snapshots;
    }

    public long lastGeneration() {
        return lastGeneration;
    }

    /** e2fsck-style exit code for a check that changed nothing. */
    public int exitCode() {
        return clean() ? EXIT_CLEAN : EXIT_UNCORRECTED;
    }

    void error(String kind, long segment, long offset, String message, String affected) {
        problems.add(new Problem(Problem.Severity.ERROR, kind, segment, offset, message, affected));
    }

    void warning(String kind, long segment, long offset, String message) {
        problems.add(new Problem(Problem.Severity.WARNING, kind, segment, offset, message, null));
    }

    public String summary() {
        StringBuilder sb = new StringBuilder();
        for (Problem p : problems) {
            sb.append(p.severity()).append(' ').append(p.kind());
            if (p.segment() > 0) {
                sb.append(" at segment ").append(p.segment());
                if (p.offset() >= 0) {
                    sb.append(" offset ").append(p.offset());
                }
            }
            sb.append(": ").append(p.message());
            if (p.affected() != null) {
                sb.append(" [affects ").append(p.affected()).append(']');
            }
            sb.append('\n');
        }
        sb.append(String.format("generation %d: %d volumes, %d snapshots, %d metadata records, %d tree nodes, "
                        + "%d extents, %d data blocks checked; %d errors, %d warnings%n",
                lastGeneration, volumes, snapshots, metaRecords, treeNodes, extents, dataBlocks, errors(),
                problems.size() - errors()));
        return sb.toString();
    }
}
