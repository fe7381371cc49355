package dev.varve.engine;

import java.nio.file.Path;

/** What {@code varve info} shows about a store. */
public record StoreInfo(Path directory, int formatVersion, long generation, long segmentSize,
                        int segmentCount, long bytesOnDisk, int volumeCount, int snapshotCount,
                        long logicalBytes) {
}
