package dev.varve.engine.stream;

import java.util.Objects;
import java.util.UUID;

/**
 * Where an interrupted receive stopped: which stream (the snapshot's identity and its base's)
 * and the byte offset up to which everything was received and made durable. A sender given
 * the token makes a stream of only what lies at or after that offset. Its text form, meant to
 * be copied between hosts, is {@code varve1:SNAPSHOT-GUID:BASE-GUID|full:OFFSET}.
 *
 * @param baseGuid null for a full stream
 */
public record ResumeToken(UUID snapshotGuid, UUID baseGuid, long offset) {
    private static final String PREFIX = "varve1";

    public ResumeToken {
        Objects.requireNonNull(snapshotGuid, "snapshotGuid");
        if (offset < 0) {
            throw new IllegalArgumentException("a resume offset cannot be negative: " + offset);
        }
    }

    /** Parses the text form; a clear IllegalArgumentException for anything else. */
    public static ResumeToken parse(String text) {
        String[] p = text.trim().split(":");
        try {
            if (p.length == 4 && p[0].equals(PREFIX)) {
                return new ResumeToken(UUID.fromString(p[1]), p[2].equals("full") ? null : UUID.fromString(p[2]),
                        Long.parseLong(p[3]));
            }
        } catch (IllegalArgumentException e) {
            // falls through to the message below
        }
        throw new IllegalArgumentException("'" + text + "' is not a Varve resume token (expected " + PREFIX
                + ":SNAPSHOT-GUID:BASE-GUID|full:OFFSET, as 'varve receive STORE VOLUME --token' prints it)");
    }

    /** True when {@code h} is a stream of the same snapshot from the same base. */
    public boolean sameStream(StreamHeader h) {
        return snapshotGuid.equals(h.snapshotGuid()) && Objects.equals(baseGuid, h.baseGuid());
    }

    @Override
    public String toString() {
        return PREFIX + ":" + snapshotGuid + ":" + (baseGuid == null ? "full" : baseGuid) + ":" + offset;
    }
}
