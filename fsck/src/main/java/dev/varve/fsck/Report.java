package dev.varve.fsck;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/** Everything a check found, with the counts it went through. */
public final class Report {
    public static final int EXIT_CLEAN = 0;
    public static final int EXIT_CORRECTED = 1;
    public static final int EXIT_UNCORRECTED = 4;
    public static final int EXIT_OPERATIONAL = 8;
    public static final int EXIT_USAGE = 16;

    /** Affected ranges shown per volume or snapshot in the text summary (JSON has them all). */
    private static final int RANGES_SHOWN = 6;

    final List<Problem> problems = new ArrayList<>();
    long metaRecords;
    long metaBytes;
    long treeNodes;
    long extents;
    long dataBlocks;
    long dataBytes;
    long volumes;
    long snapshots;
    long lastGeneration;
    long unreachableRecords;
    long pendingIntents;
    long pendingOps;
    final Set<Long> liveSegments = new TreeSet<>();
    /** Data segment -> bytes of data blocks no current tree or pending write points at. */
    final Map<Long, Long> unreferencedData = new TreeMap<>();
    /** Referenced bytes of every volume and snapshot whose tree could be read whole, recomputed from it. */
    final List<Space> space = new ArrayList<>();
    /** Set when the recomputed space was compared with the engine's own figures. */
    boolean spaceCrossChecked;
    /** Set when the check itself could not run to its end (an I/O error, a newer format). */
    boolean aborted;

    public List<Problem> problems() {
        return Collections.unmodifiableList(problems);
    }

    public long errors() {
        return problems.stream().filter(p -> p.severity() == Problem.Severity.ERROR).count();
    }

    public long warnings() {
        return problems.size() - errors();
    }

    public boolean clean() {
        return errors() == 0 && !aborted;
    }

    /** True when the check could not run to its end; its findings are incomplete. */
    public boolean aborted() {
        return aborted;
    }

    public long metaRecords() {
        return metaRecords;
    }

    /** Bytes of meta segments read front to back. */
    public long metaBytes() {
        return metaBytes;
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

    /** Bytes of data blocks read and verified. */
    public long dataBytes() {
        return dataBytes;
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

    /**
     * Tree nodes and blobs in the log that no root of the current commit reaches: older
     * versions the collector reclaims (or, if it never does, leaks). Data blocks are counted
     * apart, in {@link #unreferencedData()}.
     */
    public long unreachableRecords() {
        return unreachableRecords;
    }

    /**
     * Bytes of data blocks in the data segments that no tree of the current commit and no
     * pending write points at, per segment: overwritten, trimmed or destroyed data the
     * collector has not reclaimed yet (as the data summaries record what was written).
     */
    public Map<Long, Long> unreferencedData() {
        return Collections.unmodifiableMap(unreferencedData);
    }

    public long unreferencedDataBytes() {
        return unreferencedData.values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * What fsck recomputes of each volume's and snapshot's space from its tree (the store keeps
     * no accounting): {@code referenced} is the bytes of data its extents map, shared or not.
     */
    public record Space(String name, long logical, long referenced) {
    }

    /** Space of every volume and snapshot whose tree could be read whole, by name. */
    public List<Space> space() {
        return Collections.unmodifiableList(space);
    }

    /** True when {@link #space()} was compared with the engine's own accounting (a store without errors). */
    public boolean spaceCrossChecked() {
        return spaceCrossChecked;
    }

    /**
     * Intent records after the last commit that opening replays: writes and trims flushes made
     * durable before a commit wrote them into the trees (the next commit does).
     */
    public long pendingIntents() {
        return pendingIntents;
    }

    /** The writes and trims those intent records hold. */
    public long pendingOps() {
        return pendingOps;
    }

    /** Segments holding something the current commit reaches (its records, nodes, blobs, data, pending writes). */
    public Set<Long> liveSegments() {
        return Collections.unmodifiableSet(liveSegments);
    }

    /** e2fsck-style exit code for a check that changed nothing: 0 clean, 4 errors, 8 could not check. */
    public int exitCode() {
        if (aborted) {
            return EXIT_OPERATIONAL;
        }
        return clean() ? EXIT_CLEAN : EXIT_UNCORRECTED;
    }

    void error(String kind, long segment, long offset, String message, String affected) {
        problems.add(new Problem(Problem.Severity.ERROR, kind, segment, offset, message, affected, List.of()));
    }

    void error(String kind, long segment, long offset, String message, List<Problem.Affected> ranges) {
        problems.add(new Problem(Problem.Severity.ERROR, kind, segment, offset, message, describe(ranges), ranges));
    }

    void warning(String kind, long segment, long offset, String message) {
        problems.add(new Problem(Problem.Severity.WARNING, kind, segment, offset, message, null, List.of()));
    }

    /** "vm1 bytes 0-4095, vm1 bytes 65536-69631, vm1@s1 bytes 0-4095", shortened per name. */
    static String describe(List<Problem.Affected> ranges) {
        if (ranges == null || ranges.isEmpty()) {
            return null;
        }
        StringBuilder sb = new StringBuilder();
        var byName = ranges.stream().collect(Collectors.groupingBy(Problem.Affected::name,
                java.util.LinkedHashMap::new, Collectors.toList()));
        for (var e : byName.entrySet()) {
            List<Problem.Affected> l = e.getValue();
            for (int i = 0; i < Math.min(l.size(), RANGES_SHOWN); i++) {
                sb.append(sb.length() == 0 ? "" : ", ").append(l.get(i));
            }
            if (l.size() > RANGES_SHOWN) {
                long bytes = 0;
                for (Problem.Affected a : l.subList(RANGES_SHOWN, l.size())) {
                    bytes += a.fromByte() < 0 ? 0 : a.toByte() - a.fromByte() + 1;
                }
                sb.append(" and ").append(l.size() - RANGES_SHOWN).append(" more ranges of ").append(e.getKey())
                        .append(" (").append(bytes).append(" bytes)");
            }
        }
        return sb.toString();
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
            } else if (p.offset() >= 0) {
                sb.append(" at byte ").append(p.offset());
            }
            sb.append(": ").append(p.message());
            if (p.affected() != null) {
                sb.append(" [affects ").append(p.affected()).append(']');
            }
            sb.append('\n');
        }
        sb.append(String.format("generation %d: %d volumes, %d snapshots, %d metadata records, %d tree nodes, "
                        + "%d extents, %d data blocks checked; %d records unreachable from the current commit; "
                        + "%s%d errors, %d warnings%n",
                lastGeneration, volumes, snapshots, metaRecords, treeNodes, extents, dataBlocks, unreachableRecords,
                pendingIntents == 0 ? "" : pendingIntents + (pendingIntents == 1 ? " intent record (" : " intent records (")
                        + pendingOps + " writes and trims) "
                        + "pending after it, replayed on open; ",
                errors(), warnings()));
        return sb.toString();
    }
}
