package dev.varve.engine;

/**
 * How {@link Store#receive} behaves.
 *
 * @param force     an incremental receive moves the volume head to the received snapshot even
 *                  when the head has changes no snapshot holds (they are discarded, as
 *                  {@code zfs receive -F} does); without it such a receive is refused
 * @param resumable an interrupted receive keeps what it received, with a resume token, instead
 *                  of removing it
 * @param resume    the stream continues an interrupted receive (it was made with a resume token)
 */
public record ReceiveOptions(boolean force, boolean resumable, boolean resume, StreamProgress progress) {
    public ReceiveOptions {
        progress = progress == null ? StreamProgress.NONE : progress;
    }

    public static ReceiveOptions defaults() {
        return new ReceiveOptions(false, false, false, StreamProgress.NONE);
    }

    public ReceiveOptions withForce(boolean f) {
        return new ReceiveOptions(f, resumable, resume, progress);
    }

    public ReceiveOptions withResumable(boolean r) {
        return new ReceiveOptions(force, r, resume, progress);
    }

    public ReceiveOptions withResume(boolean r) {
        return new ReceiveOptions(force, resumable, r, progress);
    }

    public ReceiveOptions withProgress(StreamProgress p) {
        return new ReceiveOptions(force, resumable, resume, p);
    }
}
