package dev.varve.engine;

import dev.varve.engine.stream.FrameReader;
import dev.varve.engine.stream.ResumeToken;
import dev.varve.engine.stream.StreamHeader;
import dev.varve.engine.stream.StreamLayout;
import dev.varve.engine.stream.StreamMismatchException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Receives a send stream into a volume, atomically: everything is written into a partial
 * volume ({@code %recv-VOLUME}: a new volume for a full stream, a clone of the base snapshot
 * for an incremental), and only once the END frame has verified does one commit make it the
 * volume's head and snapshot it ({@link Store#completeReceive}). If anything fails before that,
 * the partial volume is destroyed and the store is as it was; with {@link ReceiveOptions#resumable()}
 * it is kept instead, with a {@link ResumeToken} in its {@code varve:resume-token} property.
 *
 * <p>An incremental applies only onto a snapshot of the volume whose identity is the stream's
 * base. The volume head then moves to the received snapshot; that loses nothing when the head
 * has no changes since the snapshot it stands on (or since the base), and is refused otherwise
 * unless {@link ReceiveOptions#force()} says to discard them. Later snapshots always stay.
 */
final class Receive {
    /** A resumable receive records its progress (one commit) after about this much of the stream. */
    private static final long CHECKPOINT_BYTES = 64L << 20;

    private final Store store;
    private final String volume;
    private final String partial;
    private final ReceiveOptions options;

    /** What the stream applies to in this store. */
    private record Target(String base, long baseId, long parentId) {
    }

    Receive(Store store, String volume, ReceiveOptions options) {
        this.store = store;
        this.volume = volume;
        this.partial = partialName(volume);
        this.options = options == null ? ReceiveOptions.defaults() : options;
    }

    static String partialName(String volume) {
        Store.validateName("volume", volume);
        String p = StreamLayout.PARTIAL_PREFIX + volume;
        if (p.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 255) {
            throw new InvalidNameException("volume name '" + volume + "' is too long to receive into: the partial"
                    + " volume '" + StreamLayout.PARTIAL_PREFIX + "NAME' must fit in 255 bytes");
        }
        return p;
    }

    ReceiveResult run(InputStream in) throws IOException {
        FrameReader reader = new FrameReader(in);
        StreamHeader h = reader.begin();
        Store.validateName("snapshot", h.snapshotName());
        if (h.resumed() && !options.resume()) {
            throw new StreamMismatchException("the stream continues an interrupted receive (it starts at offset "
                    + h.resumeOffset() + "); receive it with --resume");
        }
        if (options.resume() && !h.resumed()) {
            throw new StreamMismatchException("--resume needs a stream made with 'varve send ... --resume-token TOKEN'"
                    + "; this one is a whole stream of " + h.sentName());
        }
        boolean partialExists = exists(partial);
        Target target;
        long received = 0; // everything below it is in the partial volume already
        if (options.resume()) {
            ResumeToken token = partialExists ? token(store, volume) : null;
            if (token == null) {
                throw new StreamMismatchException("there is no interrupted receive into '" + volume + "' to resume"
                        + (partialExists ? " (volume '" + partial + "' has no resume token)" : ""));
            }
            if (!token.sameStream(h)) {
                throw new StreamMismatchException("the interrupted receive into '" + volume + "' was of another stream ("
                        + token + "), not " + h.sentName() + "; resume it with a stream made from its token");
            }
            if (h.resumeOffset() > token.offset()) {
                throw new StreamMismatchException("the stream resumes at offset " + h.resumeOffset()
                        + " but the receive into '" + volume + "' stopped at " + token.offset()
                        + "; make the stream with the token 'varve receive STORE " + volume + " --token' prints");
            }
            VolumeInfo p = store.volumeInfo(partial);
            if (p.size() != h.size() || p.blockSize() != h.blockSize()) {
                throw new StreamMismatchException("the partial volume '" + partial + "' does not have the stream's"
                        + " geometry; discard it with 'varve receive STORE " + volume + " --abort'");
            }
            received = token.offset();
            target = check(h);
        } else {
            if (partialExists) {
                ResumeToken token = token(store, volume);
                throw new StreamMismatchException("an interrupted receive into '" + volume + "' is pending (volume '"
                        + partial + "'" + (token == null ? "" : ", resume token " + token) + "); "
                        + (token == null ? "" : "resume it with 'varve send ... --resume-token TOKEN | varve receive"
                        + " STORE " + volume + " --resume', or ")
                        + "discard it with 'varve receive STORE " + volume + " --abort'");
            }
            target = check(h);
        }
        boolean keep = options.resumable() || options.resume();
        boolean created = options.resume();
        long applied = h.resumeOffset();
        try {
            if (!options.resume()) {
                if (target.base() == null) {
                    store.createPartial(partial, h.size(), h.blockSize());
                } else {
                    store.clonePartial(volume, target.base(), partial);
                }
                created = true;
                if (store.volumeInfo(partial).size() != h.size()) {
                    store.resize(store.partialVolume(partial), h.size());
                }
                if (keep) {
                    checkpoint(h, applied);
                }
            }
            Volume v = store.partialVolume(partial);
            long sinceCheckpoint = 0;
            options.progress().update(0, h.dataBytes());
            for (byte type = reader.next(); type != StreamLayout.TYPE_END; type = reader.next()) {
                if (type == StreamLayout.TYPE_DATA) {
                    v.write(reader.offset(), ByteBuffer.wrap(reader.buffer(), reader.dataStart(), (int) reader.length()));
                    sinceCheckpoint += reader.length();
                    options.progress().update(reader.dataBytes(), h.dataBytes());
                } else {
                    v.trim(reader.offset(), reader.length());
                }
                applied = reader.offset() + reader.length();
                sinceCheckpoint += StreamLayout.FRAME_OVERHEAD;
                if (keep && sinceCheckpoint >= CHECKPOINT_BYTES) {
                    checkpoint(h, Math.max(received, applied));
                    sinceCheckpoint = 0;
                }
            }
            Map<String, String> props = new TreeMap<>(h.properties());
            props.put(StreamLayout.GUID_PROPERTY, h.snapshotGuid().toString());
            SnapshotInfo s = store.completeReceive(partial, volume, target.baseId(), target.parentId(),
                    h.snapshotName(), props, options.force());
            return new ReceiveResult(s, target.base(), h.resumed(), reader.position(), reader.dataBytes(),
                    reader.holeBytes());
        } catch (IOException | RuntimeException e) {
            if (created) {
                try {
                    if (keep) {
                        checkpoint(h, Math.max(received, applied));
                    } else {
                        store.destroyPartial(partial);
                    }
                } catch (IOException | RuntimeException again) {
                    e.addSuppressed(again);
                }
            }
            throw e;
        }
    }

    /** Makes what was received durable, with the point to resume from (one commit). */
    private void checkpoint(StreamHeader h, long applied) throws IOException {
        store.setProperty(partial, StreamLayout.RESUME_TOKEN_PROPERTY,
                new ResumeToken(h.snapshotGuid(), h.baseGuid(), applied).toString());
    }

    /** Where the stream applies, refusing it (before anything is created) where it does not. */
    private Target check(StreamHeader h) throws IOException {
        if (!h.incremental()) {
            if (exists(volume)) {
                throw new NameExistsException("a volume named '" + volume + "' exists in " + store.directory()
                        + "; a full stream makes a new volume: receive it under another name, or send an incremental"
                        + " from a snapshot '" + volume + "' has (varve send ... --from SNAP)");
            }
            return new Target(null, 0, 0);
        }
        if (!exists(volume)) {
            throw new NoSuchVolumeException("no volume named '" + volume + "' in " + store.directory() + "; the stream is"
                    + " an incremental from " + h.volumeName() + "@" + h.baseName() + " and applies only onto a volume"
                    + " that has that snapshot");
        }
        List<SnapshotInfo> snaps = store.snapshots(volume);
        SnapshotInfo base = find(snaps, h.baseGuid());
        if (base == null) {
            List<String> names = new ArrayList<>();
            for (SnapshotInfo s : snaps) {
                names.add(s.name());
            }
            throw new StreamMismatchException("volume '" + volume + "' has no snapshot " + h.volumeName() + "@"
                    + h.baseName() + " (identity " + h.baseGuid() + "), the base of this incremental stream; its"
                    + " snapshots are " + (names.isEmpty() ? "none" : String.join(", ", names))
                    + ". Send a full stream, or an incremental from one of them");
        }
        if (base.blockSize() != h.blockSize()) {
            throw new StreamMismatchException("the stream has " + h.blockSize() + "-byte blocks, " + base.fullName()
                    + " " + base.blockSize());
        }
        for (SnapshotInfo s : snaps) {
            if (s.name().equals(h.snapshotName())) {
                throw new NameExistsException("snapshot '" + s.fullName() + "' exists already"
                        + (h.snapshotGuid().equals(store.snapshotGuid(s.fullName())) ? " (it was received before)" : ""));
            }
        }
        if (!options.force() && !store.headUnchanged(volume, base.id())) {
            throw new StreamMismatchException("volume '" + volume + "' has changes since its last snapshot that"
                    + " receiving would discard; snapshot them first (varve snapshot STORE " + volume + "@NAME),"
                    + " or receive with -F to discard them");
        }
        SnapshotInfo parent = h.parentGuid() == null ? null : find(snaps, h.parentGuid());
        return new Target(base.fullName(), base.id(), parent == null ? base.id() : parent.id());
    }

    private SnapshotInfo find(List<SnapshotInfo> snaps, UUID guid) throws IOException {
        for (SnapshotInfo s : snaps) {
            if (guid.equals(store.snapshotGuid(s.fullName()))) {
                return s;
            }
        }
        return null;
    }

    private boolean exists(String name) throws IOException {
        try {
            store.volumeInfo(name);
            return true;
        } catch (NoSuchVolumeException e) {
            return false;
        }
    }

    /** The resume token of an interrupted receive into {@code volume}, or null. */
    static ResumeToken token(Store store, String volume) throws IOException {
        String t;
        try {
            t = store.properties(partialName(volume)).get(StreamLayout.RESUME_TOKEN_PROPERTY);
        } catch (NoSuchVolumeException e) {
            return null;
        }
        return t == null ? null : ResumeToken.parse(t);
    }

    /** Discards an interrupted receive into {@code volume}. */
    static void abort(Store store, String volume) throws IOException {
        String p = partialName(volume);
        try {
            store.volumeInfo(p);
        } catch (NoSuchVolumeException e) {
            throw new NoSuchVolumeException("there is no interrupted receive into '" + volume + "' (no volume '" + p
                    + "') in " + store.directory());
        }
        store.destroyPartial(p);
    }
}
