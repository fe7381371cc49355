package dev.varve.engine;

/**
 * Space a volume or snapshot takes, exact, from the trees.
 *
 * @param name       {@code VOLUME} or {@code VOLUME@SNAPSHOT}
 * @param logical    its size as the guest sees it
 * @param referenced bytes of data its map points at (shared or not)
 * @param exclusive  bytes of data only it points at: what destroying it (and collecting) frees
 */
public record SpaceInfo(String name, long logical, long referenced, long exclusive) {
}
