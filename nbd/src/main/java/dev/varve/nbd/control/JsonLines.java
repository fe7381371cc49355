package dev.varve.nbd.control;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** One JSON object per line, each way; lines are bounded so a bad peer cannot fill memory. */
final class JsonLines {
    static final int MAX_LINE_BYTES = 8 << 20;
    static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private JsonLines() {
    }

    /** The next line as JSON, or null at a clean end of stream. */
    static JsonNode read(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            if (b < 0) {
                if (line.size() == 0) {
                    return null;
                }
                throw new EOFException("the peer closed the control connection mid-line");
            }
            if (b == '\n') {
                break;
            }
            if (line.size() >= MAX_LINE_BYTES) {
                throw new IOException("control line longer than " + MAX_LINE_BYTES + " bytes");
            }
            line.write(b);
        }
        return MAPPER.readTree(line.toString(StandardCharsets.UTF_8));
    }

    static void write(OutputStream out, JsonNode node) throws IOException {
        byte[] b = MAPPER.writeValueAsBytes(node);
        out.write(b);
        out.write('\n');
        out.flush();
    }
}
