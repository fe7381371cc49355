package dev.varve.engine.format;

/**
 * The on-disk format version. A store whose version is newer than this is refused. Version 2
 * added inline intent ops ({@link IntentLayout#INLINE}); a version-1 store opened read-write
 * is marked version 2 before anything is written, so an older Varve refuses it with a clear
 * error instead of misreading its intent records.
 */
public final class FormatVersion {
    public static final int CURRENT = 2;
    public static final int OLDEST_READABLE = 1;

    private FormatVersion() {
    }
}
