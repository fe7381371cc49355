package dev.varve.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.agrona.collections.Long2LongHashMap;

/**
 * The file-per-delta design (VMDK delta disks, Hyper-V differencing disks, qcow2 backing
 * chains), written as fast as that design allows so that Varve is compared with its best
 * form, not a straw man.
 *
 * <p>A disk is a directory: a base layer and one delta layer per snapshot (see
 * {@link DeltaLayer}), plus {@code catalog.log}, a journal of which layer is whose parent,
 * which layer each snapshot froze and which layer is each head's writable top.
 * <ul>
 *   <li>read walks the head's chain top-down, one in-memory table lookup per layer, until a
 *       layer holds the block: this walk is the design's real cost, and it grows with depth;
 *   <li>write lands in the top layer, in place if the top already holds the block;
 *   <li>snapshot freezes the top and starts a new, empty top (O(1));
 *   <li>revert drops the top and starts a new one on the snapshot's layer (O(1));
 *   <li>clone starts a new head on a snapshot's layer (a linked clone, O(1));
 *   <li>deleting a snapshot merges its layer with its neighbour (VMware consolidate, Hyper-V
 *       merge, {@code qemu-img commit}): with one child, whichever direction copies fewer
 *       blocks; with several children, into each child. This copying is the real cost.
 * </ul>
 *
 * Not thread-safe beyond what {@code synchronized} gives: every call holds the disk's monitor,
 * which is how the bench drives it (one thread).
 */
public final class FilePerDelta implements AutoCloseable {
    static final String CATALOG = DeltaCatalog.FILE_NAME;

    private static final int COPY_BLOCKS = 256;
    public static final String DEFAULT_HEAD = "disk";

    private final Path dir;
    private final long size;
    private final int blockSize;
    private final DeltaCatalog catalog;
    private long nextLayerId;
    private final Map<Long, DeltaLayer> layers = new LinkedHashMap<>();
    private final Map<String, DeltaLayer> heads = new HashMap<>();
    private final Map<String, DeltaLayer> snapshots = new HashMap<>();
    private final Map<String, Disk> handles = new HashMap<>();
    /** Bumped by every catalog change; handles rebuild their chain when it moves. */
    private long version;
    private boolean closed;
    private long[] lbaScratch = new long[COPY_BLOCKS];

    private FilePerDelta(Path dir, long size, int blockSize, DeltaCatalog catalog) {
        this.dir = dir;
        this.size = size;
        this.blockSize = blockSize;
        this.catalog = catalog;
    }

    // ------------------------------------------------------------------ create and open

    public static FilePerDelta create(Path dir, long size) throws IOException {
        return create(dir, size, 4096, DEFAULT_HEAD);
    }

    /** A new disk of {@code size} bytes with one head and an empty base layer. */
    public static FilePerDelta create(Path dir, long size, int blockSize, String head) throws IOException {
        if (blockSize < 512 || Integer.bitCount(blockSize) != 1 || size <= 0 || size % blockSize != 0) {
            throw new IllegalArgumentException("size " + size + " must be a positive multiple of block size " + blockSize);
        }
        checkName(head);
        Files.createDirectories(dir);
        if (Files.exists(dir.resolve(CATALOG))) {
            throw new IOException(dir + " already holds a file-per-delta disk");
        }
        FilePerDelta d = new FilePerDelta(dir, size, blockSize, DeltaCatalog.create(dir));
        try {
            DeltaLayer base = DeltaLayer.create(dir, d.nextLayerId++, -1, blockSize);
            syncDirectory(dir);
            d.catalog.append(new DeltaCatalog.Ops().header(size, blockSize).layer(base.id, -1).head(head, base.id));
            base.head = head;
            d.layers.put(base.id, base);
            d.heads.put(head, base);
            return d;
        } catch (IOException | RuntimeException e) {
            d.closeQuietly();
            throw e;
        }
    }

    public static FilePerDelta open(Path dir) throws IOException {
        DeltaCatalog.Replay r = new DeltaCatalog.Replay();
        DeltaCatalog cat = DeltaCatalog.open(dir, r);
        FilePerDelta d = new FilePerDelta(dir, r.size, r.blockSize, cat);
        try {
            long maxId = -1;
            for (Map.Entry<Long, Long> e : r.layers.entrySet()) {
                boolean top = r.heads.containsValue(e.getKey());
                DeltaLayer l = DeltaLayer.open(dir, e.getKey(), e.getValue(), r.blockSize, top);
                d.layers.put(l.id, l);
                maxId = Math.max(maxId, l.id);
            }
            d.nextLayerId = Math.max(maxId + 1, r.maxId + 1);
            for (Map.Entry<String, Long> e : r.heads.entrySet()) {
                DeltaLayer l = d.layerOf(e.getValue(), "head " + e.getKey());
                l.head = e.getKey();
                d.heads.put(e.getKey(), l);
            }
            for (Map.Entry<String, Long> e : r.snapshots.entrySet()) {
                DeltaLayer l = d.layerOf(e.getValue(), "snapshot " + e.getKey());
                l.snapshot = e.getKey();
                d.snapshots.put(e.getKey(), l);
            }
            return d;
        } catch (IOException | RuntimeException e) {
            d.closeQuietly();
            throw e;
        }
    }

    private DeltaLayer layerOf(long id, String who) throws IOException {
        DeltaLayer l = layers.get(id);
        if (l == null) {
            throw new IOException(dir + ": " + who + " names layer " + id + ", which the catalog does not hold");
        }
        return l;
    }

    // ------------------------------------------------------------------ handles

    /** The writable head {@code name}. */
    public synchronized Disk disk(String name) throws IOException {
        checkOpen();
        if (!heads.containsKey(name)) {
            throw new IOException("no head named '" + name + "'");
        }
        return handles.computeIfAbsent(name, n -> new Disk(n, false));
    }

    /** A read-only view of snapshot {@code name}. */
    public synchronized Disk snapshotView(String name) throws IOException {
        checkOpen();
        if (!snapshots.containsKey(name)) {
            throw new IOException("no snapshot named '" + name + "'");
        }
        return new Disk(name, true);
    }

    public long size() {
        return size;
    }

    public int blockSize() {
        return blockSize;
    }

    public synchronized List<String> heads() {
        return new ArrayList<>(new TreeSet<>(heads.keySet()));
    }

    public synchronized List<String> snapshots() {
        return new ArrayList<>(new TreeSet<>(snapshots.keySet()));
    }

    public synchronized int layerCount() {
        return layers.size();
    }

    /** Block-table entries held in memory over every layer. */
    public synchronized long tableEntries() {
        long n = 0;
        for (DeltaLayer l : layers.values()) {
            n += l.table.size();
        }
        return n;
    }

    /** How many layers a read of head {@code name} may have to look through. */
    public synchronized int depth(String name) throws IOException {
        return disk(name).chain().length;
    }

    // ------------------------------------------------------------------ snapshot operations

    /** Freezes the head's top as snapshot {@code snap} and gives the head a new, empty top. */
    public synchronized void snapshot(String head, String snap) throws IOException {
        checkOpen();
        checkName(snap);
        DeltaLayer top = head(head);
        if (snapshots.containsKey(snap)) {
            throw new IOException("snapshot '" + snap + "' already exists");
        }
        top.sync();
        DeltaLayer n = newLayer(top.id);
        appendOrDrop(n, new DeltaCatalog.Ops().snapshot(snap, top.id).layer(n.id, top.id).head(head, n.id));
        top.closeMap();
        top.head = null;
        top.snapshot = snap;
        n.head = head;
        snapshots.put(snap, top);
        heads.put(head, n);
        version++;
    }

    /** Drops the head's top (its unsnapshotted changes) and starts a new top on {@code snap}. */
    public synchronized void revert(String head, String snap) throws IOException {
        checkOpen();
        DeltaLayer old = head(head);
        DeltaLayer target = snapshot(snap);
        DeltaLayer n = newLayer(target.id);
        appendOrDrop(n, new DeltaCatalog.Ops().layer(n.id, target.id).head(head, n.id).dropLayer(old.id));
        n.head = head;
        heads.put(head, n);
        layers.remove(old.id);
        version++;
        old.delete();
    }

    /** A new head reading through snapshot {@code snap} (a linked clone). */
    public synchronized Disk clone(String snap, String newHead) throws IOException {
        checkOpen();
        checkName(newHead);
        if (heads.containsKey(newHead)) {
            throw new IOException("head '" + newHead + "' already exists");
        }
        DeltaLayer target = snapshot(snap);
        DeltaLayer n = newLayer(target.id);
        appendOrDrop(n, new DeltaCatalog.Ops().layer(n.id, target.id).head(newHead, n.id));
        n.head = newHead;
        heads.put(newHead, n);
        version++;
        return disk(newHead);
    }

    /** Removes a head and its top layer; the snapshots it read through stay. */
    public synchronized void destroy(String head) throws IOException {
        checkOpen();
        DeltaLayer top = head(head);
        if (heads.size() == 1) {
            throw new IOException("'" + head + "' is the last head");
        }
        catalog.append(new DeltaCatalog.Ops().dropHead(head).dropLayer(top.id));
        heads.remove(head);
        layers.remove(top.id);
        handles.remove(head);
        version++;
        top.delete();
    }

    /**
     * Deletes a snapshot by merging its layer with its neighbour. With one child layer the
     * direction that copies fewer blocks is taken: the snapshot's blocks that the child lacks
     * go up into the child, or the child's blocks come down into the snapshot's layer, which
     * then takes the child's place. With several children, each child gets the blocks it lacks.
     */
    public synchronized void deleteSnapshot(String snap) throws IOException {
        checkOpen();
        DeltaLayer l = snapshot(snap);
        List<DeltaLayer> children = childrenOf(l.id);
        if (children.size() == 1) {
            DeltaLayer c = children.get(0);
            long up = missingIn(l, c);
            long down = c.table.size();
            if (down < up) {
                mergeDown(l, c);
                return;
            }
        }
        for (DeltaLayer c : children) {
            // the child's view does not change: it only gains blocks it used to read through l
            copyInto(l, c, true);
            c.sync();
        }
        DeltaCatalog.Ops ops = new DeltaCatalog.Ops().dropSnapshot(snap);
        for (DeltaLayer c : children) {
            ops.parent(c.id, l.parent);
        }
        ops.dropLayer(l.id);
        catalog.append(ops);
        for (DeltaLayer c : children) {
            c.parent = l.parent;
        }
        snapshots.remove(snap);
        layers.remove(l.id);
        version++;
        l.delete();
    }

    /** Copies child {@code c} into {@code l}, then {@code l} takes {@code c}'s place. */
    private void mergeDown(DeltaLayer l, DeltaLayer c) throws IOException {
        // first the snapshot stops existing: from then on only c reads through l, and c hides
        // every block the merge changes in l, so a crash part-way loses nothing
        catalog.append(new DeltaCatalog.Ops().dropSnapshot(l.snapshot));
        snapshots.remove(l.snapshot);
        l.snapshot = null;
        version++;
        copyInto(c, l, false);
        l.sync();
        DeltaCatalog.Ops ops = new DeltaCatalog.Ops();
        List<DeltaLayer> grandchildren = childrenOf(c.id);
        for (DeltaLayer g : grandchildren) {
            ops.parent(g.id, l.id);
        }
        if (c.head != null) {
            ops.head(c.head, l.id);
        }
        if (c.snapshot != null) {
            ops.snapshot(c.snapshot, l.id);
        }
        ops.dropLayer(c.id);
        catalog.append(ops);
        for (DeltaLayer g : grandchildren) {
            g.parent = l.id;
        }
        l.head = c.head;
        l.snapshot = c.snapshot;
        if (l.head != null) {
            heads.put(l.head, l);
            l.openMap();
        }
        if (l.snapshot != null) {
            snapshots.put(l.snapshot, l);
        }
        layers.remove(c.id);
        version++;
        c.delete();
    }

    private static long missingIn(DeltaLayer from, DeltaLayer to) {
        long[] n = {0};
        from.table.forEachLong((lba, off) -> {
            if (!to.table.containsKey(lba)) {
                n[0]++;
            }
        });
        return n[0];
    }

    /**
     * Copies {@code from}'s blocks into {@code to} (only those {@code to} lacks, or all),
     * reading {@code from}'s file in offset order and writing runs of up to 1 MiB.
     */
    private void copyInto(DeltaLayer from, DeltaLayer to, boolean onlyMissing) throws IOException {
        int n = from.table.size();
        long[] offs = new long[n];
        Long2LongHashMap lbaAt = new Long2LongHashMap(n, 0.65f, DeltaLayer.ABSENT);
        int[] count = {0};
        from.table.forEachLong((lba, off) -> {
            if (onlyMissing && to.table.containsKey(lba)) {
                return;
            }
            if (off == DeltaLayer.ZERO) {
                to.put(lba, DeltaLayer.ZERO);
                return;
            }
            offs[count[0]++] = off;
            lbaAt.put(off, lba);
        });
        Arrays.sort(offs, 0, count[0]);
        ByteBuffer buf = ByteBuffer.allocateDirect(COPY_BLOCKS * blockSize);
        int i = 0;
        while (i < count[0]) {
            int j = i + 1;
            while (j < count[0] && j - i < COPY_BLOCKS && offs[j] == offs[i] + (long) (j - i) * blockSize) {
                j++;
            }
            int k = j - i;
            for (int b = 0; b < k; b++) {
                lbaScratch[b] = lbaAt.get(offs[i + b]);
            }
            buf.clear().limit(k * blockSize);
            from.readData(buf, offs[i]);
            buf.flip();
            to.writeBlocks(lbaScratch, k, buf);
            i = j;
        }
    }

    private List<DeltaLayer> childrenOf(long id) {
        List<DeltaLayer> out = new ArrayList<>();
        for (DeltaLayer c : layers.values()) {
            if (c.parent == id) {
                out.add(c);
            }
        }
        return out;
    }

    private DeltaLayer newLayer(long parent) throws IOException {
        DeltaLayer n = DeltaLayer.create(dir, nextLayerId++, parent, blockSize);
        // the new files' directory entries are durable before the catalog names them
        syncDirectory(dir);
        layers.put(n.id, n);
        return n;
    }

    private void appendOrDrop(DeltaLayer n, DeltaCatalog.Ops ops) throws IOException {
        try {
            catalog.append(ops);
        } catch (IOException | RuntimeException e) {
            layers.remove(n.id);
            n.delete();
            throw e;
        }
    }

    private DeltaLayer head(String name) throws IOException {
        DeltaLayer l = heads.get(name);
        if (l == null) {
            throw new IOException("no head named '" + name + "'");
        }
        return l;
    }

    private DeltaLayer snapshot(String name) throws IOException {
        DeltaLayer l = snapshots.get(name);
        if (l == null) {
            throw new IOException("no snapshot named '" + name + "'");
        }
        return l;
    }

    // ------------------------------------------------------------------ I/O

    /** Makes every head's completed writes durable. */
    public synchronized void flush() throws IOException {
        checkOpen();
        for (DeltaLayer top : heads.values()) {
            top.sync();
        }
    }

    private DeltaLayer[] chainOf(DeltaLayer top) throws IOException {
        List<DeltaLayer> out = new ArrayList<>();
        for (DeltaLayer l = top; l != null; l = l.parent < 0 ? null : layerOf(l.parent, "layer " + l.id)) {
            out.add(l);
            if (out.size() > layers.size()) {
                throw new IllegalStateException("invariant violated: the parent links of layer " + top.id + " form a cycle");
            }
        }
        return out.toArray(new DeltaLayer[0]);
    }

    private void readAligned(DeltaLayer[] chain, long firstLba, ByteBuffer dst) throws IOException {
        int n = dst.remaining() / blockSize;
        int base = dst.position();
        DeltaLayer runLayer = null;
        long runOff = 0;
        int runStart = 0;
        int runLen = 0;
        for (int i = 0; i < n; i++) {
            long lba = firstLba + i;
            DeltaLayer found = null;
            long off = DeltaLayer.ABSENT;
            for (DeltaLayer l : chain) {
                long v = l.table.get(lba);
                if (v != DeltaLayer.ABSENT) {
                    found = l;
                    off = v;
                    break;
                }
            }
            if (found != null && off != DeltaLayer.ZERO && found == runLayer && off == runOff + (long) runLen * blockSize) {
                runLen++;
                continue;
            }
            readRun(runLayer, runOff, dst, base + runStart * blockSize, runLen);
            if (found == null || off == DeltaLayer.ZERO) {
                zero(dst, base + i * blockSize, blockSize);
                runLayer = null;
                runLen = 0;
            } else {
                runLayer = found;
                runOff = off;
                runStart = i;
                runLen = 1;
            }
        }
        readRun(runLayer, runOff, dst, base + runStart * blockSize, runLen);
        dst.position(base + n * blockSize);
    }

    private void readRun(DeltaLayer layer, long off, ByteBuffer dst, int at, int blocks) throws IOException {
        if (layer == null || blocks == 0) {
            return;
        }
        ByteBuffer d = dst.duplicate();
        d.position(at).limit(at + blocks * blockSize);
        layer.readData(d, off);
    }

    private static void zero(ByteBuffer dst, int at, int n) {
        for (int i = 0; i < n; i += 8) {
            dst.putLong(at + i, 0L);
        }
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new IllegalArgumentException("range [" + offset + ", " + (offset + length) + ") is outside the disk of "
                    + size + " bytes");
        }
    }

    /** A head (writable) or a snapshot (read-only), resolved again after catalog changes. */
    public final class Disk {
        private final String name;
        private final boolean snapshot;
        private DeltaLayer[] chain;
        private long chainVersion = -1;

        private Disk(String name, boolean snapshot) {
            this.name = name;
            this.snapshot = snapshot;
        }

        public String name() {
            return name;
        }

        public long size() {
            return size;
        }

        private DeltaLayer[] chain() throws IOException {
            checkOpen();
            if (chainVersion != version) {
                DeltaLayer top = snapshot ? snapshots.get(name) : heads.get(name);
                if (top == null) {
                    throw new IOException((snapshot ? "snapshot '" : "head '") + name + "' no longer exists");
                }
                chain = chainOf(top);
                chainVersion = version;
            }
            return chain;
        }

        public void read(long offset, ByteBuffer dst) throws IOException {
            synchronized (FilePerDelta.this) {
                int len = dst.remaining();
                checkRange(offset, len);
                DeltaLayer[] c = chain();
                if (offset % blockSize == 0 && len % blockSize == 0) {
                    readAligned(c, offset / blockSize, dst);
                    return;
                }
                long first = offset / blockSize;
                long end = (offset + len + blockSize - 1) / blockSize;
                ByteBuffer tmp = ByteBuffer.allocate((int) ((end - first) * blockSize));
                readAligned(c, first, tmp);
                tmp.position((int) (offset - first * blockSize)).limit((int) (offset - first * blockSize) + len);
                dst.put(tmp);
            }
        }

        public void write(long offset, ByteBuffer src) throws IOException {
            synchronized (FilePerDelta.this) {
                checkWritable();
                int len = src.remaining();
                checkRange(offset, len);
                if (len == 0) {
                    return;
                }
                long first = offset / blockSize;
                ByteBuffer blocks;
                if (offset % blockSize == 0 && len % blockSize == 0) {
                    blocks = src.slice();
                } else {
                    // read-modify-write of the partial edge blocks, as any block device does
                    long end = (offset + len + blockSize - 1) / blockSize;
                    blocks = ByteBuffer.allocate((int) ((end - first) * blockSize));
                    readAligned(chain(), first, blocks.duplicate());
                    ByteBuffer at = blocks.duplicate();
                    at.position((int) (offset - first * blockSize));
                    at.put(src.duplicate());
                }
                writeAligned(first, blocks);
                src.position(src.limit());
            }
        }

        private void writeAligned(long firstLba, ByteBuffer blocks) throws IOException {
            DeltaLayer top = chain()[0];
            int n = blocks.remaining() / blockSize;
            int done = 0;
            while (done < n) {
                int k = Math.min(COPY_BLOCKS, n - done);
                for (int i = 0; i < k; i++) {
                    lbaScratch[i] = firstLba + done + i;
                }
                ByteBuffer part = blocks.duplicate();
                part.position(blocks.position() + done * blockSize).limit(blocks.position() + (done + k) * blockSize);
                top.writeBlocks(lbaScratch, k, part);
                done += k;
            }
        }

        /** Whole blocks read as zeros afterwards; partial edge blocks are zeroed in place. */
        public void trim(long offset, long length) throws IOException {
            synchronized (FilePerDelta.this) {
                checkWritable();
                checkRange(offset, length);
                long firstFull = (offset + blockSize - 1) / blockSize;
                long endFull = (offset + length) / blockSize;
                if (firstFull >= endFull) {
                    write(offset, ByteBuffer.allocate((int) length));
                    return;
                }
                if (firstFull * blockSize > offset) {
                    write(offset, ByteBuffer.allocate((int) (firstFull * blockSize - offset)));
                }
                if (offset + length > endFull * blockSize) {
                    write(endFull * blockSize, ByteBuffer.allocate((int) (offset + length - endFull * blockSize)));
                }
                DeltaLayer top = chain()[0];
                for (long lba = firstFull; lba < endFull; lba++) {
                    top.put(lba, DeltaLayer.ZERO);
                }
            }
        }

        /** Makes this head's completed writes durable: data forced, then its table entries. */
        public void flush() throws IOException {
            synchronized (FilePerDelta.this) {
                if (!snapshot) {
                    chain()[0].sync();
                }
            }
        }

        private void checkWritable() throws IOException {
            if (snapshot) {
                throw new IOException("snapshot '" + name + "' is read-only");
            }
        }
    }

    private static void checkName(String name) {
        if (name == null || name.isEmpty() || name.getBytes(StandardCharsets.UTF_8).length > 255) {
            throw new IllegalArgumentException("name must be 1 to 255 bytes");
        }
    }

    static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    private void checkOpen() throws IOException {
        if (closed) {
            throw new IOException("file-per-delta disk " + dir + " is closed");
        }
    }

    /** Flushes every head and closes every file. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        IOException error = null;
        try {
            flush();
        } catch (IOException e) {
            error = e;
        }
        closed = true;
        for (DeltaLayer l : layers.values()) {
            try {
                l.close();
            } catch (IOException e) {
                if (error == null) {
                    error = e;
                }
            }
        }
        try {
            catalog.close();
        } catch (IOException e) {
            if (error == null) {
                error = e;
            }
        }
        if (error != null) {
            throw error;
        }
    }

    /** Closes every file without flushing: what a crash leaves (for tests and the bench). */
    synchronized void closeQuietly() {
        closed = true;
        for (DeltaLayer l : layers.values()) {
            try {
                l.close();
            } catch (IOException ignored) {
                // abandoning: nothing to report to
            }
        }
        try {
            catalog.close();
        } catch (IOException ignored) {
            // abandoning
        }
    }
}
