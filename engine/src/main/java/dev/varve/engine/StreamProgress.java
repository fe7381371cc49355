package dev.varve.engine;

/** Told how far a send or receive has come, in data bytes; called often, so keep it cheap. */
@FunctionalInterface
public interface StreamProgress {
    StreamProgress NONE = (done, total) -> { };

    void update(long doneBytes, long totalBytes);
}
