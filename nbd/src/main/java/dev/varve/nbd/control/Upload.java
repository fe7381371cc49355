package dev.varve.nbd.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.varve.engine.StreamProgress;
import java.io.IOException;

/**
 * Bytes going into a served store (see {@link Frames}): a write, an import or a receive that
 * {@link ControlClient} has started. Each {@link #write} waits for the server's answer, so a
 * failure there (out of space, a bad stream) is thrown at once. End with {@link #finish};
 * closing without it abandons the upload and waits until the server has cleaned up (a partial
 * import is destroyed, a write's bytes so far are made durable, a receive is undone or, if
 * resumable, kept).
 *
 * <pre>{@code
 * try (Upload u = client.write("vm1", false)) {
 *     u.write(0, bytes, 0, bytes.length);
 *     u.finish(JsonNode.class);
 * }
 * }</pre>
 */
public final class Upload implements AutoCloseable {
    private final ControlClient client;
    private final JsonNode header;
    private final StreamProgress progress;
    private boolean over;

    Upload(ControlClient client, JsonNode header, StreamProgress progress) {
        this.client = client;
        this.header = header;
        this.progress = progress;
    }

    /** What the server said when it accepted the upload (a write: the volume, an import: the new volume). */
    public <T> T header(Class<T> type) throws IOException {
        return ControlClient.as(header, type);
    }

    /** Sends {@code b[off, off + len)} to go at {@code offset} (a stream ignores offsets: its bytes go in order). */
    public void write(long offset, byte[] b, int off, int len) throws IOException {
        if (over) {
            throw new IllegalStateException("invariant violated: a write after the upload ended");
        }
        synchronized (client) {
            for (int done = 0; done < len; ) {
                int n = Math.min(Frames.MAX_DATA, len - done);
                int answer;
                long count;
                long total;
                try {
                    Frames.writeData(client.output(), offset + done, b, off + done, n);
                    client.output().flush();
                    answer = Frames.readType(client.input());
                    if (answer != Frames.ACK) {
                        if (answer != Frames.FAILED) {
                            throw Frames.unexpected(answer, "in answer to a data frame");
                        }
                        over = true;
                        break;
                    }
                    count = client.input().readLong();
                    total = client.input().readLong();
                } catch (IOException e) {
                    over = true;
                    throw client.lost(e);
                }
                progress.update(count, total);
                done += n;
            }
            if (over) {
                client.reply(); // the error the server answered with: thrown
                throw new ControlException(null, "the server refused a data frame without saying why");
            }
        }
    }

    /** Ends the upload and returns the server's result. */
    public <T> T finish(Class<T> type) throws IOException {
        if (over) {
            throw new IllegalStateException("invariant violated: finish after the upload ended");
        }
        over = true;
        synchronized (client) {
            try {
                client.output().writeByte(Frames.END);
                client.output().flush();
            } catch (IOException e) {
                throw client.lost(e);
            }
            return ControlClient.as(client.reply(), type);
        }
    }

    /** Abandons an unfinished upload and waits for the server to clean up; nothing after {@link #finish}. */
    @Override
    public void close() {
        if (over) {
            return;
        }
        over = true;
        synchronized (client) {
            try {
                client.output().writeByte(Frames.ABORT);
                client.output().flush();
                client.reply();
            } catch (IOException | RuntimeException e) {
                // the server is gone or said no more than that it stopped: the upload is over either way
                client.closeQuietly();
            }
        }
    }
}
