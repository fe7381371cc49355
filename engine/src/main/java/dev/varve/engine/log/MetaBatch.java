package dev.varve.engine.log;

import dev.varve.engine.LogAddress;
import dev.varve.engine.btree.Node;
import dev.varve.engine.btree.NodeWriter;
import dev.varve.engine.btree.TreePointer;
import dev.varve.engine.format.CommitLayout;
import dev.varve.engine.format.FillLayout;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.format.SegmentLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.agrona.ExpandableDirectByteBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * The records of one transaction group, laid out at the meta head in memory and then written
 * with one positional write per segment touched. Addresses are final as soon as a record is
 * appended, so parents can point at children before anything reaches the disk.
 */
public final class MetaBatch implements NodeWriter {
    private static final int NEXT_RECORD_BYTES = RecordLayout.paddedLength(8);

    private final Log log;
    private final long generation;
    private final List<Chunk> chunks = new ArrayList<>();
    private final List<Node<?>> written = new ArrayList<>();
    private final CRC32C txgCrc = new CRC32C();
    private Chunk current;

    private static final class Chunk {
        final Segment segment;
        final long start;
        final ExpandableDirectByteBuffer buf = new ExpandableDirectByteBuffer(64 * 1024);
        int length;

        Chunk(Segment segment, long start) {
            this.segment = segment;
            this.start = start;
        }
    }

    MetaBatch(Log log, long generation) {
        this.log = log;
        this.generation = generation;
    }

    @Override
    public long generation() {
        return generation;
    }

    /** Starts the batch in a fresh meta segment (after recovery found a torn tail, or at create). */
    public void rollToNewSegment() throws IOException {
        Segment next = log.createSegment(SegmentLayout.KIND_META);
        if (log.metaHead != null) {
            if (current == null || current.segment != log.metaHead) {
                current = new Chunk(log.metaHead, log.metaPos);
                chunks.add(current);
            }
            writeRecord(RecordLayout.TYPE_NEXT_SEGMENT, (byte) 0, 0, 8, (b, o) -> b.putLong(o, next.id), true);
        }
        log.metaHead = next;
        log.metaPos = SegmentLayout.HEADER_BYTES;
        log.metaFilledTo = 0;
        log.metaTail = false;
        current = null;
    }

    private void chunkFor(int recordBytes) throws IOException {
        if (log.metaHead == null) {
            rollToNewSegment();
        }
        if (log.metaPos + recordBytes + NEXT_RECORD_BYTES > log.segmentSize()
                && log.metaPos > SegmentLayout.HEADER_BYTES) {
            rollToNewSegment();
        }
        if (current == null || current.segment != log.metaHead) {
            current = new Chunk(log.metaHead, log.metaPos);
            chunks.add(current);
        }
    }

    @Override
    public long append(byte type, long owner, int payloadLength, PayloadEncoder encoder) throws IOException {
        return append(type, (byte) 0, owner, payloadLength, encoder);
    }

    /** As {@link #append(byte, long, int, PayloadEncoder)}, with header flags. */
    public long append(byte type, byte flags, long owner, int payloadLength, PayloadEncoder encoder) throws IOException {
        int len = RecordLayout.paddedLength(payloadLength);
        chunkFor(len);
        return writeRecord(type, flags, owner, payloadLength, encoder, true);
    }

    private long writeRecord(byte type, byte flags, long owner, int payloadLength, PayloadEncoder encoder,
                             boolean chain) {
        int len = RecordLayout.paddedLength(payloadLength);
        long address = LogAddress.of(log.metaHead.id, log.metaPos);
        Chunk c = current;
        MutableDirectBuffer b = c.buf;
        int at = c.length;
        b.checkLimit(at + len);
        b.setMemory(at, len, (byte) 0);
        b.putInt(at + RecordLayout.MAGIC_OFFSET, RecordLayout.MAGIC);
        b.putByte(at + RecordLayout.TYPE_OFFSET, type);
        b.putByte(at + RecordLayout.FLAGS_OFFSET, flags);
        b.putInt(at + RecordLayout.LENGTH_OFFSET, len);
        b.putLong(at + RecordLayout.GENERATION_OFFSET, generation);
        b.putLong(at + RecordLayout.OWNER_OFFSET, owner);
        encoder.encode(b, at + RecordLayout.HEADER_BYTES);
        CRC32C crc = new CRC32C();
        ByteBuffer view = c.buf.byteBuffer().duplicate();
        view.limit(at + len).position(at);
        crc.update(view);
        b.putInt(at + RecordLayout.CRC_OFFSET, (int) crc.getValue());
        if (chain) {
            view.limit(at + len).position(at);
            txgCrc.update(view);
        }
        c.length += len;
        log.metaPos += len;
        return address;
    }

    @Override
    public void written(Node<?> node) {
        written.add(node);
        if (onWritten != null) {
            onWritten.accept(node);
        }
    }

    /**
     * Called for each node as it is appended, before its bytes reach the file: the store pins
     * it in the node cache there and then, so whoever follows a pointer to it finds it.
     */
    public void onWritten(java.util.function.Consumer<Node<?>> listener) {
        this.onWritten = listener;
    }

    /** The nodes this batch wrote, to pin in the cache until their bytes are on disk. */
    private java.util.function.Consumer<Node<?>> onWritten;

    public List<Node<?>> writtenNodes() {
        return written;
    }

    /** Appends the commit record that closes the group. */
    public CommitInfo appendCommit(long previous, TreePointer catalog, long nextId) throws IOException {
        int len = RecordLayout.paddedLength(CommitLayout.PAYLOAD_BYTES);
        chunkFor(len);
        long now = System.currentTimeMillis();
        int chained = (int) txgCrc.getValue();
        long addr = writeRecord(RecordLayout.TYPE_COMMIT, (byte) 0, 0, CommitLayout.PAYLOAD_BYTES, (b, o) -> {
            b.putLong(o + CommitLayout.PREV_OFFSET, previous);
            b.putLong(o + CommitLayout.CATALOG_ROOT_OFFSET, catalog.address());
            b.putLong(o + CommitLayout.CATALOG_GEN_OFFSET, catalog.generation());
            b.putInt(o + CommitLayout.CATALOG_LEN_OFFSET, catalog.length());
            b.putLong(o + CommitLayout.NEXT_ID_OFFSET, nextId);
            b.putLong(o + CommitLayout.TIME_OFFSET, now);
            b.putInt(o + CommitLayout.TXG_CRC_OFFSET, chained);
        }, false);
        return new CommitInfo(addr, len, generation, previous, catalog, nextId, now);
    }

    /**
     * Writes the batch. Each segment but the last is forced before the next is written, so the
     * commit record (always in the last) can never be durable before a record it covers; the
     * caller forces the last one.
     *
     * @return the segment to force last
     */
    public Segment write() throws IOException {
        Segment last = null;
        for (int i = 0; i < chunks.size(); i++) {
            Chunk c = chunks.get(i);
            int length = c.length;
            if (i == chunks.size() - 1) {
                // zeros to the page boundary: what follows the log's end there is never the
                // rest of a fill page's marker (see FillLayout)
                long end = c.start + c.length;
                length += (int) (FillLayout.pageUp(end) - end);
                c.buf.checkLimit(length);
                c.buf.setMemory(c.length, length - c.length, (byte) 0);
            }
            ByteBuffer view = c.buf.byteBuffer().duplicate();
            view.position(0).limit(length);
            log.countAppended(c.length); // the padding is the page's rest, rewritten by the next records
            try {
                c.segment.file.write(view, c.start);
                if (i < chunks.size() - 1) {
                    c.segment.file.force();
                }
            } catch (IOException e) {
                throw Log.translateIo(e, "writing metadata to segment " + c.segment.id);
            }
            last = c.segment;
        }
        if (last != null) {
            Chunk c = chunks.get(chunks.size() - 1);
            try {
                log.fillMetaAhead(FillLayout.pageUp(c.start + c.length));
            } catch (IOException e) {
                throw Log.translateIo(e, "writing fill ahead of the log in segment " + last.id);
            }
        }
        return last;
    }
}
