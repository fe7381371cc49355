package dev.varve.engine.format;

/** The on-disk format version. A store whose version is newer than this is refused. */
public final class FormatVersion {
    public static final int CURRENT = 1;
    public static final int OLDEST_READABLE = 1;

    private FormatVersion() {
    }
}
