package dev.varve.fsck;

import java.util.List;

/**
 * One finding.
 *
 * @param severity ERROR (the store is damaged) or WARNING (a torn tail after the last commit,
 *                 records no current tree reaches, damage a repair acknowledged)
 * @param kind     a short machine-readable kind, e.g. {@code record-checksum}, {@code data-checksum},
 *                 {@code tree-node}
 * @param segment  segment id, or 0 (the superblock file, or no place in the log)
 * @param offset   byte offset in the segment (or the superblock file), or -1
 * @param affected which volumes and snapshots, and which byte ranges of them, for the VM owner;
 *                 null when nothing current is affected
 * @param ranges   the same, one item per volume or snapshot and range
 */
public record Problem(Severity severity, String kind, long segment, long offset, String message, String affected,
                      List<Affected> ranges) {
    public enum Severity { ERROR, WARNING }

    public Problem {
        ranges = ranges == null ? List.of() : List.copyOf(ranges);
    }

    /**
     * A volume or snapshot a problem reaches: {@code name} is {@code vm1} or {@code vm1@snap1}
     * (or a description such as {@code the catalog}); bytes {@code fromByte..toByte}
     * inclusive, or -1 for both when the range does not apply (properties, the whole entry).
     */
    public record Affected(String name, long fromByte, long toByte) {
        @Override
        public String toString() {
            return fromByte < 0 ? name : name + " bytes " + fromByte + "-" + toByte;
        }
    }
}
