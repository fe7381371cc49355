/**
 * The NBD server: Varve volumes and snapshots as network block devices, so QEMU, libvirt,
 * qemu-img, nbdcopy, nbdkit and the kernel's client use a store without linking Java.
 *
 * <h2>What is served</h2>
 * <ul>
 *   <li>every volume, read-write, by its name ({@code nbd://127.0.0.1:10809/vm1}); the empty
 *       export name stands for the only volume of a store that has exactly one;</li>
 *   <li>every snapshot, read-only, as {@code VOLUME@SNAPSHOT}
 *       ({@code nbd://127.0.0.1:10809/vm1@before-upgrade});</li>
 *   <li>everything read-only with {@link dev.varve.nbd.ServerOptions#readOnly()}.</li>
 * </ul>
 *
 * <h2>Protocol</h2>
 * Fixed newstyle handshake with NO_ZEROES; options GO, INFO (EXPORT, NAME, DESCRIPTION,
 * BLOCK_SIZE: minimum 1, preferred 4096 or the volume's block size, maximum 32 MiB), LIST,
 * ABORT, EXPORT_NAME, STRUCTURED_REPLY, LIST_META_CONTEXT and SET_META_CONTEXT with
 * {@code base:allocation}; anything else gets ERR_UNSUP. Commands READ (with structured
 * replies: OFFSET_DATA and OFFSET_HOLE chunks as the extent map has them, one data chunk with
 * DF), WRITE, FLUSH, TRIM, WRITE_ZEROES (NO_HOLE writes real zeroes; FAST_ZERO is refused with
 * ENOTSUP only together with NO_HOLE, since a hole is always fast), BLOCK_STATUS and DISC; FUA
 * on any command. Transmission flags HAS_FLAGS, SEND_FLUSH, SEND_FUA, CAN_MULTI_CONN and, on
 * writable exports, SEND_TRIM, SEND_WRITE_ZEROES, SEND_FAST_ZERO; READ_ONLY on the others;
 * SEND_DF once structured replies are on.
 *
 * <h2>Durability</h2>
 * FLUSH, and FUA on a write, reply only after {@code Store.flush} made the data durable: an
 * intent record (which carries the data of a small flush) or a commit, one fsync shared by
 * every concurrent flush (group commit). A flush covers the whole store, so a FLUSH on one
 * connection covers writes acknowledged on every connection (CAN_MULTI_CONN).
 *
 * <h2>Errors</h2>
 * EINVAL for a read, trim or block status past the end, an over-long READ, an unknown command
 * or flag; ENOSPC for a write past the end and for a full disk; EPERM for a write to a
 * read-only export; EIO for corruption and failed I/O; ESHUTDOWN when the store is closed. A
 * broken frame (bad magic, unknown client flags, a WRITE payload over the maximum) ends that
 * one connection; a connection dropped mid-request ends with its requests in flight finished.
 *
 * <h2>Bounds</h2>
 * A connection limit; a handshake deadline; option data of at most 64 KiB read into memory;
 * per connection at most {@code maxInFlight} requests executing; all payload buffers (READ
 * and WRITE data, BLOCK_STATUS replies) drawn from one pool with a byte budget, so a flood of
 * large requests slows readers instead of exhausting memory. A BLOCK_STATUS reply holds at most
 * 8,191 descriptors (64 KiB) and covers a prefix of a more fragmented range; the client asks
 * again for the rest.
 *
 * <h2>Threads</h2>
 * One thread per connection reads requests; a shared pool executes them, and each reply is
 * written whole under the connection's reply lock. The engine serialises catalog changes and
 * commits itself, and keeps concurrent writes to different sectors of one block from losing
 * either (its read-modify-write holds the block's group lock), so the server adds no lock of
 * its own around I/O. Anything that escapes a server thread, and an Error while a request runs
 * (which also drops that connection), counts as an internal error in {@link
 * dev.varve.nbd.NbdServer#stats()}.
 *
 * <p>Live management of a served store (snapshot, revert, clone, destroy while clients are
 * connected) goes through {@link dev.varve.nbd.control}.
 */
package dev.varve.nbd;
