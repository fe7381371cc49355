package dev.varve.nbd;

import static dev.varve.nbd.NbdProtocol.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The fixed newstyle handshake: greeting, client flags, then options until the client picks an
 * export (GO or EXPORT_NAME) or leaves (ABORT, or by closing). Malformed options get the error
 * reply the protocol prescribes; only a broken frame (bad magic, unknown client flags, an
 * option too long to skip) ends the connection.
 */
final class Handshake {
    /** Option data the server reads into memory; longer options are skipped or end the connection. */
    static final int MAX_OPTION_BYTES = 64 << 10;
    /** Longer option data than this is not even skipped: the client is not speaking NBD. */
    static final int MAX_SKIP_BYTES = 1 << 20;
    /** Options per connection; a client haggling past this is treated as abusive. */
    static final int MAX_OPTIONS = 4096;
    /** The one metadata context Varve serves, and the id it goes by. */
    static final int BASE_ALLOCATION_ID = 1;

    /** What the client chose: the export and the reply style. */
    record Result(Export export, boolean structuredReplies, boolean baseAllocation) {
    }

    private final Connection conn;
    private final SocketChannel ch;
    private final Exports exports;
    private final int maxRequest;
    private boolean fixedNewstyle;
    private boolean noZeroes;
    private boolean structured;
    /** The export the last SET_META_CONTEXT named, and whether it selected base:allocation. */
    private String metaExport;
    private boolean metaBase;

    Handshake(Connection conn, Exports exports, int maxRequest) {
        this.conn = conn;
        this.ch = conn.channel();
        this.exports = exports;
        this.maxRequest = maxRequest;
    }

    /** Runs the handshake; null when the client left without choosing an export. */
    Result run() throws IOException {
        ByteBuffer hello = ByteBuffer.allocate(18);
        hello.putLong(NBDMAGIC).putLong(IHAVEOPT).putShort((short) (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)).flip();
        Wire.writeFully(ch, hello);
        ByteBuffer cf = ByteBuffer.allocate(4);
        Wire.readFully(ch, cf);
        int clientFlags = cf.getInt(0);
        if ((clientFlags & ~(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)) != 0) {
            throw new ProtocolViolation("unknown client flags 0x" + Integer.toHexString(clientFlags));
        }
        fixedNewstyle = (clientFlags & FLAG_C_FIXED_NEWSTYLE) != 0;
        noZeroes = (clientFlags & FLAG_C_NO_ZEROES) != 0;

        ByteBuffer head = ByteBuffer.allocate(OPTION_HEADER_BYTES);
        for (int n = 0; n < MAX_OPTIONS; n++) {
            head.clear();
            Wire.readFully(ch, head);
            if (head.getLong(0) != IHAVEOPT) {
                throw new ProtocolViolation("option without IHAVEOPT magic");
            }
            int option = head.getInt(8);
            long length = Integer.toUnsignedLong(head.getInt(12));
            if (!fixedNewstyle && option != OPT_EXPORT_NAME) {
                // plain newstyle has no option replies: nothing else can be answered
                throw new ProtocolViolation("option " + option + " from a client that is not fixed newstyle");
            }
            if (length > MAX_OPTION_BYTES) {
                if (length > MAX_SKIP_BYTES || option == OPT_EXPORT_NAME) {
                    throw new ProtocolViolation("option " + option + " of " + length + " bytes");
                }
                Wire.skip(ch, length, ByteBuffer.allocate(64 << 10));
                error(option, REP_ERR_TOO_BIG, "option data of " + length + " bytes; at most " + MAX_OPTION_BYTES);
                continue;
            }
            ByteBuffer data = ByteBuffer.allocate((int) length);
            Wire.readFully(ch, data);
            data.flip();
            switch (option) {
                case OPT_EXPORT_NAME -> {
                    return exportName(data);
                }
                case OPT_ABORT -> {
                    try {
                        reply(option, REP_ACK, null);
                    } catch (IOException e) {
                        // the client may close without waiting for the acknowledgement
                    }
                    return null;
                }
                case OPT_LIST -> list(data);
                case OPT_INFO, OPT_GO -> {
                    Result r = infoOrGo(option, data);
                    if (r != null) {
                        return r;
                    }
                }
                case OPT_STRUCTURED_REPLY -> {
                    if (data.hasRemaining()) {
                        error(option, REP_ERR_INVALID, "STRUCTURED_REPLY carries no data");
                    } else {
                        structured = true;
                        reply(option, REP_ACK, null);
                    }
                }
                case OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT -> metaContext(option, data);
                case OPT_STARTTLS -> error(option, REP_ERR_UNSUP, "this server does not speak TLS; reach it over "
                        + "loopback, a Unix socket or an SSH tunnel");
                default -> error(option, REP_ERR_UNSUP, "option " + option + " is not supported");
            }
        }
        throw new ProtocolViolation("more than " + MAX_OPTIONS + " options");
    }

    private Result exportName(ByteBuffer data) throws IOException {
        String name = data.remaining() > MAX_STRING ? null : Wire.utf8(bytes(data));
        Export e = name == null ? null : exports.resolve(name);
        // the protocol gives EXPORT_NAME no way to refuse: the connection just ends
        if (e == null || !conn.attach(e)) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(noZeroes ? 10 : 134);
        b.putLong(e.device().size()).putShort((short) e.transmissionFlags(structured));
        b.clear();
        Wire.writeFully(ch, b);
        return new Result(e, structured, metaBase && name.equals(metaExport));
    }

    private void list(ByteBuffer data) throws IOException {
        if (data.hasRemaining()) {
            error(OPT_LIST, REP_ERR_INVALID, "LIST carries no data");
            return;
        }
        for (Exports.Entry x : exports.list()) {
            byte[] name = x.name().getBytes(StandardCharsets.UTF_8);
            byte[] desc = x.description().getBytes(StandardCharsets.UTF_8);
            ByteBuffer b = ByteBuffer.allocate(4 + name.length + desc.length);
            b.putInt(name.length).put(name).put(desc);
            reply(OPT_LIST, REP_SERVER, b.array());
        }
        reply(OPT_LIST, REP_ACK, null);
    }

    /** INFO answers and stays in the handshake; GO answers and returns the chosen export. */
    private Result infoOrGo(int option, ByteBuffer data) throws IOException {
        if (data.remaining() < 6) {
            error(option, REP_ERR_INVALID, "INFO/GO data is too short");
            return null;
        }
        long nameLength = Integer.toUnsignedLong(data.getInt());
        if (nameLength > data.remaining() - 2) {
            error(option, REP_ERR_INVALID, "INFO/GO name length runs past the option");
            return null;
        }
        byte[] nameBytes = new byte[(int) nameLength];
        data.get(nameBytes);
        int requests = Short.toUnsignedInt(data.getShort());
        if (data.remaining() != 2 * requests) {
            error(option, REP_ERR_INVALID, "INFO/GO holds " + requests + " information requests but "
                    + data.remaining() + " bytes for them");
            return null;
        }
        boolean wantName = false;
        boolean wantDescription = false;
        for (int i = 0; i < requests; i++) {
            int type = Short.toUnsignedInt(data.getShort());
            wantName |= type == INFO_NAME;
            wantDescription |= type == INFO_DESCRIPTION;
        }
        String name = nameBytes.length > MAX_STRING ? null : Wire.utf8(nameBytes);
        if (name == null) {
            error(option, REP_ERR_INVALID, "the export name is not a UTF-8 string of at most " + MAX_STRING + " bytes");
            return null;
        }
        Export e = exports.resolve(name);
        if (e == null) {
            error(option, REP_ERR_UNKNOWN, name.isEmpty()
                    ? "no default export: this store does not hold exactly one volume; name a volume or VOLUME@SNAPSHOT"
                    : "no volume or snapshot named '" + name + "' in this store");
            return null;
        }
        if (option == OPT_GO && !conn.attach(e)) {
            if (conn.serverClosing()) {
                error(option, REP_ERR_SHUTDOWN, "the server is shutting down");
            } else {
                error(option, REP_ERR_POLICY, "'" + e.name() + "' is being changed (revert, destroy); try again");
            }
            return null;
        }
        ByteBuffer info = ByteBuffer.allocate(12);
        info.putShort((short) INFO_EXPORT).putLong(e.device().size()).putShort((short) e.transmissionFlags(structured));
        reply(option, REP_INFO, info.array());
        if (wantName) {
            byte[] n = e.name().getBytes(StandardCharsets.UTF_8);
            reply(option, REP_INFO, ByteBuffer.allocate(2 + n.length).putShort((short) INFO_NAME).put(n).array());
        }
        if (wantDescription) {
            byte[] d = e.description().getBytes(StandardCharsets.UTF_8);
            reply(option, REP_INFO, ByteBuffer.allocate(2 + d.length).putShort((short) INFO_DESCRIPTION).put(d).array());
        }
        int preferred = Math.max(4096, e.device().blockSize());
        ByteBuffer bs = ByteBuffer.allocate(14);
        bs.putShort((short) INFO_BLOCK_SIZE).putInt(1).putInt(preferred).putInt(maxRequest);
        reply(option, REP_INFO, bs.array());
        reply(option, REP_ACK, null);
        if (option == OPT_INFO) {
            return null;
        }
        return new Result(e, structured, metaBase && name.equals(metaExport));
    }

    private void metaContext(int option, ByteBuffer data) throws IOException {
        String what = option == OPT_SET_META_CONTEXT ? "SET_META_CONTEXT" : "LIST_META_CONTEXT";
        String name = null;
        List<String> queries = new ArrayList<>();
        try {
            name = string(data);
            long count = Integer.toUnsignedLong(data.getInt());
            for (long i = 0; i < count; i++) {
                queries.add(string(data));
            }
            if (data.hasRemaining()) {
                name = null;
            }
        } catch (RuntimeException e) {
            name = null;
        }
        if (name == null) {
            error(option, REP_ERR_INVALID, what + " data is malformed");
            return;
        }
        if (option == OPT_SET_META_CONTEXT && !structured) {
            error(option, REP_ERR_INVALID, "negotiate STRUCTURED_REPLY before SET_META_CONTEXT");
            return;
        }
        if (exports.resolve(name) == null) {
            error(option, REP_ERR_UNKNOWN, "no volume or snapshot named '" + name + "' in this store");
            return;
        }
        boolean base = false;
        if (option == OPT_LIST_META_CONTEXT && queries.isEmpty()) {
            base = true;
        }
        for (String q : queries) {
            base |= q.equals(BASE_ALLOCATION) || (option == OPT_LIST_META_CONTEXT && q.equals("base:"));
        }
        if (base) {
            byte[] ctx = BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
            reply(option, REP_META_CONTEXT, ByteBuffer.allocate(4 + ctx.length).putInt(BASE_ALLOCATION_ID).put(ctx).array());
        }
        if (option == OPT_SET_META_CONTEXT) {
            metaExport = name;
            metaBase = base;
        }
        reply(option, REP_ACK, null);
    }

    /** A u32-length-prefixed string; throws on a malformed one. */
    private static String string(ByteBuffer data) {
        long n = Integer.toUnsignedLong(data.getInt());
        if (n > MAX_STRING || n > data.remaining()) {
            throw new IllegalArgumentException("bad string length " + n);
        }
        byte[] b = new byte[(int) n];
        data.get(b);
        String s = Wire.utf8(b);
        if (s == null) {
            throw new IllegalArgumentException("not UTF-8");
        }
        return s;
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    private void error(int option, int type, String message) throws IOException {
        reply(option, type, message.getBytes(StandardCharsets.UTF_8));
    }

    private void reply(int option, int type, byte[] data) throws IOException {
        int n = data == null ? 0 : data.length;
        ByteBuffer h = ByteBuffer.allocate(OPTION_REPLY_HEADER_BYTES);
        h.putLong(REPLY_MAGIC).putInt(option).putInt(type).putInt(n).flip();
        Wire.writeFully(ch, h, ByteBuffer.wrap(data == null ? new byte[0] : data));
    }
}
