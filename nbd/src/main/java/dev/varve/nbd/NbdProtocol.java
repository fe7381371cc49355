package dev.varve.nbd;

/**
 * The numbers of the NBD protocol (the NetworkBlockDevice project's {@code doc/proto.md}).
 * Everything on the wire is big-endian.
 *
 * <pre>
 * handshake, server first:
 *   S: u64 NBDMAGIC   u64 IHAVEOPT   u16 handshake flags (FIXED_NEWSTYLE | NO_ZEROES)
 *   C: u32 client flags
 * option, client:                          option reply, server:
 *   u64 IHAVEOPT                             u64 REPLY_MAGIC
 *   u32 option                               u32 option (echoed)
 *   u32 length                               u32 reply type (ACK, INFO, ..., ERR_*)
 *   length bytes of data                     u32 length, then length bytes of data
 * request (28 bytes, then the payload of a WRITE):
 *   +0 u32 REQUEST_MAGIC  +4 u16 flags  +6 u16 type  +8 u64 cookie  +16 u64 offset  +24 u32 length
 * simple reply (16 bytes, then the data of a successful READ):
 *   +0 u32 SIMPLE_REPLY_MAGIC  +4 u32 error  +8 u64 cookie
 * structured reply chunk (20 bytes, then length bytes of payload):
 *   +0 u32 STRUCTURED_REPLY_MAGIC  +4 u16 flags  +6 u16 type  +8 u64 cookie  +16 u32 length
 * </pre>
 */
public final class NbdProtocol {
    private NbdProtocol() {
    }

    public static final long NBDMAGIC = 0x4e42444d41474943L;
    public static final long IHAVEOPT = 0x49484156454F5054L;
    public static final long REPLY_MAGIC = 0x3e889045565a9L;
    public static final int REQUEST_MAGIC = 0x25609513;
    public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    public static final int DEFAULT_PORT = 10809;
    /** The longest string (export name, context name) the protocol allows. */
    public static final int MAX_STRING = 4096;

    // handshake flags (server) and client flags
    public static final int FLAG_FIXED_NEWSTYLE = 1;
    public static final int FLAG_NO_ZEROES = 1 << 1;
    public static final int FLAG_C_FIXED_NEWSTYLE = 1;
    public static final int FLAG_C_NO_ZEROES = 1 << 1;

    // transmission flags
    public static final int FLAG_HAS_FLAGS = 1;
    public static final int FLAG_READ_ONLY = 1 << 1;
    public static final int FLAG_SEND_FLUSH = 1 << 2;
    public static final int FLAG_SEND_FUA = 1 << 3;
    public static final int FLAG_ROTATIONAL = 1 << 4;
    public static final int FLAG_SEND_TRIM = 1 << 5;
    public static final int FLAG_SEND_WRITE_ZEROES = 1 << 6;
    public static final int FLAG_SEND_DF = 1 << 7;
    public static final int FLAG_CAN_MULTI_CONN = 1 << 8;
    public static final int FLAG_SEND_CACHE = 1 << 10;
    public static final int FLAG_SEND_FAST_ZERO = 1 << 11;

    // options
    public static final int OPT_EXPORT_NAME = 1;
    public static final int OPT_ABORT = 2;
    public static final int OPT_LIST = 3;
    public static final int OPT_STARTTLS = 5;
    public static final int OPT_INFO = 6;
    public static final int OPT_GO = 7;
    public static final int OPT_STRUCTURED_REPLY = 8;
    public static final int OPT_LIST_META_CONTEXT = 9;
    public static final int OPT_SET_META_CONTEXT = 10;

    // option replies
    public static final int REP_ACK = 1;
    public static final int REP_SERVER = 2;
    public static final int REP_INFO = 3;
    public static final int REP_META_CONTEXT = 4;
    public static final int REP_ERR_UNSUP = 0x80000000 | 1;
    public static final int REP_ERR_POLICY = 0x80000000 | 2;
    public static final int REP_ERR_INVALID = 0x80000000 | 3;
    public static final int REP_ERR_PLATFORM = 0x80000000 | 4;
    public static final int REP_ERR_TLS_REQD = 0x80000000 | 5;
    public static final int REP_ERR_UNKNOWN = 0x80000000 | 6;
    public static final int REP_ERR_SHUTDOWN = 0x80000000 | 7;
    public static final int REP_ERR_BLOCK_SIZE_REQD = 0x80000000 | 8;
    public static final int REP_ERR_TOO_BIG = 0x80000000 | 9;

    // NBD_REP_INFO types
    public static final int INFO_EXPORT = 0;
    public static final int INFO_NAME = 1;
    public static final int INFO_DESCRIPTION = 2;
    public static final int INFO_BLOCK_SIZE = 3;

    // commands
    public static final int CMD_READ = 0;
    public static final int CMD_WRITE = 1;
    public static final int CMD_DISC = 2;
    public static final int CMD_FLUSH = 3;
    public static final int CMD_TRIM = 4;
    public static final int CMD_CACHE = 5;
    public static final int CMD_WRITE_ZEROES = 6;
    public static final int CMD_BLOCK_STATUS = 7;

    // command flags
    public static final int CMD_FLAG_FUA = 1;
    public static final int CMD_FLAG_NO_HOLE = 1 << 1;
    public static final int CMD_FLAG_DF = 1 << 2;
    public static final int CMD_FLAG_REQ_ONE = 1 << 3;
    public static final int CMD_FLAG_FAST_ZERO = 1 << 4;

    // structured reply flags and chunk types
    public static final int REPLY_FLAG_DONE = 1;
    public static final int REPLY_TYPE_NONE = 0;
    public static final int REPLY_TYPE_OFFSET_DATA = 1;
    public static final int REPLY_TYPE_OFFSET_HOLE = 2;
    public static final int REPLY_TYPE_BLOCK_STATUS = 5;
    public static final int REPLY_TYPE_ERROR = (1 << 15) | 1;
    public static final int REPLY_TYPE_ERROR_OFFSET = (1 << 15) | 2;

    // errors
    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;

    // base:allocation
    public static final String BASE_ALLOCATION = "base:allocation";
    public static final int STATE_HOLE = 1;
    public static final int STATE_ZERO = 1 << 1;

    // byte layout of the fixed-size messages
    public static final int REQUEST_BYTES = 28;
    public static final int SIMPLE_REPLY_BYTES = 16;
    public static final int CHUNK_HEADER_BYTES = 20;
    public static final int OPTION_HEADER_BYTES = 16;
    public static final int OPTION_REPLY_HEADER_BYTES = 20;

    /** A readable name for a command type, for messages. */
    public static String commandName(int type) {
        return switch (type) {
            case CMD_READ -> "READ";
            case CMD_WRITE -> "WRITE";
            case CMD_DISC -> "DISC";
            case CMD_FLUSH -> "FLUSH";
            case CMD_TRIM -> "TRIM";
            case CMD_CACHE -> "CACHE";
            case CMD_WRITE_ZEROES -> "WRITE_ZEROES";
            case CMD_BLOCK_STATUS -> "BLOCK_STATUS";
            default -> "command " + type;
        };
    }
}
