package dev.varve.engine;

import java.util.Map;

/**
 * A volume head as the catalog holds it.
 *
 * @param origin   the snapshot ({@code VOLUME@SNAP}) this volume was cloned from, or null
 * @param position the snapshot the head was last taken at or reverted to ("you are here"), or null
 */
public record VolumeInfo(long id, String name, long size, int blockSize, long createdMillis,
                         String origin, String position, int snapshotCount,
                         Map<String, String> properties) {
}
