package dev.varve.fsck;

/**
 * Counts the bytes a check has read and tells the listener, at most every 4 MiB. The data scan
 * counts from a thread of its own, so every call holds this meter's lock, the listener's too.
 */
final class Meter {
    private static final long STEP = 4L << 20;
    private final Fsck.Listener listener;
    private long done;
    private long told;

    Meter(Fsck.Listener listener) {
        this.listener = listener == null ? Fsck.Listener.NONE : listener;
    }

    synchronized void start(long totalBytes) {
        listener.start(totalBytes);
    }

    synchronized void add(long bytes) {
        done += bytes;
        if (done - told >= STEP) {
            told = done;
            listener.checked(done);
        }
    }

    synchronized long done() {
        return done;
    }

    synchronized void finish() {
        listener.checked(done);
    }
}
