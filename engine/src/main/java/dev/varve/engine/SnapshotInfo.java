package dev.varve.engine;

import java.util.List;
import java.util.Map;

/**
 * A snapshot: an immutable root in the snapshot tree.
 *
 * @param volume     the name of the volume whose line it belongs to
 * @param parent     the previous snapshot on its line ({@code VOLUME@SNAP}), or null for a root
 * @param children   the snapshots (and clone origins) taken after it on its branches
 * @param group      the group snapshot it was taken in, or null
 * @param generation the store generation (commit number) it was taken at
 */
public record SnapshotInfo(long id, String volume, String name, long createdMillis, long generation,
                           long size, int blockSize, String parent, List<String> children,
                           String group, Map<String, String> properties) {

    /** {@code VOLUME@SNAP}. */
    public String fullName() {
        return volume + "@" + name;
    }
}
