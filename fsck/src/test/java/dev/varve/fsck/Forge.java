package dev.varve.fsck;

import dev.varve.engine.LogAddress;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.Node;
import dev.varve.engine.btree.NodeCache;
import dev.varve.engine.btree.TreeKind;
import dev.varve.engine.btree.TreePointer;
import dev.varve.engine.catalog.Catalog;
import dev.varve.engine.catalog.CatalogEntry;
import dev.varve.engine.catalog.Superblock;
import dev.varve.engine.format.FormatVersion;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.format.SuperblockLayout;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.io.StorageFile;
import dev.varve.engine.log.CommitInfo;
import dev.varve.engine.log.Log;
import dev.varve.engine.log.MetaBatch;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Writes one transaction group of hand-made records after the last commit of a closed store, as
 * a writer with a bug would: each record with a valid checksum and the group with a valid txg
 * checksum (the engine's own {@link MetaBatch} computes them), in a new meta segment, then a
 * commit naming the last one, then both superblocks. What the records say is the test's choice:
 * shapes the engine never writes (over-full nodes, unbalanced trees) that only a check of their
 * content can find. Also reads the store's trees, for tests that pick what to damage.
 */
final class Forge implements Closeable {
    final CrashableStorage disk;
    final Survey survey;
    final NodeCache nodes;
    private Log writer;
    private MetaBatch batch;

    private Forge(CrashableStorage disk) {
        this.disk = disk;
        this.survey = Survey.run(disk, false, new Meter(null));
        if (survey.current == null) {
            throw new IllegalStateException("the store has no readable commit:\n" + survey.finish().summary());
        }
        this.nodes = new NodeCache(survey.log, 16L << 20);
    }

    /** Reads {@code disk} as it is now (a store no process has open). */
    static Forge of(CrashableStorage disk) {
        return new Forge(disk);
    }

    /** A copy of the current catalog's entry {@code name} ({@code vm1} or {@code vm1@s1}). */
    CatalogEntry entry(String name) {
        for (CatalogEntry e : survey.current.entries) {
            if (survey.current.name(e).equals(name)) {
                byte[] b = e.encode();
                return CatalogEntry.decode(e.id, new UnsafeBuffer(b), 0, b.length);
            }
        }
        throw new IllegalArgumentException("no " + name);
    }

    /** Copies of every entry of the current catalog. */
    List<CatalogEntry> entries() {
        List<CatalogEntry> out = new ArrayList<>();
        for (CatalogEntry e : survey.current.entries) {
            out.add(entry(survey.current.name(e)));
        }
        return out;
    }

    Node<Extent> node(TreePointer p) throws IOException {
        return nodes.read(TreeKind.EXTENTS, Extent.CODEC, p.address(), p.length(), p.generation());
    }

    static TreePointer child(Node<?> n, int i) {
        return new TreePointer(n.childAddress(i), n.childLength(i), n.childGeneration(i));
    }

    /** The record at {@code address}, as {@link Disk#records} lists it. */
    Disk.Rec record(long address) {
        String file = SegmentLayout.fileName(LogAddress.segment(address));
        for (Disk.Rec r : Disk.records(disk)) {
            if (r.file().equals(file) && r.offset() == LogAddress.offset(address)) {
                return r;
            }
        }
        throw new IllegalArgumentException("no record at " + LogAddress.toString(address));
    }

    private MetaBatch batch() throws IOException {
        if (batch == null) {
            long next = Math.max(survey.scan.maxSegmentMentioned, survey.content.maxSegment) + 1;
            for (String name : disk.list()) {
                next = Math.max(next, SegmentLayout.parseFileName(name) + 1);
            }
            writer = new Log(disk, survey.uuidHi, survey.uuidLo, survey.segmentSize, next);
            writer.openExisting();
            batch = writer.beginBatch(Math.max(survey.scan.maxGeneration, survey.last.generation()) + 1);
            batch.rollToNewSegment();
        }
        return batch;
    }

    long generation() throws IOException {
        return batch().generation();
    }

    /** An extent leaf of these keys and extents (any count, even none). */
    TreePointer extentLeaf(long owner, List<Long> keys, List<Extent> extents) throws IOException {
        int len = 4;
        for (Extent e : extents) {
            len += 8 + Extent.CODEC.encodedLength(e);
        }
        int payload = len;
        long at = batch().append(RecordLayout.TYPE_EXTENT_LEAF, owner, payload, (b, o) -> {
            b.putShort(o, (short) keys.size());
            int p = o + 4;
            for (int i = 0; i < keys.size(); i++) {
                b.putLong(p, keys.get(i));
                p += 8;
                p += Extent.CODEC.encode(extents.get(i), b, p);
            }
        });
        return new TreePointer(at, RecordLayout.paddedLength(payload), batch.generation());
    }

    /** An extent interior node pointing at {@code children} under {@code keys}. */
    TreePointer extentInterior(long owner, List<Long> keys, List<TreePointer> children) throws IOException {
        int payload = 4 + keys.size() * Node.POINTER_BYTES;
        long at = batch().append(RecordLayout.TYPE_EXTENT_INTERIOR, owner, payload, (b, o) -> {
            b.putShort(o, (short) keys.size());
            int p = o + 4;
            for (int i = 0; i < keys.size(); i++) {
                TreePointer c = children.get(i);
                b.putLong(p, keys.get(i));
                b.putLong(p + 8, c.address());
                b.putInt(p + 16, c.length());
                b.putLong(p + 20, c.generation());
                b.putInt(p + 28, 1); // minSegment: the lowest there is, never wrong
                p += Node.POINTER_BYTES;
            }
        });
        return new TreePointer(at, RecordLayout.paddedLength(payload), batch.generation());
    }

    /** One catalog leaf holding these entries (keyed by id, in id order as given). */
    TreePointer catalogLeaf(List<CatalogEntry> entries) throws IOException {
        List<byte[]> values = new ArrayList<>();
        int len = 4;
        for (CatalogEntry e : entries) {
            byte[] v = e.encode();
            values.add(v);
            len += 8 + Catalog.BYTES.encodedLength(v);
        }
        int payload = len;
        long at = batch().append(RecordLayout.TYPE_CATALOG_LEAF, 0, payload, (b, o) -> {
            b.putShort(o, (short) entries.size());
            int p = o + 4;
            for (int i = 0; i < entries.size(); i++) {
                b.putLong(p, entries.get(i).id);
                p += 8;
                p += Catalog.BYTES.encode(values.get(i), b, p);
            }
        });
        return new TreePointer(at, RecordLayout.paddedLength(payload), batch.generation());
    }

    /**
     * Closes the group with a commit whose catalog root is {@code catalog} and whose previous
     * commit is the last one, makes it durable, and points both superblock copies at it.
     */
    CommitInfo commit(TreePointer catalog) throws IOException {
        CommitInfo c = batch().appendCommit(survey.last.address(), catalog, survey.last.nextId());
        batch.write().file.force();
        long seq = 0;
        for (Superblock s : survey.slots) {
            seq = s == null ? seq : Math.max(seq, s.sequence());
        }
        try (StorageFile f = disk.open(SuperblockLayout.FILE_NAME, false)) {
            for (long q = seq + 1; q <= seq + SuperblockLayout.SLOTS; q++) {
                new Superblock(FormatVersion.CURRENT, q, survey.uuidHi, survey.uuidLo, survey.segmentSize, c.address(),
                        c.length(), c.generation()).write(f);
            }
        }
        return c;
    }

    @Override
    public void close() throws IOException {
        if (writer != null) {
            writer.close();
        }
        survey.close();
    }
}
