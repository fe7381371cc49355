package dev.varve.engine;

import dev.varve.engine.btree.CowTree;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.ExtentMap;
import dev.varve.engine.btree.Node;
import dev.varve.engine.btree.NodeCache;
import dev.varve.engine.btree.TreeKind;
import dev.varve.engine.btree.TreePointer;
import dev.varve.engine.catalog.Catalog;
import dev.varve.engine.catalog.CatalogEntry;
import dev.varve.engine.catalog.Superblock;
import dev.varve.engine.format.FormatVersion;
import dev.varve.engine.format.IntentLayout;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.format.SuperblockLayout;
import dev.varve.engine.stream.StreamLayout;
import dev.varve.engine.io.Storage;
import dev.varve.engine.io.StorageFile;
import dev.varve.engine.log.CommitInfo;
import dev.varve.engine.log.Log;
import dev.varve.engine.log.MetaBatch;
import dev.varve.engine.log.Recovery;
import dev.varve.engine.log.Segment;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.agrona.collections.LongArrayList;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A Varve store: a directory holding a log of segment files and two superblock copies, with
 * volumes (writable heads) and snapshots (immutable roots) in a catalog.
 *
 * <p>Every change to the catalog (create, snapshot, revert, clone, destroy, rename,
 * properties) is one commit: it runs inside the freeze of a transaction group, after the
 * dirty volume trees are written, and returns once that group is durable. Data writes only
 * touch the log and the volume's tree; {@link #flush()} makes them durable, and concurrent
 * flushes share one fsync.
 */
public final class Store implements AutoCloseable {
    private static final String LOCK_FILE = "LOCK";
    private static final int SUPERBLOCK_EVERY_COMMITS = 64;
    private static final int SUMMARY_ENTRIES_PER_RECORD = 2048;
    private static final int MAX_NAME_BYTES = 255;
    private static final long MAX_VOLUME_SIZE = 1L << 60;
    private static final int MAX_PROPERTY_VALUE = 1 << 20;
    private static final int MAX_PROPERTIES_BYTES = 3 << 20;

    private final StoreOptions options;
    private final Storage storage;
    private final Closeable lock;
    private final Log log;
    private final NodeCache cache;
    private final Catalog catalog;
    private final long uuidHi;
    private final long uuidLo;
    private final boolean readOnly;
    private final StorageFile superblockFile;

    /** Writers hold it shared; the freeze of a transaction group holds it exclusively. */
    private final ReentrantReadWriteLock txgLock = new ReentrantReadWriteLock();
    /** One commit at a time; a flush that finds its group already durable returns at once. */
    private final ReentrantLock commitMutex = new ReentrantLock();
    private final Map<Long, Volume> heads = new ConcurrentHashMap<>();
    private final Set<Volume> dirtyVolumes = ConcurrentHashMap.newKeySet();
    /** Volumes with writes or trims in no intent record or commit yet ({@link Volume#ops}). */
    private final Set<Volume> loggedVolumes = ConcurrentHashMap.newKeySet();
    /** Intent records written since this store was opened (tests and {@code info}). */
    private final AtomicLong intentRecords = new AtomicLong();
    /** Intent records replayed whole at open (until one fails). */
    private int intentsReplayed;
    /** See {@link #openWarning()}. */
    private volatile String openWarning;
    /** Intent records since the last commit (their sequence numbers); under the commit mutex. */
    private int intentsSinceCommit;
    /** Data written in the open group, four longs per run (address, lba, blocks, lineage); guarded by itself. */
    private final LongArrayList summary = new LongArrayList();
    private final AtomicLong dirtyBytes = new AtomicLong();
    private final ScheduledExecutorService timer;
    private final ScheduledExecutorService gcTimer;
    /** Starts a commit in the background once half the dirty-data limit is written. */
    private final ExecutorService syncer;
    private final AtomicBoolean syncQueued = new AtomicBoolean();

    private volatile long openGeneration;
    private volatile long durableGeneration;
    private volatile CommitInfo lastCommit;
    private volatile IOException failure;
    private volatile boolean closed;
    private volatile boolean corrupt;
    private boolean rollMeta;
    private long superblockSequence;
    private int commitsSinceSuperblock;
    private volatile boolean dirtyCatalog;
    /** Reads of trees and data hold it shared; deleting reclaimed segment files holds it exclusively. */
    private final ReentrantReadWriteLock reclaimLock = new ReentrantReadWriteLock();
    private final Collector collector = new Collector(this);
    private final ReentrantLock gcMutex = new ReentrantLock();
    private volatile boolean gcPaused;
    /** The store's size limit in segments (0 = none), kept in the superblock. */
    private volatile long maxSegments;
    /**
     * Bytes written or trimmed since the last collection, and whether anything was destroyed:
     * an upper bound on the garbage made, so the background collector walks the trees only
     * when there may be enough to collect.
     */
    private final AtomicLong churn = new AtomicLong();
    /** User data bytes written since open, and that count at the freeze of each recent generation. */
    private final AtomicLong userBytes = new AtomicLong();
    private final TreeMap<Long, Long> bytesAtGeneration = new TreeMap<>();
    /** Churn a commit has frozen: what the collector's next mark can see as garbage. */
    private final AtomicLong frozenChurn = new AtomicLong();
    private final AtomicBoolean gcNudged = new AtomicBoolean();
    private volatile boolean dropped;
    /** A drop not yet frozen by a commit; the freeze turns it into {@link #dropped}. */
    private volatile boolean dropPending;
    /** The batch of the freeze under way (for changes that write records, such as compaction). */
    private MetaBatch freezeBatch;
    /** Segments below it hold no data that the roots installed by the last freeze do not cover. */
    private int pinnedCount;

    private Store(StoreOptions options, Storage storage, Closeable lock, Log log, Superblock sb,
                  CommitInfo last, boolean rollMeta, StorageFile superblockFile) throws IOException {
        this.options = options;
        this.storage = storage;
        this.lock = lock;
        this.log = log;
        this.readOnly = options.readOnly();
        this.uuidHi = sb.uuidHi();
        this.uuidLo = sb.uuidLo();
        this.superblockSequence = sb.sequence();
        this.superblockFile = superblockFile;
        this.cache = new NodeCache(log, options.nodeCacheBytes());
        this.lastCommit = last;
        this.maxSegments = options.maxSizeBytes() > 0 ? options.maxSizeBytes() / log.segmentSize() : sb.maxSegments();
        log.setSegmentLimit(maxSegments);
        log.setRecycleLimit(options.recycleSegments()); // deleteSegment never keeps a wiped file
        log.setMetaFill(options.metaFill());
        this.openGeneration = last.generation() + 1;
        this.durableGeneration = last.generation();
        this.rollMeta = rollMeta;
        this.catalog = new Catalog(log, cache, last.catalogRoot(), last.nextId());
        this.catalog.load();
        if (!readOnly && options.commitIntervalMillis() > 0) {
            timer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "varve-commit-timer " + storage.root().getFileName());
                t.setDaemon(true);
                return t;
            });
            long ms = options.commitIntervalMillis();
            timer.scheduleWithFixedDelay(this::timedCommit, ms, ms, TimeUnit.MILLISECONDS);
        } else {
            timer = null;
        }
        if (!readOnly && options.dirtyBytesLimit() < Long.MAX_VALUE) {
            syncer = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "varve-sync " + storage.root().getFileName());
                t.setDaemon(true);
                return t;
            });
        } else {
            syncer = null;
        }
        if (syncer != null) {
            log.onDataSegmentFull(this::startWriteback);
        }
        if (!readOnly && options.gcIntervalMillis() > 0) {
            gcTimer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "varve-collector " + storage.root().getFileName());
                t.setDaemon(true);
                t.setPriority(Thread.MIN_PRIORITY);
                return t;
            });
            long ms = options.gcIntervalMillis();
            gcTimer.scheduleWithFixedDelay(this::backgroundCollect, ms, ms, TimeUnit.MILLISECONDS);
        } else {
            gcTimer = null;
        }
    }

    // ------------------------------------------------------------------ create and open

    /** Creates a new, empty store in {@code dir} (created if missing; must be empty). */
    public static Store create(Path dir) throws IOException {
        return create(dir, StoreOptions.defaults());
    }

    public static Store create(Path dir, StoreOptions options) throws IOException {
        if (options.segmentSize() < (1 << 20) || options.segmentSize() > (1L << 32)) {
            throw new IllegalArgumentException("segment size must be between 1 MiB and 4 GiB, got " + options.segmentSize());
        }
        Storage storage = options.storageFactory().apply(dir);
        storage.createRoot();
        if (storage.exists(SuperblockLayout.FILE_NAME)) {
            throw new NameExistsException(dir + " already holds a Varve store; open it instead");
        }
        for (String name : storage.list()) {
            if (!name.equals(LOCK_FILE)) {
                throw new VarveException(dir + " is not empty; create a store in a new or empty directory");
            }
        }
        Closeable lock = takeLock(storage);
        try {
            UUID uuid = UUID.randomUUID();
            Log log = new Log(storage, uuid.getMostSignificantBits(), uuid.getLeastSignificantBits(),
                    options.segmentSize(), 1);
            log.setMetaFill(options.metaFill());
            MetaBatch batch = log.beginBatch(1);
            batch.rollToNewSegment();
            CommitInfo first = batch.appendCommit(LogAddress.NONE, TreePointer.EMPTY, 1);
            Segment last = batch.write();
            last.file.force();
            Superblock sb = new Superblock(FormatVersion.CURRENT, 1, uuid.getMostSignificantBits(),
                    uuid.getLeastSignificantBits(), options.segmentSize(), first.address(), first.length(), 1);
            StorageFile sbf = storage.open(SuperblockLayout.FILE_NAME, true);
            // both slots start valid, so either can be torn later without losing the store
            sbf.write(Superblock.encode(new Superblock(sb.format(), 0, sb.uuidHi(), sb.uuidLo(), sb.segmentSize(),
                    sb.commitAddress(), sb.commitLength(), sb.generation())), 0);
            sb.write(sbf);
            storage.syncDirectory();
            return new Store(options, storage, lock, log, sb, first, false, sbf);
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /** Opens an existing store, rolling forward to its last complete commit. */
    public static Store open(Path dir) throws IOException {
        return open(dir, StoreOptions.defaults());
    }

    /**
     * Opens an existing store. Intent records after the last commit (flushes not yet committed)
     * are replayed; one that verifies but cannot be replayed (it names a volume or blocks the
     * catalog does not hold, or a tree node on its path is damaged) stops a read-write open with
     * a {@link CorruptionException}. A read-only open then shows the store as the records before
     * that one leave it, and says so in {@link #openWarning()}: what a read-write store would
     * serve cannot be told, but the data before the damage can still be read and copied out.
     */
    public static Store open(Path dir, StoreOptions options) throws IOException {
        return open(dir, options, Integer.MAX_VALUE, null);
    }

    private static Store open(Path dir, StoreOptions options, int replayLimit, String warning) throws IOException {
        Storage storage = options.storageFactory().apply(dir);
        if (!storage.rootExists()) {
            throw new NotAStoreException(dir + " does not exist or is not a directory; create a store with 'varve init "
                    + dir + "'");
        }
        Superblock sb = Superblock.readNewest(storage);
        Closeable lock = takeLock(storage);
        Log log = null;
        StorageFile sbf = null;
        Store s = null;
        boolean replaying = false;
        List<long[]> intents = List.of();
        try {
            log = new Log(storage, sb.uuidHi(), sb.uuidLo(), sb.segmentSize(), 1);
            log.openExisting();
            CommitInfo start = Recovery.readCommit(log, sb.commitAddress(), sb.commitLength());
            if (start.generation() != sb.generation()) {
                // a whole commit record of another generation where the superblock points: a
                // stale or misdirected write, never something a crash leaves
                throw new CorruptionException(log.segment(LogAddress.segment(sb.commitAddress())).file.path(),
                        sb.commitAddress(), "the superblock names the commit of generation " + sb.generation()
                        + ", but the commit record there is of generation " + start.generation()
                        + " (a stale or misdirected write); run 'varve fsck --repair'");
            }
            Recovery.Result r = Recovery.rollForward(log, start);
            if (r.damagedIntent() != null) {
                // a damaged intent record with a whole later one after it: flushes were made
                // durable past the damage, so going on without them is refused read-write
                if (!options.readOnly()) {
                    throw r.damagedIntent();
                }
                warning = "the store shows its last commit and the " + r.intents().size() + " intent record(s) after it"
                        + " that verify, open read-only: " + r.damagedIntent().getMessage();
            }
            CommitInfo last = r.last();
            // the next record goes after the intents of the last commit, never over them
            log.setMetaHead(LogAddress.segment(last.address()), r.end(), r.tailAfterLast());
            sbf = options.readOnly() ? null : storage.open(SuperblockLayout.FILE_NAME, false);
            s = new Store(options, storage, lock, log, sb, last, r.tailAfterLast(), sbf);
            s.openWarning = warning;
            intents = r.intents();
            List<long[]> replay = intents.size() > replayLimit ? intents.subList(0, replayLimit) : intents;
            if (!replay.isEmpty()) {
                replaying = true;
                s.replayIntents(replay);
                replaying = false;
            }
            if (!options.readOnly() && (r.commitsReplayed() > 0 || !r.intents().isEmpty()
                    || sb.format() < FormatVersion.CURRENT)) {
                s.writeSuperblock(); // it names this code's format version from now on
            }
            return s;
        } catch (IOException | RuntimeException e) {
            if (s != null) {
                // the store owns the files, the lock and its threads now; failed, it closes
                // them and commits nothing
                s.fail(e);
                try {
                    s.close();
                } catch (IOException closing) {
                    e.addSuppressed(closing);
                }
            } else {
                if (sbf != null) {
                    sbf.close();
                }
                if (log != null) {
                    log.close();
                }
                lock.close();
            }
            if (replaying && options.readOnly() && replayLimit == Integer.MAX_VALUE && e instanceof CorruptionException) {
                // opened again from scratch, replaying only the records that went in whole
                int whole = s.intentsReplayed;
                return open(dir, options, whole, "the store shows its last commit and " + whole + " of the "
                        + intents.size() + " intent records after it (flushes not yet committed): " + e.getMessage()
                        + "; the writes of that record and the ones after it are not shown. It is open read-only;"
                        + " 'varve fsck' says what is damaged and 'varve fsck --repair' makes it open read-write");
            }
            throw e;
        }
    }

    /**
     * Why this store shows less than its log holds, or null: a read-only open that could not
     * replay every intent record after the last commit ({@link #open(Path, StoreOptions)}).
     */
    public String openWarning() {
        return openWarning;
    }

    private static Closeable takeLock(Storage storage) throws IOException {
        Closeable l = storage.tryLock(LOCK_FILE);
        if (l == null) {
            String holder = "";
            try {
                holder = " (process " + Files.readString(storage.path(LOCK_FILE)).trim() + ")";
            } catch (IOException | RuntimeException ignored) {
                // the pid is only a hint
            }
            throw new StoreLockedException(storage.root() + " is already open by another Varve" + holder
                    + "; close it first, or send the command to the running server");
        }
        return l;
    }

    /** True when {@code dir} holds a Varve store. */
    public static boolean isStore(Path dir) {
        return Files.isRegularFile(dir.resolve(SuperblockLayout.FILE_NAME));
    }

    public Path directory() {
        return storage.root();
    }

    public boolean readOnly() {
        return readOnly || corrupt;
    }

    // ------------------------------------------------------------------ internals for devices

    Log log() {
        return log;
    }

    NodeCache cache() {
        return cache;
    }

    /** Snapshots sends are reading, by catalog id, with how many sends read each. */
    private final Map<Long, Integer> sending = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Marks a snapshot as read by a send until the returned handle is closed: destroying it, or
     * its volume, is refused meanwhile, where it would otherwise fail the send halfway.
     */
    java.io.Closeable holdForSend(long snapshotId) {
        sending.merge(snapshotId, 1, Integer::sum);
        return () -> sending.computeIfPresent(snapshotId, (k, n) -> n == 1 ? null : n - 1);
    }

    private void refuseIfSending(CatalogEntry s) throws SnapshotBusyException {
        if (sending.containsKey(s.id)) {
            throw new SnapshotBusyException("snapshot '" + fullName(s) + "' in " + storage.root() + " is being sent;"
                    + " wait for the send to finish (or stop it), then destroy it");
        }
    }

    /**
     * Tree-node reads this store has made from its files since it was opened: one per I/O, so
     * nodes read together ({@code NodeCache.loadAll}) count once. A figure for benchmarks and
     * monitoring, as ZFS's ARC counts its misses.
     */
    public long nodeReads() {
        return cache.reads();
    }

    long openGeneration() {
        return openGeneration;
    }

    void checkOpen() throws StoreClosedException {
        if (closed) {
            throw new StoreClosedException("store " + storage.root() + " is closed");
        }
    }

    void beginWrite() throws IOException {
        checkOpen();
        if (readOnly()) {
            throw new ReadOnlyException("store " + storage.root() + (corrupt
                    ? " found corruption and is now read-only; run 'varve fsck'" : " is open read-only"));
        }
        checkFailed();
        txgLock.readLock().lock();
    }

    void endWrite() {
        txgLock.readLock().unlock();
    }

    /**
     * True when a block born in generation {@code birth} was written by users less than about
     * half the store's size ago (the HOT/WARM split of {@link Volume}). Generations older than
     * this process, or than the window, count as old.
     */
    /** User data bytes written since open (the compactor's pacer watches it for foreground writes). */
    long userBytesWritten() {
        return userBytes.get();
    }

    double gcDutyCycle() {
        return options.gcDutyCycle();
    }

    boolean writtenRecently(long birth) {
        long now = userBytes.get();
        if (birth >= openGeneration) {
            return true;
        }
        Map.Entry<Long, Long> at;
        synchronized (bytesAtGeneration) {
            at = bytesAtGeneration.ceilingEntry(birth);
        }
        // bytes written by the end of the birth's group, or later if that group was pruned
        return at != null && at.getKey() == birth && now - at.getValue() < recentWindow();
    }

    private long recentWindow() {
        return Math.max(4, log.segmentCount() / 2) * log.segmentSize();
    }

    void wrote(Volume v, long address, long lba, int blocks, long bytes) {
        userBytes.addAndGet(bytes);
        dirtyVolumes.add(v);
        loggedVolumes.add(v);
        if (blocks > 0) {
            synchronized (summary) {
                summary.addLong(address);
                summary.addLong(lba);
                summary.addLong(blocks);
                summary.addLong(v.entry.lineage);
            }
        }
        dirtyBytes.addAndGet(bytes);
        churn.addAndGet(bytes);
    }

    /** A trim: what it dropped may be garbage now (the background collector's cheap trigger). */
    void discarded(long bytes) {
        churn.addAndGet(bytes);
    }

    /**
     * Admits a data write of {@code bytes} under the store's size limit: writers are slowed as
     * the store nears it (and the collector is woken), then refused with a clear error before
     * anything is written. A reserve of segments under the limit stays for commits, snapshots,
     * destroy and the collector, so a full store can always be emptied.
     */
    void admitWrite(long bytes) throws IOException {
        long limit = maxSegments;
        if (limit <= 0) {
            return;
        }
        long seg = log.segmentSize();
        long max = limit * seg;
        long reserve = reserveSegments(limit);
        long userLimit = limit - reserve;
        long room = log.dataHeadRoom();
        long needed = bytes <= room ? 0 : (bytes - room + seg - 1) / seg;
        long used = log.segmentCount();
        if (used + needed > userLimit) {
            wakeCollector();
            throw new OutOfSpaceException("store " + storage.root() + " is full: it is limited to " + max + " bytes ("
                    + limit + " segments, " + reserve + " of them kept for commits, snapshots, destroy and the collector)"
                    + " and " + used + " are in use; destroy snapshots or volumes and run 'varve gc', or open it with a"
                    + " larger --max-size. Nothing was written.");
        }
        long soft = slowedFrom(limit);
        if (used + needed > soft) {
            wakeCollector();
            try {
                Thread.sleep(Math.min(20, 1 + (used + needed - soft)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** True when the store's files are capped ({@code --max-size}). */
    boolean hasSizeLimit() {
        return maxSegments > 0;
    }

    /** True when the store has a limit and its segments are past the point where writers are slowed. */
    private boolean nearLimit() {
        long limit = maxSegments;
        return limit > 0 && log.segmentCount() + 1 > slowedFrom(limit);
    }

    /** Segments in use past which writers are slowed: nine tenths of what the reserve leaves them. */
    private static long slowedFrom(long limit) {
        return (limit - reserveSegments(limit)) * 9 / 10;
    }

    static long reserveSegments(long limit) {
        return Math.max(3, limit / 10);
    }

    /** Data bytes the compactor may move in one pass without eating the last of the reserve. */
    long compactionBudget(long wanted) {
        long limit = maxSegments;
        if (limit <= 0) {
            return wanted;
        }
        // new data segments may not take the metadata log's reserve (the compaction commit's own
        // records go there); moved data goes to the hot and the cold head, each of which may need
        // a new segment for its last bytes, or, when only one new segment fits, all of it to the
        // cold head (a full store must still be able to empty its emptiest segments into one)
        // Each segment is counted at what the copy surely fits in it: a run that does not fit
        // in a head's room opens the next segment and leaves that room unused (runs and batches
        // are at most Collector.COPY_RUN_BYTES), and each allocation is aligned to at most
        // 4 KiB; so a run and 64 KiB of padding are kept back per segment (in production's
        // 64 MiB segments, half a percent)
        long margin = Collector.COPY_RUN_BYTES + (64 << 10);
        long seg = Math.max(0, log.segmentSize() - SegmentLayout.HEADER_BYTES - margin);
        long hot = Math.max(0, log.dataHeadRoom(Log.HOT) - margin);
        long cold = Math.max(0, log.dataHeadRoom(Log.COLD) - margin);
        long spare = dataSegmentsLeft();
        if (spare < 2) {
            return Math.min(wanted, Math.max(0, spare) * seg + cold);
        }
        return Math.min(wanted, (spare - 1) * seg + hot + cold);
    }

    /** New data segments a size limit still allows (Long.MAX_VALUE without one). */
    private long dataSegmentsLeft() {
        long limit = maxSegments;
        return limit <= 0 ? Long.MAX_VALUE : limit - Log.META_RESERVE - log.segmentCount();
    }

    /**
     * True when a size limit leaves room for at most one new segment of moved data: the
     * compactor then writes every survivor to the cold stream instead of splitting them.
     */
    boolean compactsToOneStream() {
        return dataSegmentsLeft() < 2;
    }

    /**
     * After a commit: when the churn commits have frozen since the collector's last pass could
     * make the garbage ratio, a pass is started now instead of at the next interval, so a fast
     * writer's overwritten data comes back in seconds rather than piling up for the interval.
     */
    private void nudgeCollector() {
        ScheduledExecutorService t = gcTimer;
        if (t == null || gcPaused
                || frozenChurn.get() < options.gcGarbageRatio() * log.segmentCount() * log.segmentSize()) {
            return;
        }
        if (gcNudged.compareAndSet(false, true)) {
            try {
                t.execute(() -> {
                    boolean ran = false;
                    try {
                        ran = backgroundCollect(false);
                    } finally {
                        gcNudged.set(false);
                    }
                    if (ran) {
                        // commits made while the pass ran found it queued and were dropped:
                        // what they froze is looked at now, not at the next interval
                        nudgeCollector();
                    }
                });
            } catch (RejectedExecutionException closing) {
                gcNudged.set(false);
            }
        }
    }

    private void wakeCollector() {
        ScheduledExecutorService t = gcTimer;
        if (t != null && !gcPaused) {
            try {
                t.execute(() -> backgroundCollect(true));
            } catch (RejectedExecutionException closing) {
                // the store is closing
            }
        }
    }

    /**
     * Heap a dirty extent node may take: a full leaf, weighed as the node cache weighs a node
     * (three times its encoded bytes; a leaf of one-block extents holds several hundred
     * objects). Interior and part-full nodes take less, so the bound errs towards committing.
     */
    static final long DIRTY_NODE_BYTES = 3L * TreeKind.EXTENTS.maxLeafBytes;

    /**
     * Bounds the data written since the last commit, as a ZFS transaction group is bounded:
     * at half the limit a commit starts in the background, so the disk syncs one group while
     * writers fill the next; at the limit the writer commits itself, which throttles writers
     * that outrun the disk. Dirty tree nodes are bounded the same way, at the node cache's
     * budget and twice it: they stay in memory until a commit writes them, and with flushes
     * logged as intents random writes over a large volume would otherwise pin a node each.
     */
    void afterWrite() throws IOException {
        long dirty = dirtyBytes.get();
        long limit = options.dirtyBytesLimit();
        long nodes = cache.dirtyNodes() * DIRTY_NODE_BYTES;
        long nodeLimit = 2 * Math.max(options.nodeCacheBytes(), 1L << 20);
        if (dirty >= limit || nodes >= nodeLimit) {
            commit(false);
        } else if ((dirty >= limit / 2 || nodes >= nodeLimit / 2) && syncer != null
                && syncQueued.compareAndSet(false, true)) {
            try {
                syncer.execute(() -> {
                    try {
                        timedCommit();
                    } finally {
                        syncQueued.set(false);
                    }
                });
            } catch (RejectedExecutionException closing) {
                syncQueued.set(false);
            }
        }
    }

    /**
     * A data write failed part-way: some of its runs may be in the tree already. The store
     * refuses further writes and commits until reopened, so the torn write never becomes
     * durable; reopening gives the last commit.
     */
    IOException writeFailed(IOException e) {
        IOException t = Log.translateIo(e, "writing data");
        failure = t;
        return t;
    }

    /**
     * A data write failed before any of it reached a volume's map: if the disk is full, the
     * store stays usable (destroy and collect, then write again); any other failure fails it.
     */
    IOException firstWriteFailed(IOException e) {
        return firstWriteFailed(e, "writing data");
    }

    /** As {@link #firstWriteFailed(IOException)}, the failure described as {@code what}. */
    IOException firstWriteFailed(IOException e, String what) {
        IOException t = Log.translateIo(e, what);
        if (!(t instanceof OutOfSpaceException)) {
            failure = t;
        }
        return t;
    }

    CorruptionException corrupted(CorruptionException e) {
        corrupt = true;
        return e;
    }

    private void checkFailed() throws StoreFailedException {
        IOException f = failure;
        if (f == null) {
            f = log.windowFailure();
        }
        if (f != null) {
            throw new StoreFailedException("store " + storage.root() + " had a failed write or fsync (" + f.getMessage()
                    + "); nothing after its last durable commit is guaranteed; close and reopen it", f);
        }
    }

    // ------------------------------------------------------------------ commits

    /** A change to the catalog, run inside a commit's freeze; validates before it mutates. */
    @FunctionalInterface
    private interface CatalogChange<T> {
        T apply() throws IOException;
    }

    /**
     * Makes every write that completed before this call durable (group commit). With only
     * volume writes pending it logs them as intent records and forces them with the data, one
     * small record per flush rather than every changed tree node; the next commit (the timer,
     * the dirty-bytes limit, a catalog change or close) writes the trees.
     */
    public void flush() throws IOException {
        checkOpen();
        if (readOnly) {
            return;
        }
        checkFailed();
        long target = openGeneration;
        commitMutex.lock();
        try {
            // a commit this flush waited for may have failed after taking the writes out of the
            // intent log: they are then durable nowhere, and nothing here may be acknowledged
            checkFailed();
            if (durableGeneration >= target || (loggedVolumes.isEmpty() && !dirtyCatalog)) {
                return;
            }
            if (options.intentLog() && !dirtyCatalog && !rollMeta && logIntents()) {
                return;
            }
            commitLocked(null);
        } finally {
            commitMutex.unlock();
        }
    }

    /**
     * Writes every changed tree and the catalog as one durable transaction group, as the
     * commit timer does (ZFS's {@code zpool sync}). A {@link #flush()} is enough for
     * durability; this is for callers that need the committed roots to hold every write so
     * far: diff and send of a head, an explicit collection, exact space accounting.
     */
    public void commit() throws IOException {
        checkOpen();
        if (readOnly()) {
            return;
        }
        checkFailed();
        commit(false);
    }

    /** Intent bytes past which a flush commits instead (recovery replays at most this much). */
    private static final long MAX_INTENT_BYTES = 64L << 20;

    /**
     * Logs every write and trim no intent record or commit holds yet, under the commit mutex:
     * taken with no write in flight, then the data segments they were written to are forced
     * (unless the records carry the data, {@link StoreOptions#inlineFlushBytes()}),
     * then the records, then the meta segment. Returns false, having changed nothing, when the
     * records would not fit in the meta head (a commit then moves the log on instead).
     */
    private boolean logIntents() throws IOException {
        List<IntentOps.Taken> taken = new ArrayList<>();
        List<Long> dataOf = new ArrayList<>();
        long dataBytes = 0;
        boolean inline;
        List<Segment> data;
        Log.DetachedWindows windows;
        MetaBatch batch;
        long gen;
        txgLock.writeLock().lock();
        try {
            List<Volume> from = new ArrayList<>();
            for (Volume v : loggedVolumes) {
                if (!v.destroyed && v.ops.length() > 0) {
                    from.add(v);
                    dataOf.add(v.ops.writtenBlocks() * v.blockSize);
                    dataBytes += dataOf.get(dataOf.size() - 1);
                }
            }
            // small, the data goes into the records ({@link IntentLayout#INLINE}): one fsync, not
            // two; not near the store's limit, where a second copy takes room the reserve needs
            inline = dataBytes <= options.inlineFlushBytes() && !nearLimit();
            for (int i = 0; i < from.size(); i++) {
                Volume v = from.get(i);
                byte[] ops = v.ops.bytes();
                taken.add(new IntentOps.Taken(v.id(),
                        inline ? IntentOps.inline(ops, v.blockSize, dataOf.get(i), log::readData) : ops));
            }
            List<byte[]> payloads = IntentOps.payloads(lastCommit.address(), intentsSinceCommit, taken);
            long bytes = 0;
            for (byte[] payload : payloads) {
                bytes += RecordLayout.paddedLength(payload.length);
            }
            if (bytes > MAX_INTENT_BYTES || !log.metaHeadHasRoom(bytes)) {
                return false;
            }
            for (Volume v : loggedVolumes) {
                v.ops.clear();
            }
            loggedVolumes.clear();
            gen = openGeneration;
            // inline, the records hold the data: the data segments and their windows wait for
            // the next commit (or a flush that forces them)
            windows = inline ? () -> { } : log.detachUserWindows();
            data = inline ? List.of() : log.takeUnforcedData();
            batch = log.beginBatch(gen);
            for (int i = 0; i < payloads.size(); i++) {
                byte[] payload = payloads.get(i);
                byte flags = i == payloads.size() - 1 ? IntentLayout.FLAG_FLUSH_END : 0;
                batch.append(RecordLayout.TYPE_INTENT, flags, 0, payload.length, (b, o) -> b.putBytes(o, payload));
            }
            intentsSinceCommit += payloads.size();
            intentRecords.addAndGet(payloads.size());
        } catch (IOException | RuntimeException e) {
            fail(e);
            throw e;
        } finally {
            txgLock.writeLock().unlock();
        }
        makeDurable(windows, data, batch, "logging the writes of generation " + gen);
        if (inline && (inlineSinceWriteback += dataBytes) >= INLINE_WRITEBACK_BYTES) {
            // the data those records carry is still to be forced where it lies: start that on
            // the sync thread now, so the next commit does not find seconds of it at once
            inlineSinceWriteback = 0;
            for (Segment s : log.unforcedDataSegments()) {
                startWriteback(s);
            }
        }
        return true;
    }

    /** Data that inline flushes logged since their data segments' last writeback began (under the commit mutex). */
    private long inlineSinceWriteback;

    /** Inline-flushed data after which the data segments are forced in the background. */
    private static final long INLINE_WRITEBACK_BYTES = 4L << 20;

    /**
     * Forces a data segment the streams have moved past, on the sync thread, so its writeback
     * overlaps the writes that follow instead of waiting for the next flush or commit (which
     * force it again, cheaply, before anything points at it durably). A failure fails the
     * store: the file's error may be reported to this fsync only, so a later one could succeed
     * over lost pages. A segment the collector deleted meanwhile needs nothing.
     */
    private void startWriteback(Segment s) {
        try {
            syncer.execute(() -> {
                if (closed || failure != null) {
                    return;
                }
                try {
                    s.file.force();
                } catch (java.nio.channels.ClosedChannelException deleted) {
                    // reclaimed before its writeback started
                } catch (IOException e) {
                    fail(Log.translateIo(e, "writing back data segment " + s.id));
                }
            });
        } catch (RejectedExecutionException closing) {
            // the store is closing: its last commit forces every segment
        }
    }

    /** Records what failed the store: nothing more is acknowledged until it is reopened. */
    private void fail(Exception e) {
        failure = e instanceof IOException io ? io : new IOException(e);
    }

    /**
     * The durable half of a flush or a commit, after its capture: the windows reach their
     * segments, the data segments are forced (the data records point at is durable before
     * they can be), then the records are written and the meta segment forced, the one fsync
     * that makes them durable. A failed write or fsync is never retried and called good: the
     * store refuses further flushes until reopened.
     */
    private void makeDurable(Log.DetachedWindows windows, List<Segment> data, MetaBatch batch, String doing)
            throws IOException {
        try {
            windows.write();
            for (Segment s : data) {
                s.file.force();
            }
            batch.write().file.force();
        } catch (IOException e) {
            failure = Log.translateIo(e, doing);
            throw failure;
        }
    }

    /** Intent records written since the store was opened. */
    public long intentRecordsWritten() {
        return intentRecords.get();
    }

    /**
     * Replays the intent records recovery found after the last commit into the volume heads,
     * in log order; a read-write store then commits them at once, so they are in trees before
     * anything is appended after them.
     */
    private void replayIntents(List<long[]> intents) throws IOException {
        txgLock.readLock().lock();
        try {
            replayLocked(intents);
        } finally {
            txgLock.readLock().unlock();
        }
        if (!readOnly) {
            commitMutex.lock();
            try {
                commitLocked(null);
            } finally {
                commitMutex.unlock();
            }
        }
    }

    private void replayLocked(List<long[]> intents) throws IOException {
        intentsReplayed = 0;
        for (long[] at : intents) {
            long address = at[0];
            UnsafeBuffer rec = log.readRecord(address, (int) at[1]);
            long gen = rec.getLong(RecordLayout.GENERATION_OFFSET);
            Path file = log.segment(LogAddress.segment(address)).file.path();
            IntentOps.Malformed bad = IntentOps.replay(rec, RecordLayout.HEADER_BYTES,
                    (int) at[1] - RecordLayout.HEADER_BYTES,
                    new IntentOps.Replay() {
                        @Override
                        public void write(long volumeId, long lba, int blocks, long addr, int[] crcs, byte[] data)
                                throws IOException {
                            Volume v = replayTarget(volumeId, lba, blocks, file, address);
                            if (data != null) {
                                if (data.length != blocks * v.blockSize) {
                                    throw new CorruptionException(file, address, "an inline intent op carries "
                                            + data.length + " bytes for " + blocks + " blocks of " + v.blockSize);
                                }
                                log.restore(addr, data);
                            }
                            v.map.insert(lba, new Extent(blocks, addr, gen, crcs));
                            wrote(v, addr, lba, blocks, (long) blocks * v.blockSize);
                        }

                        @Override
                        public void trim(long volumeId, long lba, long count) throws IOException {
                            Volume v = replayTarget(volumeId, lba, count, file, address);
                            v.map.punch(lba, count);
                            v.entry.unmapGeneration = Math.max(v.entry.unmapGeneration, gen);
                            wrote(v, 0, lba, 0, 0);
                        }
                    });
            if (bad != null) {
                throw new CorruptionException(file, address, bad.why());
            }
            intentsReplayed++;
        }
    }

    private Volume replayTarget(long volumeId, long lba, long blocks, Path file, long address) throws IOException {
        CatalogEntry e = catalog.get(volumeId);
        if (e == null || !e.isVolume()) {
            throw new CorruptionException(file, address, "an intent record names volume id " + volumeId
                    + ", which the last commit's catalog does not hold as a volume");
        }
        if (lba < 0 || blocks < 0 || lba + blocks > e.size / e.blockSize) {
            throw new CorruptionException(file, address, "an intent record names blocks " + lba + "+" + blocks
                    + " of volume '" + e.name + "', past its end");
        }
        return head(e);
    }

    private void commit(boolean force) throws IOException {
        commitMutex.lock();
        try {
            // the commit this one waited for may have failed with the writes already taken
            checkFailed();
            if (!force && dirtyVolumes.isEmpty() && !dirtyCatalog) {
                return;
            }
            commitLocked(null);
        } finally {
            commitMutex.unlock();
        }
    }

    private <T> T change(CatalogChange<T> change) throws IOException {
        checkOpen();
        if (readOnly()) {
            throw new ReadOnlyException("store " + storage.root() + " is read-only");
        }
        checkFailed();
        commitMutex.lock();
        try {
            return commitLocked(change);
        } finally {
            commitMutex.unlock();
        }
    }

    private void timedCommit() {
        try {
            if (!closed && failure == null && (!dirtyVolumes.isEmpty() || dirtyCatalog)) {
                commit(false);
            }
        } catch (IOException | RuntimeException e) {
            // recorded in 'failure' when it is a write failure; the next flush reports it
        }
    }

    /**
     * One transaction group, top to bottom: freeze (write dirty trees, apply the catalog
     * change, write the catalog, close with a commit record), then make the data durable, then
     * write the metadata and force it once.
     */
    private <T> T commitLocked(CatalogChange<T> change) throws IOException {
        checkFailed();
        MetaBatch batch;
        CommitInfo info;
        List<Segment> dataToForce;
        Log.DetachedWindows windows;
        T result = null;
        IOException changeError = null;
        RuntimeException changeBug = null;
        long gen;
        txgLock.writeLock().lock();
        try {
            gen = openGeneration;
            batch = log.beginBatch(gen);
            batch.onWritten(cache::pin);
            freezeBatch = batch;
            pinnedCount = 0;
            if (rollMeta) {
                batch.rollToNewSegment();
                rollMeta = false;
            }
            writeSummary(batch);
            for (Volume v : dirtyVolumes) {
                v.lock.writeLock().lock();
                try {
                    if (!v.destroyed) {
                        int before = batch.writtenNodes().size();
                        v.entry.root = v.map.tree().commit(batch, v.entry.lineage);
                        // readers of this volume find the new nodes by address from now on,
                        // before the batch reaches the file: pin them while the lock is held
                        List<Node<?>> fresh = batch.writtenNodes();
                        cache.pin(fresh.subList(before, fresh.size()));
                        catalog.changed(v.entry);
                    }
                } finally {
                    v.lock.writeLock().unlock();
                }
            }
            dirtyVolumes.clear();
            cache.resetDirty();
            // every write is in a tree of this group now: intent records before it are obsolete
            for (Volume v : loggedVolumes) {
                v.ops.clear();
            }
            loggedVolumes.clear();
            intentsSinceCommit = 0;
            if (change != null) {
                try {
                    result = change.apply();
                } catch (IOException e) {
                    changeError = e;
                } catch (RuntimeException e) {
                    changeBug = e;
                }
            }
            TreePointer catalogRoot = catalog.commit(batch);
            info = batch.appendCommit(lastCommit.address(), catalogRoot, catalog.nextId());
            cache.pin(batch.writtenNodes());
            windows = log.detachWindows();
            dataToForce = log.takeDirtyData();
            // from here on, a data segment not written again (Log.unsettled) holds only writes
            // this commit covers
            frozenChurn.addAndGet(churn.getAndSet(0));
            synchronized (bytesAtGeneration) {
                long now = userBytes.get();
                bytesAtGeneration.put(gen, now);
                long window = recentWindow();
                while (!bytesAtGeneration.isEmpty() && now - bytesAtGeneration.firstEntry().getValue() >= window) {
                    bytesAtGeneration.pollFirstEntry();
                }
            }
            if (dropPending) {
                dropPending = false;
                dropped = true;
            }
            openGeneration = gen + 1;
            dirtyBytes.set(0);
            dirtyCatalog = false;
        } catch (IOException | RuntimeException e) {
            fail(e);
            throw e;
        } finally {
            txgLock.writeLock().unlock();
        }
        makeDurable(windows, dataToForce, batch, "committing generation " + gen);
        cache.unpin(batch.writtenNodes());
        lastCommit = info;
        durableGeneration = gen;
        nudgeCollector();
        if (++commitsSinceSuperblock >= SUPERBLOCK_EVERY_COMMITS) {
            writeSuperblock();
        }
        if (changeError != null) {
            throw changeError;
        }
        if (changeBug != null) {
            throw changeBug;
        }
        return result;
    }

    private void writeSummary(MetaBatch batch) throws IOException {
        long[] e;
        synchronized (summary) {
            e = summary.toLongArray();
            summary.clear();
        }
        int entries = e.length / 4;
        for (int i = 0; i < entries; i += SUMMARY_ENTRIES_PER_RECORD) {
            int first = i;
            int n = Math.min(entries - i, SUMMARY_ENTRIES_PER_RECORD);
            batch.append(RecordLayout.TYPE_DATA_SUMMARY, 0, 4 + n * 28, (b, o) -> {
                b.putInt(o, n);
                int p = o + 4;
                for (int k = first * 4; k < (first + n) * 4; k += 4) {
                    b.putLong(p, e[k]);
                    b.putLong(p + 8, e[k + 1]);
                    b.putInt(p + 16, (int) e[k + 2]);
                    b.putLong(p + 20, e[k + 3]);
                    p += 28;
                }
            });
        }
    }

    private void writeSuperblock() throws IOException {
        if (superblockFile == null) {
            return;
        }
        CommitInfo c = lastCommit;
        Superblock sb = new Superblock(FormatVersion.CURRENT, ++superblockSequence, uuidHi, uuidLo,
                log.segmentSize(), c.address(), c.length(), c.generation(), (int) maxSegments);
        try {
            sb.write(superblockFile);
        } catch (IOException e) {
            // a superblock slot may be torn and its fsync may have lost pages: as after any
            // failed write or fsync, nothing more is acknowledged until the store is reopened
            failure = Log.translateIo(e, "writing the superblock");
            throw failure;
        }
        commitsSinceSuperblock = 0;
    }

    // ------------------------------------------------------------------ names

    static void validateName(String kind, String name) {
        if (name == null || name.isEmpty()) {
            throw new InvalidNameException(kind + " name is empty");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            throw new InvalidNameException(kind + " name '" + name + "' is longer than " + MAX_NAME_BYTES + " bytes");
        }
        if (name.equals(".") || name.equals("..") || name.startsWith("-")) {
            throw new InvalidNameException(kind + " name '" + name + "' is not allowed");
        }
        for (int i = 0; i < name.length(); i++) {
            char ch = name.charAt(i);
            if (ch == '@' || ch == '/' || ch == '\\' || Character.isISOControl(ch)) {
                throw new InvalidNameException(kind + " name '" + name.replaceAll("\\p{Cntrl}", "?")
                        + "' contains '" + (Character.isISOControl(ch) ? "a control character" : String.valueOf(ch))
                        + "'; names may not contain '@', '/', '\\' or control characters");
            }
        }
    }

    private CatalogEntry volumeEntry(String name) throws NoSuchVolumeException {
        CatalogEntry e = catalog.volume(name);
        if (e == null) {
            throw new NoSuchVolumeException("no volume named '" + name + "' in " + storage.root()
                    + "; 'varve list " + storage.root() + "' shows the volumes");
        }
        return e;
    }

    /** Resolves "snap" on {@code volume}'s line, or "vol@snap" anywhere. */
    private CatalogEntry snapshotEntry(String volume, String snapshot) throws IOException {
        String vol = volume;
        String snap = snapshot;
        int at = snapshot.indexOf('@');
        if (at >= 0) {
            vol = snapshot.substring(0, at);
            snap = snapshot.substring(at + 1);
        }
        CatalogEntry v = volumeEntry(vol);
        CatalogEntry s = catalog.snapshot(v.id, snap);
        if (s == null) {
            throw new NoSuchSnapshotException("no snapshot '" + vol + "@" + snap + "' in " + storage.root()
                    + "; 'varve list --tree " + storage.root() + "' shows the snapshots");
        }
        return s;
    }

    private String fullName(CatalogEntry e) {
        if (e == null) {
            return null;
        }
        if (e.isVolume()) {
            return e.name;
        }
        CatalogEntry v = catalog.get(e.origin);
        return (v == null ? "?" : v.name) + "@" + e.name;
    }

    private Volume head(CatalogEntry e) {
        return heads.computeIfAbsent(e.id, id -> new Volume(this, e, extentMap(e.root, e.blockSize)));
    }

    private ExtentMap extentMap(TreePointer root, int blockSize) {
        return new ExtentMap(new CowTree<>(TreeKind.EXTENTS, Extent.CODEC, cache, root), blockSize);
    }

    private <T> T reading(CatalogChange<T> read) throws IOException {
        checkOpen();
        txgLock.readLock().lock();
        try {
            return read.apply();
        } finally {
            txgLock.readLock().unlock();
        }
    }

    // ------------------------------------------------------------------ volumes

    public Volume createVolume(String name, long sizeBytes) throws IOException {
        return createVolume(name, sizeBytes, 4096);
    }

    public Volume createVolume(String name, long sizeBytes, int blockSize) throws IOException {
        validateVolumeName(name);
        return create(name, sizeBytes, blockSize);
    }

    /** Creates the volume a receive of a full stream builds ({@code %recv-NAME}). */
    Volume createPartial(String name, long sizeBytes, int blockSize) throws IOException {
        validateName("volume", name);
        return create(name, sizeBytes, blockSize);
    }

    private Volume create(String name, long sizeBytes, int blockSize) throws IOException {
        if (blockSize < 512 || blockSize > 65536 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size " + blockSize + " is not a power of two from 512 to 65536");
        }
        if (sizeBytes <= 0 || sizeBytes > MAX_VOLUME_SIZE || sizeBytes % blockSize != 0) {
            throw new IllegalArgumentException("volume size " + sizeBytes + " must be a positive multiple of the block size "
                    + blockSize + " and at most " + MAX_VOLUME_SIZE + " bytes");
        }
        CatalogEntry e = change(() -> {
            if (catalog.volume(name) != null) {
                throw new NameExistsException("a volume named '" + name + "' already exists in " + storage.root());
            }
            CatalogEntry n = new CatalogEntry(catalog.allocateId(), CatalogEntry.VOLUME);
            n.name = name;
            n.size = sizeBytes;
            n.blockSize = blockSize;
            n.created = System.currentTimeMillis();
            n.lineage = n.id;
            catalog.add(n);
            return n;
        });
        return head(e);
    }

    public Volume volume(String name) throws IOException {
        refusePartial(name);
        return reading(() -> head(volumeEntry(name)));
    }

    /**
     * Refuses a user's call on the volume an interrupted resumable receive builds
     * ({@code %recv-NAME}): writes, snapshots, reverts or a rename there would change what a
     * resumed stream continues from, unseen, and destroying it is what {@code --abort} does.
     * A receive reaches it through package-private calls.
     */
    private void refusePartial(String name) throws NoSuchVolumeException {
        if (name.startsWith(StreamLayout.PARTIAL_PREFIX)) {
            String target = name.substring(StreamLayout.PARTIAL_PREFIX.length());
            throw new NoSuchVolumeException("'" + name + "' in " + storage.root() + " is what an interrupted receive"
                    + " into '" + target + "' has received so far, not a volume to use: resume it with 'varve receive "
                    + storage.root() + " " + target + " --resume', or discard it with --abort");
        }
    }

    /** A name a user gives a new volume: valid, and not one a receive keeps for itself. */
    private static void validateVolumeName(String name) {
        validateName("volume", name);
        if (name.startsWith(StreamLayout.PARTIAL_PREFIX)) {
            throw new InvalidNameException("volume name '" + name + "' starts with '" + StreamLayout.PARTIAL_PREFIX
                    + "', which is kept for the volumes that resumable receives build; choose another name");
        }
    }

    /** A volume's head by name, the one a resumable receive builds ({@code %recv-NAME}) too. */
    Volume partialVolume(String name) throws IOException {
        return reading(() -> head(volumeEntry(name)));
    }

    /** A volume head ("vm1") or a read-only snapshot ("vm1@before-upgrade"). */
    public BlockDevice device(String spec) throws IOException {
        int at = spec.indexOf('@');
        if (at < 0) {
            return volume(spec);
        }
        return snapshotDevice(spec.substring(0, at), spec.substring(at + 1));
    }

    public BlockDevice snapshotDevice(String volume, String snapshot) throws IOException {
        return reading(() -> {
            CatalogEntry s = snapshotEntry(volume, snapshot);
            return new SnapshotDevice(this, s, fullName(s), s.size, s.blockSize, extentMap(s.root, s.blockSize));
        });
    }

    public List<VolumeInfo> volumes() throws IOException {
        return reading(() -> {
            List<VolumeInfo> out = new ArrayList<>();
            for (CatalogEntry e : catalog.volumes()) {
                out.add(volumeInfoOf(e));
            }
            return out;
        });
    }

    public VolumeInfo volumeInfo(String name) throws IOException {
        return reading(() -> volumeInfoOf(volumeEntry(name)));
    }

    private VolumeInfo volumeInfoOf(CatalogEntry e) throws IOException {
        return new VolumeInfo(e.id, e.name, e.size, e.blockSize, e.created,
                e.origin == 0 ? null : fullName(catalog.get(e.origin)),
                e.parent == 0 ? null : fullName(catalog.get(e.parent)),
                catalog.snapshotsOf(e.id).size(), Collections.unmodifiableMap(new TreeMap<>(catalog.properties(e))));
    }

    public void resizeVolume(String name, long newSize) throws IOException {
        resize(volume(name), newSize);
    }

    /** Resizes a head, the partial volume of a receive too (sized to the stream's). */
    void resize(Volume v, long newSize) throws IOException {
        String name = v.name();
        if (newSize <= 0 || newSize > MAX_VOLUME_SIZE || newSize % v.blockSize != 0) {
            throw new IllegalArgumentException("new size " + newSize + " must be a positive multiple of the block size "
                    + v.blockSize + " and at most " + MAX_VOLUME_SIZE + " bytes");
        }
        long old = v.size();
        if (newSize < old) {
            // unmap the tail first, so the commit below writes the shrunk tree with the new size:
            // a later grow must read zeros there, never the old data
            v.trim(newSize, old - newSize);
        }
        change(() -> {
            CatalogEntry e = volumeEntry(name);
            if (e != v.entry) {
                throw new NoSuchVolumeException("volume '" + name + "' was replaced while resizing");
            }
            e.size = newSize;
            catalog.changed(e);
            return null;
        });
    }

    public void renameVolume(String name, String newName) throws IOException {
        refusePartial(name);
        validateVolumeName(newName);
        change(() -> {
            CatalogEntry e = volumeEntry(name);
            if (catalog.volume(newName) != null) {
                throw new NameExistsException("a volume named '" + newName + "' already exists");
            }
            catalog.rename(e, newName);
            return null;
        });
    }

    /** Destroys a volume; with snapshots it needs {@code recursive} (the error lists them). */
    public void destroyVolume(String name, boolean recursive) throws IOException {
        refusePartial(name);
        destroy(name, recursive);
    }

    /** Discards the volume a receive builds ({@code %recv-NAME}), with any snapshot in it. */
    void destroyPartial(String name) throws IOException {
        destroy(name, true);
    }

    private void destroy(String name, boolean recursive) throws IOException {
        dropPending = true;
        change(() -> {
            CatalogEntry e = volumeEntry(name);
            List<CatalogEntry> snaps = catalog.snapshotsOf(e.id);
            if (!snaps.isEmpty() && !recursive) {
                List<String> names = new ArrayList<>();
                for (CatalogEntry s : snaps) {
                    names.add(fullName(s));
                }
                throw new HasSnapshotsException("volume '" + name + "' has " + snaps.size() + " snapshot(s): "
                        + String.join(", ", names) + "; destroy them first or use --recursive");
            }
            for (CatalogEntry s : snaps) {
                refuseIfSending(s);
            }
            for (CatalogEntry s : snaps) {
                dropSnapshot(s);
            }
            catalog.remove(e);
            Volume v = heads.remove(e.id);
            if (v != null) {
                v.destroyed = true;
                dirtyVolumes.remove(v);
            }
            return null;
        });
    }

    // ------------------------------------------------------------------ snapshots

    public SnapshotInfo snapshot(String volume, String snapshot, Map<String, String> properties) throws IOException {
        refusePartial(volume);
        validateName("snapshot", snapshot);
        Map<String, String> props = checkedProperties(properties);
        CatalogEntry s = change(() -> {
            CatalogEntry v = volumeEntry(volume);
            if (catalog.snapshot(v.id, snapshot) != null) {
                throw new NameExistsException("snapshot '" + volume + "@" + snapshot + "' already exists");
            }
            return takeSnapshot(v, snapshot, null, props);
        });
        return reading(() -> snapshotInfoOf(s));
    }

    /** Runs inside a commit's freeze, after the volume's tree was written: O(1). */
    private CatalogEntry takeSnapshot(CatalogEntry v, String name, String group, Map<String, String> props) {
        CatalogEntry s = new CatalogEntry(catalog.allocateId(), CatalogEntry.SNAPSHOT);
        s.name = name;
        s.group = group;
        s.origin = v.id;
        s.parent = v.parent;
        s.root = v.root;
        s.size = v.size;
        s.blockSize = v.blockSize;
        s.created = System.currentTimeMillis();
        s.generation = openGeneration;
        s.lineage = v.lineage;
        s.unmapGeneration = v.unmapGeneration;
        if (!props.isEmpty()) {
            s.properties = new TreeMap<>(props);
            s.propertiesDirty = true;
        }
        catalog.add(s);
        catalog.setParent(v, s.id);
        return s;
    }

    /** Snapshots several volumes atomically (one commit); every snapshot is named {@code group}. */
    public List<SnapshotInfo> snapshotGroup(String group, List<String> volumes, Map<String, String> properties)
            throws IOException {
        validateName("group", group);
        if (volumes.isEmpty()) {
            throw new IllegalArgumentException("a group snapshot needs at least one volume");
        }
        Map<String, String> props = checkedProperties(properties);
        List<CatalogEntry> taken = change(() -> {
            List<CatalogEntry> vs = new ArrayList<>();
            for (String name : new java.util.LinkedHashSet<>(volumes)) {
                refusePartial(name);
                CatalogEntry v = volumeEntry(name);
                if (catalog.snapshot(v.id, group) != null) {
                    throw new NameExistsException("snapshot '" + name + "@" + group + "' already exists");
                }
                vs.add(v);
            }
            List<CatalogEntry> out = new ArrayList<>();
            for (CatalogEntry v : vs) {
                out.add(takeSnapshot(v, group, group, props));
            }
            return out;
        });
        return reading(() -> {
            List<SnapshotInfo> out = new ArrayList<>();
            for (CatalogEntry s : taken) {
                out.add(snapshotInfoOf(s));
            }
            return out;
        });
    }

    /** The volume head becomes the snapshot's root; every snapshot stays. */
    public void revert(String volume, String snapshot, String keepCurrent) throws IOException {
        refusePartial(volume);
        if (keepCurrent != null) {
            validateName("snapshot", keepCurrent);
        }
        change(() -> {
            CatalogEntry v = volumeEntry(volume);
            CatalogEntry s = revertTarget(v, snapshot);
            if (keepCurrent != null && catalog.snapshot(v.id, keepCurrent) != null) {
                throw new NameExistsException("snapshot '" + volume + "@" + keepCurrent + "' already exists");
            }
            if (keepCurrent != null) {
                takeSnapshot(v, keepCurrent, null, Map.of());
            }
            revertTo(v, s);
            return null;
        });
    }

    private CatalogEntry revertTarget(CatalogEntry v, String snapshot) throws IOException {
        CatalogEntry s = snapshotEntry(v.name, snapshot);
        if (s.origin == v.id) {
            return s;
        }
        for (CatalogEntry a = catalog.get(v.parent); a != null; a = a.parent == 0 ? null : catalog.get(a.parent)) {
            if (a.id == s.id) {
                return s;
            }
        }
        throw new IllegalArgumentException("snapshot '" + fullName(s) + "' is not in the history of volume '" + v.name
                + "'; to start a volume from it use 'varve clone STORE " + fullName(s) + " NEWVOLUME'");
    }

    private void revertTo(CatalogEntry v, CatalogEntry s) {
        Volume h = head(v);
        h.lock.writeLock().lock();
        try {
            h.map.tree().reset(s.root);
            v.root = s.root;
            v.size = s.size;
            v.unmapGeneration = s.unmapGeneration;
        } finally {
            h.lock.writeLock().unlock();
        }
        catalog.setParent(v, s.id);
        dirtyVolumes.remove(h);
    }

    /** Reverts every volume of a group snapshot in one commit. */
    public void revertGroup(String group) throws IOException {
        change(() -> {
            List<CatalogEntry> members = groupMembers(group);
            for (CatalogEntry s : members) {
                revertTo(catalog.get(s.origin), s);
            }
            return null;
        });
    }

    private List<CatalogEntry> groupMembers(String group) throws NoSuchSnapshotException {
        List<CatalogEntry> members = new ArrayList<>();
        for (CatalogEntry e : catalog.all()) {
            if (!e.isVolume() && group.equals(e.group)) {
                members.add(e);
            }
        }
        if (members.isEmpty()) {
            throw new NoSuchSnapshotException("no group snapshot named '" + group + "' in " + storage.root());
        }
        members.sort((a, b) -> Long.compare(a.id, b.id));
        return members;
    }

    public Volume clone(String volume, String snapshot, String newVolume) throws IOException {
        validateVolumeName(newVolume);
        return cloneInto(volume, snapshot, newVolume);
    }

    /** Clones a snapshot into the volume a receive of an incremental stream builds ({@code %recv-NAME}). */
    Volume clonePartial(String volume, String snapshot, String partial) throws IOException {
        validateName("volume", partial);
        return cloneInto(volume, snapshot, partial);
    }

    private Volume cloneInto(String volume, String snapshot, String newVolume) throws IOException {
        CatalogEntry e = change(() -> {
            CatalogEntry s = snapshotEntry(volume, snapshot);
            if (catalog.volume(newVolume) != null) {
                throw new NameExistsException("a volume named '" + newVolume + "' already exists");
            }
            CatalogEntry n = new CatalogEntry(catalog.allocateId(), CatalogEntry.VOLUME);
            n.name = newVolume;
            n.size = s.size;
            n.blockSize = s.blockSize;
            n.created = System.currentTimeMillis();
            n.root = s.root;
            n.origin = s.id;
            n.parent = s.id;
            n.lineage = n.id;
            n.unmapGeneration = s.unmapGeneration;
            catalog.add(n);
            return n;
        });
        return partialVolume(e.name); // a receive clones its base into its partial volume
    }

    public void destroySnapshot(String volume, String snapshot) throws IOException {
        change(() -> {
            CatalogEntry s = snapshotEntry(volume, snapshot);
            refuseIfSending(s);
            dropSnapshot(s);
            return null;
        });
    }

    /** Drops an entry: its children hang on its parent, as a deleted Hyper-V checkpoint's do. */
    private void dropSnapshot(CatalogEntry s) {
        dropPending = true;
        for (CatalogEntry c : catalog.childrenOf(s.id)) {
            catalog.setParent(c, s.parent);
        }
        catalog.remove(s);
    }

    public void renameSnapshot(String volume, String snapshot, String newName) throws IOException {
        validateName("snapshot", newName);
        change(() -> {
            CatalogEntry s = snapshotEntry(volume, snapshot);
            if (catalog.snapshot(s.origin, newName) != null) {
                throw new NameExistsException("snapshot '" + volume + "@" + newName + "' already exists");
            }
            catalog.rename(s, newName);
            return null;
        });
    }

    public SnapshotInfo snapshotInfo(String volume, String snapshot) throws IOException {
        return reading(() -> snapshotInfoOf(snapshotEntry(volume, snapshot)));
    }

    public List<SnapshotInfo> snapshots(String volume) throws IOException {
        return reading(() -> {
            List<SnapshotInfo> out = new ArrayList<>();
            for (CatalogEntry s : catalog.snapshotsOf(volumeEntry(volume).id)) {
                out.add(snapshotInfoOf(s));
            }
            return out;
        });
    }

    /** Every snapshot in the store, by volume then age. */
    public List<SnapshotInfo> snapshots() throws IOException {
        return reading(() -> {
            List<SnapshotInfo> out = new ArrayList<>();
            for (CatalogEntry v : catalog.volumes()) {
                for (CatalogEntry s : catalog.snapshotsOf(v.id)) {
                    out.add(snapshotInfoOf(s));
                }
            }
            return out;
        });
    }

    private SnapshotInfo snapshotInfoOf(CatalogEntry s) throws IOException {
        List<String> children = new ArrayList<>();
        for (CatalogEntry c : catalog.childrenOf(s.id)) {
            if (!c.isVolume()) {
                children.add(fullName(c));
            }
        }
        CatalogEntry v = catalog.get(s.origin);
        return new SnapshotInfo(s.id, v == null ? "?" : v.name, s.name, s.created, s.generation, s.size, s.blockSize,
                s.parent == 0 ? null : fullName(catalog.get(s.parent)), children, s.group,
                Collections.unmodifiableMap(new TreeMap<>(catalog.properties(s))));
    }

    // ------------------------------------------------------------------ properties

    private static Map<String, String> checkedProperties(Map<String, String> props) {
        if (props == null) {
            return Map.of();
        }
        long total = 0;
        for (Map.Entry<String, String> kv : props.entrySet()) {
            checkProperty(kv.getKey(), kv.getValue());
            total += kv.getKey().length() + (long) kv.getValue().getBytes(StandardCharsets.UTF_8).length;
        }
        if (total > MAX_PROPERTIES_BYTES) {
            throw new IllegalArgumentException("properties total " + total + " bytes; at most " + MAX_PROPERTIES_BYTES);
        }
        return new LinkedHashMap<>(props);
    }

    private static void checkProperty(String key, String value) {
        if (key == null || key.isEmpty() || key.length() > 255 || key.contains("=") || key.chars().anyMatch(Character::isISOControl)) {
            throw new IllegalArgumentException("property key '" + key + "' must be 1 to 255 characters, without '=' or control characters");
        }
        if (value != null && value.getBytes(StandardCharsets.UTF_8).length > MAX_PROPERTY_VALUE) {
            throw new IllegalArgumentException("property '" + key + "' value is larger than 1 MiB");
        }
    }

    private CatalogEntry entryOf(String spec) throws IOException {
        int at = spec.indexOf('@');
        return at < 0 ? volumeEntry(spec) : snapshotEntry(spec.substring(0, at), spec.substring(at + 1));
    }

    /** Properties of "VOL" or "VOL@SNAP". */
    public Map<String, String> properties(String spec) throws IOException {
        return reading(() -> Collections.unmodifiableMap(new TreeMap<>(catalog.properties(entryOf(spec)))));
    }

    /** Sets (or with a null value removes) a property of "VOL" or "VOL@SNAP". */
    public void setProperty(String spec, String key, String value) throws IOException {
        checkProperty(key, value);
        change(() -> {
            CatalogEntry e = entryOf(spec);
            Map<String, String> m = new TreeMap<>(catalog.properties(e));
            if (value == null) {
                m.remove(key);
            } else {
                m.put(key, value);
            }
            long total = 0;
            for (Map.Entry<String, String> kv : m.entrySet()) {
                total += kv.getKey().length() + (long) kv.getValue().getBytes(StandardCharsets.UTF_8).length;
            }
            if (total > MAX_PROPERTIES_BYTES) {
                throw new IllegalArgumentException("properties of " + spec + " would total " + total + " bytes; at most "
                        + MAX_PROPERTIES_BYTES);
            }
            e.properties = m;
            e.propertiesDirty = true;
            catalog.changed(e);
            return null;
        });
    }

    // ------------------------------------------------------------------ info and close

    public StoreInfo info() throws IOException {
        return reading(() -> {
            long bytes = 0;
            int segs = 0;
            for (Segment s : log.segments()) {
                bytes += s.file.size();
                segs++;
            }
            bytes += log.recycledBytes(); // freed files kept for reuse hold disk space too
            long logical = 0;
            for (CatalogEntry v : catalog.volumes()) {
                logical += v.size;
            }
            return new StoreInfo(storage.root(), FormatVersion.CURRENT, durableGeneration, log.segmentSize(), segs, bytes,
                    catalog.volumes().size(), catalog.snapshotCount(), logical);
        });
    }

    // ------------------------------------------------------------------ collector

    /**
     * Collects now: commits, then marks what the last commit's roots reach, compacts segments whose live
     * share is under the configured utilisation (moving their data to the COLD stream), and
     * deletes dead and emptied segment files. Repeats while passes free space (at most 8).
     */
    public GcReport gc() throws IOException {
        return gc(options.gcVictimUtilization());
    }

    /** As {@link #gc()}, compacting segments whose live share is below {@code victimUtilization}. */
    public GcReport gc(double victimUtilization) throws IOException {
        return collectPasses(victimUtilization, -1);
    }

    /**
     * Collects under space pressure: reclaims dead segments and compacts the best victims (by
     * the same cost-benefit order as {@link #gc()}, any live share below 95%) only until the
     * files take at most {@code bytesOnDisk}, or nothing more can be gained. Cleaning the
     * emptiest segments late, and no more of them than needed, is what keeps write
     * amplification down; {@link #gc()} instead reclaims everything worth reclaiming now.
     */
    public GcReport gcTo(long bytesOnDisk) throws IOException {
        if (bytesOnDisk < 0) {
            throw new IllegalArgumentException("a collection target is a size in bytes, not " + bytesOnDisk);
        }
        return collectPasses(0.95, bytesOnDisk);
    }

    /**
     * Up to 8 collector passes, while they free segments (and, with {@code targetBytes >= 0},
     * until the files fit it); one report for them all.
     */
    private GcReport collectPasses(double victimUtilization, long targetBytes) throws IOException {
        checkOpen();
        if (readOnly()) {
            throw new ReadOnlyException("store " + storage.root() + " is read-only; collection needs write access");
        }
        checkFailed();
        // what was overwritten since the last commit is garbage only once the trees are written
        commit();
        gcMutex.lock();
        try {
            GcReport first = null;
            GcReport last = null;
            int deleted = 0;
            long moved = 0;
            long millis = 0;
            for (int pass = 0; pass < 8; pass++) {
                // under space pressure writers wait for this space: not paced
                GcReport r = collector.collect(victimUtilization, 256L << 20, targetBytes, targetBytes < 0);
                first = first == null ? r : first;
                last = r;
                deleted += r.segmentsDeleted();
                moved += r.bytesMoved();
                millis += r.millis();
                if (r.segmentsDeleted() == 0 || (targetBytes >= 0 && r.bytesAfter() <= targetBytes)) {
                    break;
                }
            }
            // an explicit collection gives the space back: freed files kept for reuse go too
            log.releaseRecycled();
            return new GcReport(first.segmentsBefore(), last.segmentsAfter(), deleted, first.bytesBefore(),
                    last.bytesAfter(), moved, last.liveBytes(), millis);
        } finally {
            gcMutex.unlock();
        }
    }

    /**
     * Bytes this store has written to its segment files since it was opened: user data, data
     * the compactor moved, tree nodes, commit records, segment headers and fill written ahead of the
     * metadata log (StoreOptions.metaFill). Over the bytes users wrote, the
     * store's whole write amplification.
     */
    public long bytesAppended() {
        return log.bytesAppended();
    }

    /** The store's size limit in bytes (0 = none): kept in the superblock, so every open obeys it. */
    public long maxSize() {
        return maxSegments * log.segmentSize();
    }

    /**
     * Sets the store's size limit ({@code 0} removes it), rounded down to whole segments; at
     * least 8 segments. Written to the superblock at once. Lowering it below what the store
     * holds refuses new data until space is freed; nothing is lost.
     */
    public void setMaxSize(long bytes) throws IOException {
        checkOpen();
        if (readOnly()) {
            throw new ReadOnlyException("store " + storage.root() + " is read-only");
        }
        long segs = bytes / log.segmentSize();
        if (bytes != 0 && segs < 8) {
            throw new IllegalArgumentException("a store limit must be at least 8 segments (" + 8 * log.segmentSize()
                    + " bytes), got " + bytes);
        }
        if (segs > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a store limit of " + bytes + " bytes is more segments than the"
                    + " superblock can record; use larger segments");
        }
        commitMutex.lock();
        try {
            checkFailed();
            maxSegments = segs;
            log.setSegmentLimit(segs);
            writeSuperblock();
        } finally {
            commitMutex.unlock();
        }
    }

    /** Stops the background collector (a pass under way finishes); {@link #gc()} still works. */
    public void pauseCollector() {
        gcPaused = true;
    }

    public void resumeCollector() {
        gcPaused = false;
    }

    public boolean collectorPaused() {
        return gcPaused;
    }

    private void backgroundCollect() {
        backgroundCollect(false);
    }

    /**
     * One background pass; true when it looked at the churn it saw (so that churn is spent),
     * false when it did not run, found too little, or failed.
     */
    private boolean backgroundCollect(boolean urgent) {
        if (gcPaused || closed || failure != null) {
            return false;
        }
        if (!gcMutex.tryLock()) {
            return false;
        }
        try {
            // only churn a commit has frozen counts: what is still being written is not garbage
            // the mark could see yet, and a pass must not forget it either
            long seen = frozenChurn.get();
            if (!urgent && !dropped) {
                long onDisk = 0;
                for (Segment seg : log.segments()) {
                    onDisk += seg.file.size();
                }
                if (seen < options.gcGarbageRatio() * onDisk) {
                    return false; // not enough has changed to make the walk worth it
                }
            }
            dropped = false;
            Collector.Mark m = collector.mark();
            long total = m.totalBytes();
            if (total > 0 && (urgent ? m.garbage() > 0 : (double) m.garbage() / total >= options.gcGarbageRatio())) {
                collector.collect(options.gcVictimUtilization(), 256L << 20, !urgent);
            }
            frozenChurn.addAndGet(-seen);
            return true;
        } catch (IOException | RuntimeException e) {
            // a failed pass changes nothing that was committed; a write failure is recorded in
            // 'failure' by the commit path and reported by the next flush
            return false;
        } finally {
            gcMutex.unlock();
        }
    }

    /**
     * Live bytes, garbage and what a collection would reclaim, from a mark of a commit of every
     * write so far (it commits first).
     */
    public SpaceSummary spaceSummary() throws IOException {
        checkOpen();
        commit();
        Collector.Mark m = collector.mark();
        long reclaimable = 0;
        for (var e : m.sizes.entrySet()) {
            long id = e.getKey();
            if (m.heads.contains(id) || id >= m.watermark) {
                continue;
            }
            long cap = Math.max(1, e.getValue() - dev.varve.engine.format.SegmentLayout.HEADER_BYTES);
            long live = m.live.get((long) id);
            if ((double) live / cap < options.gcVictimUtilization()) {
                reclaimable += e.getValue() - live;
            }
        }
        return new SpaceSummary(m.totalBytes(), m.liveBytes(), m.garbage(), reclaimable);
    }

    /** Referenced and exclusive bytes of every volume and snapshot, by name, after a commit of every write so far. */
    public List<SpaceInfo> space() throws IOException {
        checkOpen();
        commit();
        Map<Long, long[]> s = collector.space();
        return reading(() -> {
            List<SpaceInfo> out = new ArrayList<>();
            for (CatalogEntry e : catalog.all()) {
                long[] v = s.get(e.id);
                if (v != null) {
                    out.add(new SpaceInfo(fullName(e), e.size, v[0], v[1]));
                }
            }
            out.sort((a, b) -> a.name().compareTo(b.name()));
            return out;
        });
    }

    interface CatalogRead<T> {
        T apply(Catalog catalog) throws IOException;
    }

    <T> T readingCatalog(CatalogRead<T> read) throws IOException {
        return reading(() -> read.apply(catalog));
    }

    ReentrantReadWriteLock reclaimLock() {
        return reclaimLock;
    }

    /** Moves everything out of the victims in one commit; returns data bytes moved. */
    long compact(Set<Long> victims, Collector.Moves ahead) throws IOException {
        long[] moved = {0};
        change(() -> {
            moved[0] = Collector.relocate(this, catalog, freezeBatch, victims, ahead);
            return null;
        });
        return moved[0];
    }

    /** Pins the nodes the freeze's batch wrote so far (readers may reach them by address now). */
    void pinWritten(MetaBatch batch) {
        List<Node<?>> l = batch.writtenNodes();
        cache.pin(l.subList(pinnedCount, l.size()));
        pinnedCount = l.size();
    }

    /** Installs a moved root for an entry, and in its open volume head (inside a freeze). */
    void swapRoot(CatalogEntry e, TreePointer root) {
        e.root = root;
        Volume h = heads.get(e.id);
        if (h != null) {
            h.lock.writeLock().lock();
            try {
                h.map.tree().reset(root);
            } finally {
                h.lock.writeLock().unlock();
            }
        }
    }

    /**
     * Deletes segment files nothing points into: first a superblock naming the newest commit
     * is made durable (recovery never needs an older one), then the files go under the reclaim
     * lock, so no reader is using an address in them.
     */
    int reclaim(Set<Long> ids) throws IOException {
        if (ids.isEmpty()) {
            return 0;
        }
        commitMutex.lock();
        try {
            checkFailed();
            if (log.staleMetaTail()) {
                // a torn tail after the last commit may hold a next-segment record naming a
                // segment about to be deleted: commit first, stepping over it to a fresh
                // segment, so no record of the log ever names a deleted file
                rollMeta = true;
                commitLocked(null);
            }
            writeSuperblock();
        } finally {
            commitMutex.unlock();
        }
        int n = 0;
        Set<Long> heads = log.heads();
        reclaimLock.writeLock().lock();
        try {
            for (long id : ids) {
                if (!heads.contains(id)) {
                    log.deleteSegment(id, options.wipeOnReclaim());
                    n++;
                }
            }
        } finally {
            reclaimLock.writeLock().unlock();
        }
        storage.syncDirectory();
        return n;
    }

    /**
     * Freed data segment files the store keeps for its next data segments instead of deleting
     * them ({@link StoreOptions#recycleSegments()}); they count in {@link StoreInfo#bytesOnDisk()}.
     */
    public int recycledSegments() {
        return log.recycledCount();
    }

    /** The catalog, for fsck and tests; do not change it. */
    public Catalog catalogForCheck() {
        return catalog;
    }

    /** The last durable commit (for fsck and tests). */
    public CommitInfo lastCommit() {
        return lastCommit;
    }

    private static void awaitQuietly(ExecutorService e) {
        try {
            e.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        IOException error = null;
        try {
            // never interrupt: an interrupt closes the channel of a file being written
            for (ExecutorService e : new ExecutorService[] {timer, syncer, gcTimer}) {
                if (e != null) {
                    e.shutdown();
                }
            }
            for (ExecutorService e : new ExecutorService[] {timer, syncer}) {
                if (e != null) {
                    awaitQuietly(e);
                }
            }
            gcMutex.lock(); // a collection under way finishes first
            gcMutex.unlock();
            if (!readOnly() && failure == null) {
                commitMutex.lock();
                try {
                    if (!dirtyVolumes.isEmpty() || dirtyCatalog) {
                        commitLocked(null);
                    }
                    writeSuperblock();
                } finally {
                    commitMutex.unlock();
                }
            }
        } catch (IOException e) {
            error = e;
        } finally {
            closed = true;
            try {
                if (superblockFile != null) {
                    superblockFile.close();
                }
                log.close();
            } catch (IOException e) {
                if (error == null) {
                    error = e;
                }
            }
            lock.close();
        }
        if (error != null) {
            throw error;
        }
    }

    // ---- diff, send and receive ----

    /**
     * The byte ranges, sorted, merged and block-aligned, that differ between two snapshots, or a
     * snapshot and a volume head ({@code "VOL"}, flushed first), of one volume's line or of a
     * clone and its origin: blocks one maps and the other does not, blocks the two map to
     * different data, and whatever lies beyond the smaller size. Both trees are walked together
     * and shared subtrees are skipped, so the cost follows the change, not the volume.
     */
    public List<ByteRange> diff(String from, String to) throws IOException {
        return Diff.between(this, from, to).ranges();
    }

    /** Both roots from one catalog read, so no compaction can have moved one and not the other. */
    CommittedRoot[] committedRoots(String a, String b) throws IOException {
        return reading(() -> {
            CatalogEntry[] e = {entryOf(a), entryOf(b)};
            CommittedRoot[] out = new CommittedRoot[2];
            for (int i = 0; i < 2; i++) {
                // the root is read before the unmap generation: a trim a commit put into this root
                // came before that commit, and its stamp is seen
                TreePointer root = e[i].root;
                out[i] = new CommittedRoot(fullName(e[i]), root, e[i].size, e[i].blockSize, bornAfter(e[i], e[1 - i]));
            }
            return out;
        });
    }

    /**
     * {@code older}'s generation when {@code newer}'s tree descends from it: {@code older} is a
     * snapshot on {@code newer}'s line back along {@code parent}, so every tree between them was
     * made from the one before by writes, trims and moves; and no block was unmapped since
     * {@code older} was taken. Then a block the two map differently is one {@code newer} maps
     * with a birth after that generation: a write since, the only thing that can have changed
     * it. Otherwise -1.
     */
    private long bornAfter(CatalogEntry newer, CatalogEntry older) {
        if (older.isVolume() || newer.id == older.id || newer.unmapGeneration > older.generation) {
            return -1;
        }
        int steps = catalog.all().size();
        for (long p = newer.parent; p != 0 && steps-- > 0; ) {
            if (p == older.id) {
                return older.generation;
            }
            CatalogEntry e = catalog.get(p);
            if (e == null) {
                return -1;
            }
            p = e.parent;
        }
        return -1;
    }

    /**
     * A snapshot's identity across stores: the {@code varve:guid} it was received with, or one
     * derived from this store's UUID and the snapshot's catalog id and generation.
     */
    public UUID snapshotGuid(String snapshot) throws IOException {
        int at = snapshot.indexOf('@');
        if (at < 0) {
            throw new IllegalArgumentException("'" + snapshot + "' is not VOLUME@SNAPSHOT");
        }
        return reading(() -> {
            CatalogEntry s = snapshotEntry(snapshot.substring(0, at), snapshot.substring(at + 1));
            String g = catalog.properties(s).get(dev.varve.engine.stream.StreamLayout.GUID_PROPERTY);
            if (g != null) {
                try {
                    return UUID.fromString(g);
                } catch (IllegalArgumentException e) {
                    throw new VarveException("snapshot '" + snapshot + "' has property "
                            + dev.varve.engine.stream.StreamLayout.GUID_PROPERTY + " '" + g + "', which is not a UUID");
                }
            }
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(32);
            b.putLong(uuidHi).putLong(uuidLo).putLong(s.id).putLong(s.generation);
            return UUID.nameUUIDFromBytes(b.array());
        });
    }

    /** Writes {@code VOL@SNAP} as a send stream: whole, or with a base (another snapshot) only what changed. */
    public SendResult send(String snapshot, String base, java.io.OutputStream out) throws IOException {
        return send(snapshot, base, null, out, StreamProgress.NONE);
    }

    /** As {@link #send(String, String, java.io.OutputStream)}; with a token, only what the interrupted receive lacks. */
    public SendResult send(String snapshot, String base, dev.varve.engine.stream.ResumeToken resume,
                           java.io.OutputStream out, StreamProgress progress) throws IOException {
        checkOpen();
        return new Send(this, snapshot, base, resume, progress).run(out);
    }

    /**
     * As {@link #send(String, String, dev.varve.engine.stream.ResumeToken, java.io.OutputStream, StreamProgress)},
     * onto a channel: data goes from the read buffer to the channel with no copy in between
     * (a file, a pipe or a socket).
     */
    public SendResult send(String snapshot, String base, dev.varve.engine.stream.ResumeToken resume,
                           java.nio.channels.WritableByteChannel out, StreamProgress progress) throws IOException {
        checkOpen();
        return new Send(this, snapshot, base, resume, progress).run(out);
    }

    /** Receives a send stream into {@code volume}; the snapshot appears only once the stream has verified. */
    public ReceiveResult receive(java.io.InputStream in, String volume) throws IOException {
        return receive(in, volume, ReceiveOptions.defaults());
    }

    public ReceiveResult receive(java.io.InputStream in, String volume, ReceiveOptions options) throws IOException {
        checkOpen();
        return new Receive(this, volume, options).run(in);
    }

    /** Where an interrupted resumable receive into {@code volume} stopped, or null when none is pending. */
    public dev.varve.engine.stream.ResumeToken receiveResumeToken(String volume) throws IOException {
        return Receive.token(this, volume);
    }

    /** Discards an interrupted receive into {@code volume}. */
    public void abortReceive(String volume) throws IOException {
        Receive.abort(this, volume);
    }

    /** True when the head has no change since the snapshot it stands on, or since {@code baseId}. */
    boolean headUnchanged(String volume, long baseId) throws IOException {
        commit();
        return reading(() -> headAt(volumeEntry(volume), baseId));
    }

    private boolean headAt(CatalogEntry v, long baseId) {
        for (long id : new long[] {v.parent, baseId}) {
            CatalogEntry s = id == 0 ? null : catalog.get(id);
            if (s != null && !s.isVolume() && s.root.equals(v.root) && s.size == v.size) {
                return true;
            }
        }
        return false;
    }

    /**
     * The last step of a receive, one commit: a full stream's partial volume becomes
     * {@code volume}; an incremental's becomes {@code volume}'s head (refused, unless forced,
     * when the head changed meanwhile), and the partial volume goes. Then the received snapshot
     * is taken, under {@code parentId} when that snapshot still exists.
     */
    SnapshotInfo completeReceive(String partial, String volume, long baseId, long parentId, String snapshot,
                                 Map<String, String> properties, boolean force) throws IOException {
        validateName("snapshot", snapshot);
        Map<String, String> props = checkedProperties(properties);
        CatalogEntry taken = change(() -> {
            CatalogEntry t = volumeEntry(partial);
            if (baseId == 0) {
                if (catalog.volume(volume) != null) {
                    throw new NameExistsException("a volume named '" + volume + "' was made during the receive");
                }
                catalog.rename(t, volume);
                t.properties = new TreeMap<>();
                t.propertiesDirty = true;
                return takeSnapshot(t, snapshot, null, props);
            }
            CatalogEntry v = volumeEntry(volume);
            if (!force && !headAt(v, baseId)) {
                throw new dev.varve.engine.stream.StreamMismatchException("volume '" + volume + "' was changed during"
                        + " the receive; snapshot its changes and receive again, or receive with -F to discard them");
            }
            if (catalog.snapshot(v.id, snapshot) != null) {
                throw new NameExistsException("snapshot '" + volume + "@" + snapshot + "' was made during the receive");
            }
            Volume h = head(v);
            h.lock.writeLock().lock();
            try {
                h.map.tree().reset(t.root);
                v.root = t.root;
                v.size = t.size;
            } finally {
                h.lock.writeLock().unlock();
            }
            dirtyVolumes.remove(h);
            long under = 0;
            for (long id : new long[] {parentId, baseId}) {
                CatalogEntry s = catalog.get(id);
                if (under == 0 && s != null && !s.isVolume() && s.origin == v.id) {
                    under = id;
                }
            }
            // the tree was built on the base: hung on another parent (the stream's, for a
            // differential), it may lack what that parent maps, as if unmapped now
            v.unmapGeneration = under == baseId ? t.unmapGeneration : Math.max(t.unmapGeneration, openGeneration);
            catalog.setParent(v, under);
            catalog.remove(t);
            Volume p = heads.remove(t.id);
            if (p != null) {
                p.destroyed = true;
                dirtyVolumes.remove(p);
            }
            return takeSnapshot(v, snapshot, null, props);
        });
        return reading(() -> snapshotInfoOf(taken));
    }
}
