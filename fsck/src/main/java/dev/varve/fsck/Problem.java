package dev.varve.fsck;

/**
 * One finding.
 *
 * @param severity ERROR (the store is damaged) or WARNING (e.g. a torn tail after the last
 *                 commit, unreachable records)
 * @param kind     a short machine-readable kind, e.g. {@code record-checksum}, {@code data-checksum}
 * @param segment  segment id, or 0
 * @param offset   byte offset in the segment, or -1
 * @param affected which volumes or snapshots and which byte ranges, for the VM owner
 */
public record Problem(Severity severity, String kind, long segment, long offset, String message, String affected) {
    public enum Severity { ERROR, WARNING }
}
