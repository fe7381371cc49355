package dev.varve.fsck;

/** Counts the bytes a check has read and tells the listener, at most every 4 MiB. */
final class Meter {
    private static final long STEP = 4L << 20;
    private final Fsck.Listener listener;
    private long done;
    private long told;

    Meter(Fsck.Listener listener) {
        this.listener = listener == null ? Fsck.Listener.NONE : listener;
    }

    void start(long totalBytes) {
        listener.start(totalBytes);
    }

    void add(long bytes) {
        done += bytes;
        if (done - told >= STEP) {
            told = done;
            listener.checked(done);
        }
    }

    long done() {
        return done;
    }

    void finish() {
        listener.checked(done);
    }
}
