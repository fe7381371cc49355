package dev.varve.engine.log;

import dev.varve.engine.io.StorageFile;

/** One segment file: its id, kind (meta or data) and open file. */
public final class Segment {
    public final long id;
    public final int kind;
    public final StorageFile file;

    Segment(long id, int kind, StorageFile file) {
        this.id = id;
        this.kind = kind;
        this.file = file;
    }
}
