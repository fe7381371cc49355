package dev.varve.nbd;

import static dev.varve.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A hand-made NBD client for what real clients never send: malformed options and requests,
 * out-of-range offsets, writes to read-only exports. Everything blocks with a timeout, so a
 * server that hangs fails the test instead of stalling it.
 */
final class RawClient implements AutoCloseable {
    static final int TIMEOUT_MILLIS = 20_000;

    final Socket socket;
    final DataInputStream in;
    final DataOutputStream out;
    long size;
    int transmissionFlags;

    /** One option reply. */
    record OptionReply(int option, int type, byte[] data) {
        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    /** One reply chunk; a simple reply is a chunk with {@code simple} set. */
    record Chunk(boolean simple, int flags, int type, long cookie, int error, byte[] payload) {
        boolean done() {
            return simple || (flags & REPLY_FLAG_DONE) != 0;
        }

        /** The error of a simple reply or an error chunk; 0 for success. */
        int errno() {
            if (simple) {
                return error;
            }
            return (type & 0x8000) != 0 ? ByteBuffer.wrap(payload).getInt(0) : 0;
        }
    }

    RawClient(int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), TIMEOUT_MILLIS);
        socket.setSoTimeout(TIMEOUT_MILLIS);
        socket.setTcpNoDelay(true);
        in = new DataInputStream(new java.io.BufferedInputStream(socket.getInputStream()));
        out = new DataOutputStream(new java.io.BufferedOutputStream(socket.getOutputStream()));
    }

    /** Reads the greeting and answers with fixed newstyle and no zeroes. */
    RawClient greet() throws IOException {
        assertEquals(NBDMAGIC, in.readLong());
        assertEquals(IHAVEOPT, in.readLong());
        int flags = in.readUnsignedShort();
        assertEquals(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, flags);
        out.writeInt(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES);
        out.flush();
        return this;
    }

    void sendOption(int option, byte[] data) throws IOException {
        out.writeLong(IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    OptionReply readOptionReply() throws IOException {
        assertEquals(REPLY_MAGIC, in.readLong());
        int option = in.readInt();
        int type = in.readInt();
        int len = in.readInt();
        byte[] data = new byte[len];
        in.readFully(data);
        return new OptionReply(option, type, data);
    }

    /** Sends an option and reads replies up to the final one (ACK or an error). */
    List<OptionReply> option(int option, byte[] data) throws IOException {
        sendOption(option, data);
        List<OptionReply> replies = new ArrayList<>();
        while (true) {
            OptionReply r = readOptionReply();
            replies.add(r);
            if (r.type() == REP_ACK || (r.type() & 0x80000000) != 0) {
                return replies;
            }
        }
    }

    static byte[] goData(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length);
        b.putInt(n.length).put(n).putShort((short) infos.length);
        for (int i : infos) {
            b.putShort((short) i);
        }
        return b.array();
    }

    static byte[] metaData(String name, String... queries) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        int len = 4 + n.length + 4;
        for (String q : queries) {
            len += 4 + q.getBytes(StandardCharsets.UTF_8).length;
        }
        ByteBuffer b = ByteBuffer.allocate(len);
        b.putInt(n.length).put(n).putInt(queries.length);
        for (String q : queries) {
            byte[] x = q.getBytes(StandardCharsets.UTF_8);
            b.putInt(x.length).put(x);
        }
        return b.array();
    }

    /**
     * Negotiates (structured replies and base:allocation, if asked) and enters transmission on
     * {@code export} with GO; returns the final reply, ACK on success.
     */
    OptionReply go(String export, boolean structured) throws IOException {
        if (structured) {
            assertEquals(REP_ACK, option(OPT_STRUCTURED_REPLY, new byte[0]).get(0).type());
            List<OptionReply> meta = option(OPT_SET_META_CONTEXT, metaData(export, BASE_ALLOCATION));
            if (meta.get(meta.size() - 1).type() != REP_ACK) {
                return meta.get(meta.size() - 1);
            }
        }
        List<OptionReply> rs = option(OPT_GO, goData(export));
        for (OptionReply r : rs) {
            if (r.type() == REP_INFO) {
                ByteBuffer b = ByteBuffer.wrap(r.data());
                if (b.getShort() == INFO_EXPORT) {
                    size = b.getLong();
                    transmissionFlags = b.getShort() & 0xffff;
                }
            }
        }
        return rs.get(rs.size() - 1);
    }

    void request(int flags, int type, long cookie, long offset, long length, byte[] payload) throws IOException {
        out.writeInt(REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt((int) length);
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
    }

    /** Reads one simple reply (with {@code readLength} bytes of data on success) or one chunk. */
    Chunk readReply(int readLength) throws IOException {
        int magic = in.readInt();
        if (magic == SIMPLE_REPLY_MAGIC) {
            int error = in.readInt();
            long cookie = in.readLong();
            byte[] data = new byte[error == 0 ? readLength : 0];
            in.readFully(data);
            return new Chunk(true, 0, 0, cookie, error, data);
        }
        assertEquals(STRUCTURED_REPLY_MAGIC, magic, "reply magic");
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long cookie = in.readLong();
        int len = in.readInt();
        if (len < 0 || len > (64 << 20)) {
            throw new AssertionError("chunk of " + Integer.toUnsignedString(len) + " bytes");
        }
        byte[] payload = new byte[len];
        in.readFully(payload);
        return new Chunk(false, flags, type, cookie, 0, payload);
    }

    /** Every chunk of one reply, up to the one flagged done. */
    List<Chunk> readAll(int readLength) throws IOException {
        List<Chunk> cs = new ArrayList<>();
        Chunk c;
        do {
            c = readReply(readLength);
            cs.add(c);
        } while (!c.done());
        return cs;
    }

    /** The error of a command's reply, 0 for success. */
    int command(int flags, int type, long offset, long length, byte[] payload, int readLength) throws IOException {
        request(flags, type, 7, offset, length, payload);
        for (Chunk c : readAll(readLength)) {
            assertEquals(7, c.cookie());
            if (c.errno() != 0) {
                return c.errno();
            }
        }
        return 0;
    }

    /** True when the server closed the connection (end of stream before {@code millis}). */
    boolean closedByServer() throws IOException {
        try {
            InputStream i = socket.getInputStream();
            byte[] b = new byte[4096];
            while (true) {
                int n = i.read(b);
                if (n < 0) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (EOFException | java.net.SocketException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
