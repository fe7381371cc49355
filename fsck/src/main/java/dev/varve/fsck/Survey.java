package dev.varve.fsck;

import dev.varve.engine.CorruptionException;
import dev.varve.engine.LogAddress;
import dev.varve.engine.catalog.Superblock;
import dev.varve.engine.format.FormatVersion;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.format.SuperblockLayout;
import dev.varve.engine.io.Storage;
import dev.varve.engine.io.StorageFile;
import dev.varve.engine.log.CommitInfo;
import dev.varve.engine.log.Log;
import dev.varve.engine.log.Recovery;
import dev.varve.engine.log.Segment;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * A store as it is found, read-only: both superblocks, every segment header, every record
 * of every meta segment, the chain of commits, where recovery would end the log, and what
 * the commit it ends at reaches. {@link Fsck} turns it into a {@link Report}; {@link Repair}
 * chooses from it the commit to go back to.
 */
final class Survey implements Closeable {
    /** The smallest block size a volume can have: what an unknown lineage's blocks are counted as. */
    private static final int MIN_BLOCK_SIZE = 512;

    /** A problem at one place in the log (or the superblock file), before it is classified. */
    record LogProblem(String kind, long segment, long offset, String message, String affected) {
    }

    final Storage storage;
    final boolean fast;
    final Meter meter;
    final Report report = new Report();
    final Findings findings = new Findings();

    Superblock[] slots = new Superblock[SuperblockLayout.SLOTS];
    Superblock best;
    long uuidHi;
    long uuidLo;
    long segmentSize;
    boolean identityKnown;

    Log log;
    LogScan scan;
    /** Segments whose header is damaged though the file holds more: a repair rebuilds the header. */
    final Map<Long, String> damagedHeaders = new TreeMap<>();
    CommitInfo start;
    CommitInfo last;
    /** The intent records after {@link #last} that opening replays ({address, length}, in log order). */
    List<long[]> intents = List.of();
    /** Where in the segment of {@link #last} what recovery reads ends: after the last commit and those intents. */
    long recoveryEnd;
    boolean tornTail;
    /** Whole commit records beyond the end of the log recovery finds: durable work it would lose. */
    final List<CommitInfo> beyond = new ArrayList<>();
    /** The chain of commits from {@link #last} back, newest first. */
    final List<CommitInfo> chain = new ArrayList<>();
    /** Segment -> where its part of the committed log ends. */
    final Map<Long, Long> committedEnd = new HashMap<>();
    /** Record addresses an earlier repair accepted as damaged history, with that repair's generation. */
    final Map<Long, Long> acknowledged = new HashMap<>();
    /** Chain and superblock problems, errors unless acknowledged. */
    final List<LogProblem> logProblems = new ArrayList<>();
    DataCheck data;
    ContentCheck content;
    /** Addresses of commits some later whole commit names as its previous one. */
    private Set<Long> successors;
    CommitContent current;
    /** Data segment -> bytes of written data blocks nothing current points at. */
    Map<Long, Long> unreferencedData = Map.of();

    private Survey(Storage storage, boolean fast, Meter meter) {
        this.storage = storage;
        this.fast = fast;
        this.meter = meter;
    }

    /**
     * Looks at everything. Damage is recorded, never thrown; when the storage itself fails (or
     * a bug stops the check) the report says the check was aborted, and keeps what was found.
     */
    static Survey run(Storage storage, boolean fast, Meter meter) {
        return run(storage, fast, meter, null);
    }

    /**
     * As {@link #run(Storage, boolean, Meter)}; given {@code scanned} (for a storage of real files;
     * run once the log is scanned), a full
     * check reads the data segments whole while the log is scanned and the trees are walked
     * ({@link DataScan}, {@link SegmentReads}), or reads them into the page cache on a thread of
     * its own meanwhile and the extents' runs after the walk ({@link Readahead}). Neither changes
     * a finding.
     */
    static Survey run(Storage storage, boolean fast, Meter meter, Runnable scanned) {
        Survey s = new Survey(storage, fast, meter);
        try {
            s.survey(scanned != null && !fast, scanned == null ? () -> { } : scanned);
        } catch (IOException | RuntimeException e) {
            s.report.aborted = true;
            s.report.error("check-aborted", 0, -1, abortMessage(e), (String) null);
        }
        return s;
    }

    /** What stopped a check: a storage that failed to read (or a bug), and what to do. */
    static String abortMessage(Throwable e) {
        if (e instanceof java.io.UncheckedIOException u) {
            e = u.getCause();
        }
        if (e instanceof IOException) {
            return "the check stopped before its end because reading the store failed (" + e.getMessage() + "): the"
                    + " problems listed are only those found before it, and nothing is known of the rest; check the disk"
                    + " and the files' permissions and run fsck again (or check a copy of the files on a sound disk)";
        }
        return "the check stopped before its end on an internal error (" + e + "): the problems listed are only those "
                + "found before it; please report this as a bug";
    }

    private void survey(boolean files, Runnable scanned) throws IOException {
        if (!superblocks()) {
            return;
        }
        log = new Log(storage, uuidHi, uuidLo, segmentSize, 1);
        log.openExisting();
        // a full check of real files reads the data segments whole while the log is scanned and
        // the trees walked (DataScan); else it reads the extents' runs after the walk, through
        // the page cache filled meanwhile (Readahead)
        String mode = SegmentReads.mode();
        SegmentReads reads = files && !mode.equals("off") ? SegmentReads.open(storage, log.segments(),
                mode.equals("direct")) : null;
        DataScan whole = reads != null ? DataScan.start(reads, log.segments(), meter) : null;
        try (SegmentReads closing = reads;
                DataScan stopping = whole;
                Readahead ahead = files && whole == null && (reads == null || !reads.directIo)
                        ? Readahead.start(storage, log.segments()) : Readahead.NONE) {
            segmentHeaders();
            meter.start(totalBytes());
            // one buffer for the check's large reads: the meta segments' windows, then the data runs
            scan = LogScan.scan(log, meter, ByteBuffer.allocateDirect(LogScan.WINDOW_BYTES));
            scanned.run();
            data = new DataCheck(log, findings, meter, fast, ahead::stop, scan.buffer(), reads, whole);
            content = new ContentCheck(log, findings, data);
            if (!findEnd()) {
                return;
            }
            walkChain();
            current = content.check(last, intents);
        } finally {
            if (data != null) {
                data.release();
            }
        }
        unreferencedData = unreferencedData();
        meter.finish();
    }

    /**
     * Data segment -> bytes of data blocks that the data summaries say were written there and
     * that no tree of the current commit, and no pending write, points at: overwritten, trimmed
     * or destroyed data the collector has not reclaimed yet. Data the compactor moved is in no
     * summary, so once overwritten it is not counted; a block of a lineage the catalog no longer
     * holds is counted as 512 bytes (the smallest block size), so the figure is a lower bound.
     */
    private Map<Long, Long> unreferencedData() throws IOException {
        Map<Long, Long> sizes = new HashMap<>();
        for (Segment seg : log.segments()) {
            if (seg.kind == SegmentLayout.KIND_DATA) {
                sizes.put(seg.id, seg.file.size());
            }
        }
        Map<Long, Integer> blockSizes = new HashMap<>();
        for (var e : current.entries) {
            blockSizes.putIfAbsent(e.lineage, Math.max(1, e.blockSize));
        }
        Map<Long, ByteRanges> written = new HashMap<>();
        var w = scan.written;
        for (int i = 0; i + 2 < w.size(); i += 3) {
            long address = w.getLong(i);
            long seg = LogAddress.segment(address);
            Long size = sizes.get(seg);
            long off = LogAddress.offset(address);
            if (size == null || off < SegmentLayout.HEADER_BYTES) {
                continue;
            }
            Integer bs = blockSizes.get(w.getLong(i + 2)); // not getOrDefault, which boxes the default every time
            long end = Math.min(size, off + w.getLong(i + 1) * (bs == null ? MIN_BLOCK_SIZE : bs));
            if (off < end) {
                written.computeIfAbsent(seg, k -> new ByteRanges()).add(off, end);
            }
        }
        Map<Long, Long> out = new TreeMap<>();
        for (var e : written.entrySet()) {
            long bytes = e.getValue().bytesNotIn(content.dataRefs.get(e.getKey()));
            if (bytes > 0) {
                out.put(e.getKey(), bytes);
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ superblocks and identity

    private boolean superblocks() throws IOException {
        if (!storage.exists(SuperblockLayout.FILE_NAME)) {
            logProblems.add(new LogProblem("superblock", 0, -1, storage.root() + " has no " + SuperblockLayout.FILE_NAME
                    + " file", "the whole store (it does not open)"));
        } else {
            try (StorageFile f = storage.open(SuperblockLayout.FILE_NAME, false)) {
                slots = Superblock.readSlots(f);
            }
            for (int i = 0; i < slots.length; i++) {
                Superblock s = slots[i];
                long at = (long) i * SuperblockLayout.SLOT_BYTES;
                if (s == null) {
                    logProblems.add(new LogProblem("superblock", 0, at, "superblock copy " + i + " is damaged",
                            "nothing yet (the other copy is used)"));
                } else if (s.sequence() % SuperblockLayout.SLOTS != i) {
                    logProblems.add(new LogProblem("superblock-slot", 0, at, "superblock copy " + i + " has sequence "
                            + s.sequence() + ", which belongs in copy " + s.sequence() % SuperblockLayout.SLOTS
                            + " (a misdirected or swapped write)", null));
                }
                if (s != null && (best == null || s.sequence() > best.sequence())) {
                    best = s;
                }
            }
            if (slots[0] != null && slots[1] != null
                    && (slots[0].uuidHi() != slots[1].uuidHi() || slots[0].uuidLo() != slots[1].uuidLo())) {
                logProblems.add(new LogProblem("superblock", 0, -1, "the two superblock copies name different stores",
                        null));
            }
            if (best == null) {
                logProblems.add(new LogProblem("superblock", 0, -1, "both superblock copies are damaged",
                        "the whole store (it does not open)"));
            }
        }
        if (best != null) {
            if (best.format() > FormatVersion.CURRENT || best.format() < FormatVersion.OLDEST_READABLE) {
                report.aborted = true;
                report.error("format", 0, -1, "the store has format version " + best.format() + "; this Varve reads "
                        + FormatVersion.OLDEST_READABLE + " to " + FormatVersion.CURRENT
                        + (best.format() > FormatVersion.CURRENT ? ": upgrade Varve to check it" : ""), (String) null);
                return false;
            }
            uuidHi = best.uuidHi();
            uuidLo = best.uuidLo();
            segmentSize = best.segmentSize();
            identityKnown = true;
            return true;
        }
        return inferIdentity();
    }

    /** With no superblock: the store's id from its segment headers, its segment size from its files. */
    private boolean inferIdentity() throws IOException {
        Map<List<Long>, Integer> votes = new HashMap<>();
        long largest = 0;
        for (String name : storage.list()) {
            if (SegmentLayout.parseFileName(name) <= 0) {
                continue;
            }
            try (StorageFile f = storage.open(name, false)) {
                largest = Math.max(largest, f.size());
                ByteBuffer b = ByteBuffer.allocate(SegmentLayout.CRC_OFFSET + SegmentLayout.CRC_BYTES)
                        .order(ByteOrder.LITTLE_ENDIAN);
                if (f.read(b, 0) == b.capacity() && b.getLong(SegmentLayout.MAGIC_OFFSET) == SegmentLayout.MAGIC
                        && crc(b, SegmentLayout.CRC_OFFSET) == b.getInt(SegmentLayout.CRC_OFFSET)) {
                    votes.merge(List.of(b.getLong(SegmentLayout.UUID_OFFSET), b.getLong(SegmentLayout.UUID_OFFSET + 8)),
                            1, Integer::sum);
                }
            }
        }
        if (votes.isEmpty()) {
            logProblems.add(new LogProblem("store-identity", 0, -1, "no superblock and no whole segment header: "
                    + "nothing says which store these files belong to", "the whole store"));
            return false;
        }
        List<Long> id = votes.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
        uuidHi = id.get(0);
        uuidLo = id.get(1);
        segmentSize = inferSegmentSize(largest);
        identityKnown = true;
        return true;
    }

    /** The smallest power of two from 1 MiB that holds the largest segment file. */
    static long inferSegmentSize(long largestFile) {
        long s = 1L << 20;
        while (s < largestFile && s < (1L << 32)) {
            s <<= 1;
        }
        return s;
    }

    static int crc(ByteBuffer b, int to) {
        CRC32C c = new CRC32C();
        c.update(b.duplicate().position(0).limit(to));
        return (int) c.getValue();
    }

    private long totalBytes() throws IOException {
        long t = 0;
        for (Segment s : log.segments()) {
            if (s.kind == SegmentLayout.KIND_META || !fast) {
                t += s.file.size();
            }
        }
        return t;
    }

    /**
     * Segment files whose header does not check. One whose creation a crash interrupted holds
     * nothing (at most a torn header): harmless unless something points into it. One that
     * holds more than a header was whole once: its header is damaged.
     */
    private void segmentHeaders() throws IOException {
        for (var u : new TreeMap<>(log.unusableSegments()).entrySet()) {
            long id = u.getKey();
            String why = u.getValue();
            if (why.contains("segment header names segment")) {
                // a whole header for another id: a freed data segment file a crash caught while it
                // was being renamed for reuse (FORMAT.md, reclaiming); its bytes are stale
                report.warning("segment-header", id, 0, strip(why) + " (a freed segment file a crash caught while it was"
                        + " being reused; an error only if something points into it)");
                continue;
            }
            boolean content = holdsMoreThanAHeader(SegmentLayout.fileName(id));
            boolean rebuildable = why.contains("magic") || why.contains("checksum") || why.contains("incomplete");
            if (content && rebuildable) {
                damagedHeaders.put(id, strip(why));
            }
            if (content) {
                logProblems.add(new LogProblem("segment-header", id, 0, strip(why) + "; the segment holds more than its "
                        + "header, and none of it can be read while the header is damaged", null));
            } else {
                report.warning("segment-header", id, 0, strip(why) + " (the segment holds nothing: a creation a crash "
                        + "interrupted, or a reclaimed segment; an error only if something points into it)");
            }
        }
    }

    private boolean holdsMoreThanAHeader(String name) throws IOException {
        try (StorageFile f = storage.open(name, false)) {
            long size = f.size();
            ByteBuffer b = ByteBuffer.allocate(1 << 20);
            for (long p = SegmentLayout.HEADER_BYTES; p < size; p += b.capacity()) {
                b.clear();
                int n = f.read(b, p);
                for (int i = 0; i < n; i++) {
                    if (b.get(i) != 0) {
                        return true;
                    }
                }
                if (n <= 0) {
                    break;
                }
            }
            return false;
        }
    }

    static String strip(String m) {
        return ContentCheck.strip(m);
    }

    // ------------------------------------------------------------------ where the log ends

    /** The commit recovery starts from, and the one it ends at. False when there is none. */
    private boolean findEnd() throws IOException {
        if (best != null) {
            start = scan.commits.get(best.commitAddress());
            String why = null;
            if (start == null) {
                try {
                    start = Recovery.readCommit(log, best.commitAddress(), best.commitLength());
                } catch (CorruptionException e) {
                    why = strip(e.getMessage());
                }
            }
            if (start != null && (start.length() != best.commitLength() || start.generation() != best.generation())) {
                logProblems.add(new LogProblem("superblock-commit", LogAddress.segment(best.commitAddress()),
                        LogAddress.offset(best.commitAddress()), "the superblock names the commit of generation "
                        + best.generation() + " here, but the record here is the commit of generation " + start.generation()
                        + " (a stale or misdirected write): the store opens to that older state", "the whole store"));
            }
            if (start == null) {
                logProblems.add(new LogProblem("superblock-commit", LogAddress.segment(best.commitAddress()),
                        LogAddress.offset(best.commitAddress()), "the commit the superblock names is unreadable: " + why,
                        "the whole store (it does not open)"));
            }
        }
        if (start == null) {
            start = newestDurable(Long.MAX_VALUE);
            if (start == null) {
                logProblems.add(new LogProblem("commit", 0, -1, "no whole commit record is left in the log",
                        "the whole store"));
                return false;
            }
        }
        Recovery.Result r;
        try {
            r = Recovery.rollForward(log, start);
        } catch (CorruptionException | java.nio.file.NoSuchFileException | RuntimeException e) {
            // damage recovery itself stops at; a storage that fails to read aborts the check
            r = new Recovery.Result(start, 0, true);
        }
        last = r.last();
        tornTail = r.tailAfterLast();
        intents = r.intents();
        recoveryEnd = r.end();
        // a segment is created, and its name made durable, before a next-segment record can
        // point at it; the collector never deletes one that recovery could still reach: a
        // missing one where the log goes on was deleted
        long[] link = scan.nextSegment.get(LogAddress.segment(last.address()));
        if (link != null && link[1] > LogAddress.offset(last.address()) + last.length() && !segmentExists(link[0])) {
            logProblems.add(new LogProblem("segment-missing", link[0], 0, "segment file " + SegmentLayout.fileName(link[0])
                    + " is missing, but the log goes on in it (the next-segment record in segment "
                    + LogAddress.segment(last.address()) + " ending at offset " + link[1] + " says so): the commits it "
                    + "held are lost", "changes committed after generation " + last.generation()));
        }
        for (CommitInfo c : scan.commits.values()) {
            if (c.generation() > last.generation()) {
                beyond.add(c);
            }
        }
        beyond.sort(Comparator.comparingLong(CommitInfo::generation).reversed());
        return true;
    }

    /** True when {@code c} was made durable: recovery from its predecessor accepts it, or a later commit follows it. */
    boolean durable(CommitInfo c) throws IOException {
        if (c.previous() == LogAddress.NONE) {
            return true;
        }
        if (successors == null) {
            successors = new HashSet<>();
            for (CommitInfo d : scan.commits.values()) {
                CommitInfo p = scan.commits.get(d.previous());
                if (p != null && p.generation() < d.generation()) {
                    successors.add(p.address());
                }
            }
        }
        if (successors.contains(c.address())) {
            return true;
        }
        CommitInfo p = scan.commits.get(c.previous());
        if (p == null) {
            return false;
        }
        try {
            return Recovery.rollForward(log, p).last().generation() >= c.generation();
        } catch (CorruptionException | java.nio.file.NoSuchFileException | RuntimeException e) {
            return false;
        }
    }

    /** The newest whole commit below {@code below} (by generation) that was durable. */
    CommitInfo newestDurable(long below) throws IOException {
        List<CommitInfo> all = new ArrayList<>(scan.commits.values());
        all.sort(Comparator.comparingLong(CommitInfo::generation).reversed());
        for (CommitInfo c : all) {
            if (c.generation() < below && durable(c)) {
                return c;
            }
        }
        return all.isEmpty() ? null : all.get(0);
    }

    private boolean segmentExists(long id) {
        if (log.unusableSegments().containsKey(id)) {
            return true;
        }
        try {
            log.segment(id);
            return true;
        } catch (CorruptionException e) {
            return false;
        }
    }

    /** A chain of commits, newest first, and where it breaks (null when it runs to its start). */
    record Chain(List<CommitInfo> commits, LogProblem broken) {
    }

    /**
     * The chain of commits back from {@code c}, through each commit's pointer to the one
     * before. A pointer into a segment that is gone ends the chain quietly: the collector
     * reclaims segments whose commits are history. A pointer into a segment that is there but
     * holds no whole commit at that place is damage.
     */
    Chain chainFrom(CommitInfo c) {
        Set<Long> existing = new HashSet<>(log.unusableSegments().keySet());
        for (Segment s : log.segments()) {
            existing.add(s.id);
        }
        List<CommitInfo> out = new ArrayList<>();
        while (true) {
            out.add(c);
            long p = c.previous();
            if (p == LogAddress.NONE || !existing.contains(LogAddress.segment(p))) {
                return new Chain(out, null);
            }
            CommitInfo q = scan.commits.get(p);
            if (q == null || q.generation() >= c.generation()) {
                return new Chain(out, new LogProblem("commit-chain", LogAddress.segment(p), LogAddress.offset(p),
                        (q == null ? "the commit before generation " + c.generation() + " is damaged or missing"
                                : "the commit before generation " + c.generation() + " has generation " + q.generation())
                                + ": the commits before it cannot be reached",
                        "nothing current (older commits a repair could go back to)"));
            }
            c = q;
        }
    }

    /**
     * The chain back from the end of the log, and where the committed log ends in each
     * segment: at its newest chained commit, or at a next-segment record that leads into the
     * committed log (a transaction group that spans segments).
     */
    private void walkChain() {
        Chain ch = chainFrom(last);
        chain.addAll(ch.commits());
        if (ch.broken() != null) {
            logProblems.add(ch.broken());
        }
        committed(chain);
        if (!beyond.isEmpty() && beyond.get(0).generation() > last.generation() + 1) {
            // whole commits follow the damage that ends the log: they were durable, and so is
            // everything before them
            committed(beyond);
        }
        List<Long> ids = new ArrayList<>(scan.nextSegment.keySet());
        ids.sort(Comparator.reverseOrder());
        for (long id : ids) {
            long[] link = scan.nextSegment.get(id);
            if (committedEnd.containsKey(link[0])) {
                committedEnd.merge(id, link[1], Math::max);
            }
        }
        Set<Long> chained = new HashSet<>();
        for (CommitInfo x : chain) {
            chained.add(x.generation());
        }
        for (LogScan.Mark m : scan.marks) {
            if (chained.contains(m.generation())) {
                for (long a : m.acknowledged()) {
                    acknowledged.putIfAbsent(a, m.generation());
                }
            }
        }
    }

    /**
     * The records up to each commit are committed, and so is the rest of a segment whose last
     * commit is followed by one in another segment: the group in between ran on from it.
     */
    private void committed(List<CommitInfo> commits) {
        for (CommitInfo c : commits) {
            long seg = LogAddress.segment(c.address());
            committedEnd.merge(seg, LogAddress.offset(c.address()) + c.length(), Math::max);
            long prev = c.previous();
            if (prev != LogAddress.NONE && LogAddress.segment(prev) != seg && scan.commits.containsKey(prev)) {
                committedEnd.merge(LogAddress.segment(prev), scan.sizes.getOrDefault(LogAddress.segment(prev), 0L),
                        Math::max);
            }
        }
    }

    @Override
    public void close() throws IOException {
        if (log != null) {
            log.close();
        }
    }

    // ------------------------------------------------------------------ the report

    /** Fills {@link #report}: every problem, classified, with what it affects. */
    Report finish() {
        Report r = report;
        // segments holding what the current commit reaches, or what recovery reads
        Set<Long> needed = new HashSet<>();
        if (content != null) {
            needed.addAll(content.referenced);
        }
        if (best != null) {
            needed.add(LogAddress.segment(best.commitAddress()));
        }
        for (CommitInfo c : chain) {
            if (start == null || c.generation() >= start.generation()) {
                needed.add(LogAddress.segment(c.address()));
            }
        }
        if (current == null) {
            needed.addAll(committedEnd.keySet());
        }
        if (!beyond.isEmpty() && last != null && beyond.get(0).generation() > last.generation() + 1) {
            // whole commits follow the end of the log: damage where they lie is what loses them
            for (CommitInfo c : beyond) {
                needed.add(LogAddress.segment(c.address()));
            }
        }
        Set<Long> contentAddresses = new HashSet<>();
        if (current != null) {
            for (int slot : current.affected.keySet()) {
                Findings.Slot s = findings.get(slot);
                if (s.segment() > 0) {
                    contentAddresses.add(LogAddress.of(s.segment(), s.offset()));
                }
            }
        }
        for (LogProblem p : logProblems) {
            Long by = p.segment() > 0 ? acknowledged.get(LogAddress.of(p.segment(), Math.max(0, p.offset()))) : null;
            boolean history = (p.kind().equals("segment-header") || p.kind().equals("commit-chain"))
                    && current != null && !needed.contains(p.segment());
            if (by != null) {
                r.warning(p.kind(), p.segment(), p.offset(), p.message() + " (accepted as damaged history by the repair "
                        + "at generation " + by + ")");
            } else if (history) {
                // e.g. a segment the collector was wiping when the power went
                r.warning(p.kind(), p.segment(), p.offset(), p.message() + " (in a segment that holds nothing the current "
                        + "commit or recovery uses: history the collector deletes)");
            } else {
                r.error(p.kind(), p.segment(), p.offset(), p.message(), p.affected());
            }
        }
        if (last != null && !beyond.isEmpty()) {
            long max = beyond.get(0).generation();
            if (max > last.generation() + 1) {
                r.error("log-break", LogAddress.segment(last.address()), LogAddress.offset(last.address()) + last.length(),
                        "the log ends at generation " + last.generation() + " (damage stops recovery here), but whole "
                                + "commits up to generation " + max + " follow: their changes are lost when the store opens",
                        "changes committed in generations " + (last.generation() + 1) + "-" + max);
            }
        }
        if (tornTail) {
            r.warning("torn-tail", LogAddress.segment(last.address()), recoveryEnd, intents.isEmpty()
                    ? "records after the last complete commit (an interrupted commit; it is ignored on open)"
                    : "records after the last complete commit and the " + (intents.size() == 1 ? "intent record that "
                            + "follows" : intents.size() + " intent records that follow") + " it (an interrupted commit or "
                            + "flush; it is ignored on open)");
        }
        if (scan != null) {
            for (LogScan.Damage d : scan.damage) {
                if (contentAddresses.contains(d.address())) {
                    continue; // reported below, with what it affects
                }
                Long by = acknowledged.get(d.address());
                long end = committedEnd.getOrDefault(d.segment(), (long) SegmentLayout.HEADER_BYTES);
                if (by == null && lostFlush(d)) {
                    r.error(d.kind(), d.segment(), d.offset(), d.what() + " (among the intent records after the last "
                            + "commit, with records written after it whole: a flush that returned wrote it, so writes it "
                            + "acknowledged are lost when the store opens: those in this record, unreadable, and those "
                            + "listed; fsck --repair keeps the writes before it)", unreplayedWrites(d));
                } else if (by == null && d.offset() >= end && damagedIntent(d)) {
                    r.warning(d.kind(), d.segment(), d.offset(), d.what() + " (after the last commit and the intent "
                            + "records opening replays, and nothing written later follows it: a flush the power cut "
                            + "interrupted, which never returned; ignored on open)");
                } else if (by != null) {
                    r.warning(d.kind(), d.segment(), d.offset(), d.what() + " (accepted as damaged history by the repair "
                            + "at generation " + by + "; nothing current uses it)");
                } else if (d.offset() < end && !needed.contains(d.segment())) {
                    r.warning(d.kind(), d.segment(), d.offset(), d.what() + " (in a segment that holds nothing the current "
                            + "commit or recovery uses: history the collector deletes)");
                } else if (d.offset() < end) {
                    r.error(d.kind(), d.segment(), d.offset(), d.what() + " (inside the committed log)",
                            "nothing current, unless listed below (an older version or back-reference)");
                } else {
                    r.warning(d.kind(), d.segment(), d.offset(), d.what() + " (past the end of the log: an interrupted "
                            + "commit, or commits a repair went back from; ignored on open)");
                }
            }
            r.metaRecords = scan.records;
            r.metaBytes = scan.bytes;
        }
        if (current != null) {
            contentProblems(r);
            r.lastGeneration = last.generation();
            for (var e : current.entries) {
                if (e.isVolume()) {
                    r.volumes++;
                } else {
                    r.snapshots++;
                }
            }
            r.treeNodes = content.treeNodes;
            r.extents = content.extents;
            r.dataBlocks = data.blocks;
            r.dataBytes = data.bytes;
            long reachedRecords = 0;
            for (long a : scan.nodeRecords) {
                if (content.reached.contains(a)) {
                    reachedRecords++;
                }
            }
            r.unreachableRecords = scan.nodeRecords.size() - reachedRecords;
            if (current.pending != null) {
                r.pendingIntents = current.pending.records.size();
                r.pendingOps = current.pending.ops.size();
            }
            r.liveSegments.addAll(content.liveSegments);
            r.unreferencedData.putAll(unreferencedData);
            long dataBytes = r.unreferencedDataBytes();
            if (r.unreachableRecords > 0 || dataBytes > 0) {
                r.warning("unreachable-records", 0, -1, unreachableMessage(r.unreachableRecords, unreferencedData));
            }
            for (var e : content.overfull.entrySet()) {
                r.warning("tree-fill", LogAddress.segment(e.getKey()), LogAddress.offset(e.getKey()), e.getValue());
            }
            for (var e : current.entries) {
                Long bytes = current.referencedBytes.get(e.id);
                if (bytes != null) {
                    r.space.add(new Report.Space(current.name(e), e.size, bytes));
                }
            }
        }
        return r;
    }

    /** What no current tree reaches: old tree nodes and blobs, and data blocks, each counted apart. */
    static String unreachableMessage(long records, Map<Long, Long> data) {
        StringBuilder sb = new StringBuilder();
        if (records > 0) {
            sb.append(records).append(" tree nodes and blobs are not reachable from the current commit (older versions;"
                    + " the collector will reclaim them)");
        }
        if (!data.isEmpty()) {
            long total = data.values().stream().mapToLong(Long::longValue).sum();
            sb.append(sb.length() == 0 ? "" : "; ").append(total).append(" bytes of data blocks in ").append(data.size())
                    .append(data.size() == 1 ? " data segment" : " data segments").append(" (");
            int shown = 0;
            for (var e : data.entrySet()) {
                if (shown++ == 8) {
                    sb.append(", and ").append(data.size() - 8).append(" more segments");
                    break;
                }
                sb.append(shown == 1 ? "" : ", ").append("segment ").append(e.getKey()).append(": ").append(e.getValue())
                        .append(" bytes");
            }
            sb.append(") are referenced by no volume, snapshot or pending write: data overwritten, trimmed or destroyed"
                    + " since it was written, which may be garbage the collector has not yet reclaimed ('varve gc'"
                    + " reclaims it)");
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------ intents after the end

    /** True when {@code d} is a damaged intent record past those opening replays after the last commit. */
    private boolean damagedIntent(LogScan.Damage d) {
        return last != null && d.segment() == LogAddress.segment(last.address()) && d.offset() >= recoveryEnd
                && d.type() == RecordLayout.TYPE_INTENT;
    }

    /** Whole intent records naming the last commit after {@code d}, which opening does not replay. */
    private List<LogScan.Intent> intentsAfter(LogScan.Damage d) {
        List<LogScan.Intent> out = new ArrayList<>();
        for (LogScan.Intent i : scan.intents) {
            if (i.segment() == d.segment() && i.offset() > d.offset() && i.prev() == last.address()
                    && i.generation() == last.generation() + 1) {
                out.add(i);
            }
        }
        return out;
    }

    /**
     * True when damage after the intents opening replays ends writes a flush acknowledged.
     * Every flush forces its intent records before it returns, and nothing is written after
     * them until it has; so damage is a record a returned flush wrote, not one a power cut tore,
     * when something written by a later flush or commit follows it whole: an intent record past
     * the end of the flush that wrote the damaged one (a flush writes a further record only when
     * the one before is full, so a record shorter than that, whole or damaged, ends its flush),
     * or, after a damaged intent record, a record of a later group. With nothing whole after it,
     * damage is what a power cut during a flush that never returned leaves, and only a warning.
     */
    private boolean lostFlush(LogScan.Damage d) {
        if (last == null || d.segment() != LogAddress.segment(last.address()) || d.offset() < recoveryEnd) {
            return false;
        }
        boolean intent = d.type() == RecordLayout.TYPE_INTENT;
        List<LogScan.Intent> after = intentsAfter(d);
        if (!intent && d.type() >= 0 && after.isEmpty()) {
            return false; // a record of an interrupted group, not an intent
        }
        // before an intent record only intent records are written: whatever its type byte now
        // says, a damaged record there is one, and its length (if its header gives one) tells
        // whether it ended its flush
        boolean flushEnded = d.length() > 0 && LogScan.Intent.endsItsFlush(d.length());
        // a whole intent right after a damaged stretch too short to hold a full record: the record
        // before it, in the stretch, was the last its flush wrote
        boolean shortStretch = LogScan.Intent.endsItsFlush((int) Math.min(Integer.MAX_VALUE, d.end() - d.offset()));
        for (LogScan.Intent i : after) {
            if (flushEnded || (shortStretch && i.offset() == d.end())) {
                return true;
            }
            flushEnded = i.endsItsFlush();
        }
        if (!intent && !flushEnded) {
            return false;
        }
        for (LogScan.Tail t : scan.tails.getOrDefault(d.segment(), List.of())) {
            if (t.offset() > d.offset() && t.generation() > last.generation()) {
                return true;
            }
        }
        for (CommitInfo c : beyond) {
            if (LogAddress.segment(c.address()) == d.segment() && LogAddress.offset(c.address()) > d.offset()) {
                return true;
            }
        }
        return false;
    }

    /** What opening loses past damage among the intents: the writes of the whole intent records after it. */
    private List<Problem.Affected> unreplayedWrites(LogScan.Damage d) {
        List<PendingWrites.Op> ops = new ArrayList<>();
        for (LogScan.Intent i : intentsAfter(d)) {
            ops.addAll(PendingWrites.read(log, i.address(), i.length()));
        }
        List<Problem.Affected> out = new ArrayList<>();
        out.add(new Problem.Affected("the writes in the damaged intent record", -1, -1));
        if (current == null) {
            return out;
        }
        for (var e : PendingWrites.ranges(current, ops).entrySet()) {
            if (e.getValue().whole) {
                out.add(new Problem.Affected(e.getKey(), -1, -1));
            }
            for (var x : e.getValue().map.entrySet()) {
                out.add(new Problem.Affected(e.getKey(), x.getKey(), x.getValue() - 1));
            }
        }
        return out;
    }

    /** Damage {@link #lostFlush} judges to have ended acknowledged writes. */
    List<LogScan.Damage> lostFlushes() {
        List<LogScan.Damage> out = new ArrayList<>();
        if (scan != null) {
            for (LogScan.Damage d : scan.damage) {
                if (!acknowledged.containsKey(d.address()) && lostFlush(d)) {
                    out.add(d);
                }
            }
        }
        return out;
    }

    /** The writes of the whole intent records opening does not replay, past the first damage that ends them. */
    List<PendingWrites.Op> unreplayed(LogScan.Damage first) {
        List<PendingWrites.Op> ops = new ArrayList<>();
        for (LogScan.Intent i : intentsAfter(first)) {
            ops.addAll(PendingWrites.read(log, i.address(), i.length()));
        }
        return ops;
    }

    /** Content findings of the current commit; neighbouring failed data blocks become one problem. */
    private void contentProblems(Report r) {
        List<Findings.Slot> slots = new ArrayList<>();
        for (int id : current.affected.keySet()) {
            slots.add(findings.get(id));
        }
        Map<Integer, List<Problem.Affected>> ranges = new LinkedHashMap<>();
        for (Findings.Slot s : slots) {
            ranges.put(s.id(), current.affectedBy(s.id()));
        }
        List<Findings.Slot> blocks = new ArrayList<>();
        for (Findings.Slot s : slots) {
            if (s.kind().equals("data-checksum")) {
                blocks.add(s);
            } else {
                r.error(s.kind(), s.segment(), s.offset(), s.message(), ranges.get(s.id()));
            }
        }
        blocks.sort(Comparator.comparingLong(Findings.Slot::segment).thenComparingLong(Findings.Slot::offset));
        int i = 0;
        while (i < blocks.size()) {
            Findings.Slot first = blocks.get(i);
            long end = first.offset() + first.length();
            List<Problem.Affected> all = new ArrayList<>(ranges.get(first.id()));
            int j = i + 1;
            while (j < blocks.size() && blocks.get(j).segment() == first.segment() && blocks.get(j).offset() == end) {
                end += blocks.get(j).length();
                all.addAll(ranges.get(blocks.get(j).id()));
                j++;
            }
            String what = j - i == 1 ? "data block fails its checksum"
                    : (j - i) + " data blocks (bytes " + first.offset() + "-" + (end - 1) + " of the segment) fail their checksums";
            r.error("data-checksum", first.segment(), first.offset(), what, merge(all));
            i = j;
        }
    }

    /** Affected ranges of one name that touch become one. */
    private static List<Problem.Affected> merge(List<Problem.Affected> in) {
        Map<String, CommitContent.Ranges> by = new LinkedHashMap<>();
        for (Problem.Affected a : in) {
            CommitContent.Ranges rs = by.computeIfAbsent(a.name(), k -> new CommitContent.Ranges());
            if (a.fromByte() < 0) {
                rs.whole = true;
            } else {
                rs.add(a.fromByte(), a.toByte() + 1);
            }
        }
        List<Problem.Affected> out = new ArrayList<>();
        for (var e : by.entrySet()) {
            if (e.getValue().whole && e.getValue().map.isEmpty()) {
                out.add(new Problem.Affected(e.getKey(), -1, -1));
            }
            for (var x : e.getValue().map.entrySet()) {
                out.add(new Problem.Affected(e.getKey(), x.getKey(), x.getValue() - 1));
            }
        }
        return out;
    }
}
