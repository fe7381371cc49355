package dev.varve.fsck;

import dev.varve.engine.LogAddress;
import dev.varve.engine.StoreLockedException;
import dev.varve.engine.btree.CowTree;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.ExtentMap;
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
import dev.varve.engine.io.Storage;
import dev.varve.engine.io.StorageFile;
import dev.varve.engine.log.CommitInfo;
import dev.varve.engine.log.Log;
import dev.varve.engine.log.MetaBatch;
import dev.varve.engine.log.Segment;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code fsck --repair}: make the newest commit whose whole content verifies the store's
 * current state, without ever writing over a record.
 *
 * <p>Pointing the superblock at an older commit is not enough, because opening rolls forward
 * from the commit the superblock names through every later commit whose records are whole:
 * damage to data blocks, or to a record a later commit no longer uses, does not stop it. So
 * the repair writes one new transaction group in a new meta segment, numbered after every
 * segment the store has or mentions: a commit whose previous commit is the chosen one and
 * whose catalog root is the chosen one's (or, with {@code --salvage}, a new catalog without
 * the damaged volumes and snapshots), preceded by a mark that records what the repair did and
 * which damaged records it accepted as history. The commit's generation is above every
 * generation in the log. Only then, once that segment is durable, are both superblock copies
 * rewritten, one after the other, to name the new commit. Recovery starts there; nothing
 * after the chosen commit is ever parsed again, and nothing before it was changed.
 *
 * <p>Writes flushes made durable in intent records after the commit the log ends at, and no
 * commit holds yet, are part of the store's content; a new commit makes them obsolete (recovery
 * replays only those that directly follow the commit it ends at, in its segment). So when the
 * repair keeps that commit, the new group first writes the writes it keeps into the trees of
 * their volumes (each volume keeps its pending writes up to the first intent record in which
 * one fails to verify); the ones it drops, and all of them when it goes back further, are
 * reported as lost, with their volumes and byte ranges. When nothing is dropped and only the
 * superblocks need rewriting, the intent records stay and opening replays them.
 *
 * <p>Besides that, a repair rebuilds what can be derived: a segment header whose checksum
 * fails, on a file that holds records or data, is written anew from the file name, the
 * store's id and what the file holds (it is not a record); and when only the superblocks are
 * damaged, rewriting them is all it does.
 */
final class Repair {
    static final String LOCK_FILE = "LOCK";
    private static final int MARK_TEXT_MAX = 32 * 1024;

    private final Storage storage;
    private final boolean fast;
    private final boolean salvage;
    private final Meter meter;
    private final RepairResult result = new RepairResult();
    /** Volumes salvage took back to a snapshot or dropped: their pending writes go with their contents. */
    private final Set<Long> goneBack = new HashSet<>();

    private Repair(Storage storage, boolean fast, boolean salvage, Meter meter) {
        this.storage = storage;
        this.fast = fast;
        this.salvage = salvage;
        this.meter = meter;
    }

    /** Repairs a store no process has open (it takes the store's lock, as opening does, and holds it). */
    static RepairResult run(Storage storage, boolean fast, boolean salvage, Fsck.Listener listener) throws IOException {
        Closeable lock = storage.tryLock(LOCK_FILE);
        if (lock == null) {
            throw new StoreLockedException(storage.root() + " is open in a Varve process; close it before repairing");
        }
        try {
            return new Repair(storage, fast, salvage, new Meter(listener)).repair();
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        } finally {
            lock.close();
        }
    }

    private RepairResult repair() throws IOException {
        result.salvage = salvage;
        Survey s = Survey.run(storage, fast, meter);
        try {
            result.before = s.finish();
            result.after = result.before;
            if (result.before.clean() || result.before.aborted()) {
                return result;
            }
            if (!s.identityKnown) {
                result.impossible = "neither superblock nor any segment header says which store the files belong to";
                return result;
            }
            if (!s.damagedHeaders.isEmpty() && rebuildHeaders(s)) {
                s.close();
                s = Survey.run(storage, fast, new Meter(null));
                Report again = s.finish();
                if (again.clean() || again.aborted()) {
                    result.after = again;
                    return result;
                }
            }
            if (s.last == null || s.current == null) {
                result.impossible = "no whole commit record is left in the log";
                return result;
            }
            result.fromGeneration = s.last.generation();
            if (salvage) {
                salvage(s);
            } else {
                rollBack(s);
            }
        } finally {
            s.close();
        }
        if (result.performed) {
            result.after = Fsck.check(storage, fast);
        }
        return result;
    }

    // ------------------------------------------------------------------ choosing

    /**
     * Commits to go back to, newest first: the chain back from the end of the log; durable
     * commits beyond that end (whole commits recovery cannot reach past damage); and, when the
     * chain breaks at damage, the durable commits older than the break.
     */
    private static List<CommitInfo> candidates(Survey s) throws IOException {
        List<CommitInfo> l = new ArrayList<>(s.chain);
        long oldest = s.chain.get(s.chain.size() - 1).generation();
        boolean broken = s.logProblems.stream().anyMatch(p -> p.kind().equals("commit-chain"));
        for (CommitInfo c : s.scan.commits.values()) {
            boolean beyond = c.generation() > s.last.generation();
            boolean older = broken && c.generation() < oldest;
            if ((beyond || older) && s.durable(c)) {
                l.add(c);
            }
        }
        l.sort(Comparator.comparingLong(CommitInfo::generation).reversed());
        return l;
    }

    private static CommitContent contentOf(Survey s, CommitInfo c) throws IOException {
        return c == s.last ? s.current : s.content.check(c);
    }

    private void rollBack(Survey s) throws IOException {
        for (CommitInfo c : candidates(s)) {
            CommitContent cc = contentOf(s, c);
            // pending writes that fail to verify do not rule a commit out: they are dropped
            if (cc.committedClean()) {
                describeRollback(s, cc);
                write(s, cc.commit, null);
                return;
            }
        }
        result.impossible = "no commit left in the log has content that verifies"
                + (salvage ? "" : "; try --salvage to keep what verifies");
    }

    private void salvage(Survey s) throws IOException {
        List<CommitInfo> candidates = candidates(s);
        for (CommitInfo c : candidates) {
            CommitContent cc = contentOf(s, c);
            if (!cc.catalogWhole()) {
                continue;
            }
            describeRollback(s, cc);
            Catalog cat = null;
            if (!cc.committedClean()) {
                cat = new Catalog(s.log, new NodeCache(s.log, 64L << 20), c.catalogRoot(), c.nextId());
                cat.load();
                if (!dropDamaged(cat, cc)) {
                    cat = null;
                }
            }
            write(s, c, cat);
            return;
        }
        // no catalog is whole: keep what the newest one still says, in a catalog built anew
        CommitContent cc = s.current;
        describeRollback(s, cc);
        for (int slot : cc.catalogDamage) {
            for (Problem.Affected a : cc.affectedBy(slot)) {
                result.losses.add(new RepairResult.Loss(a.name(), "unreadable, so whatever volumes and snapshots those "
                        + "entries were are lost"));
            }
        }
        Catalog cat = new Catalog(s.log, new NodeCache(s.log, 64L << 20), TreePointer.EMPTY, s.last.nextId());
        for (CatalogEntry e : cc.entries) {
            cat.add(e);
        }
        dropDamaged(cat, cc);
        write(s, s.last, cat);
    }

    /** What going back from the end of the log to {@code g} loses. */
    private void describeRollback(Survey s, CommitContent g) throws IOException {
        long to = g.commit.generation();
        long from = s.last.generation();
        result.toGeneration = to;
        if (to < from) {
            result.losses.add(new RepairResult.Loss("commits", "generations " + (to + 1) + "-" + from
                    + " are undone: the store goes back to generation " + to));
        } else if (to > from) {
            result.actions.add("recovered the whole commits up to generation " + to + " that follow damage in the log");
        }
        if (!s.beyond.isEmpty() && s.beyond.get(0).generation() > Math.max(to, from + 1)) {
            result.losses.add(new RepairResult.Loss("commits", "generations " + (Math.max(to, from) + 1) + "-"
                    + s.beyond.get(0).generation() + ", which follow damage in the log, are not recovered"));
        }
        if (to == from) {
            return;
        }
        CommitContent now = s.current;
        TreeDiff diff = new TreeDiff(new NodeCache(s.log, 64L << 20));
        for (CatalogEntry e : now.entries) {
            CatalogEntry old = g.byId.get(e.id);
            if (old == null) {
                result.losses.add(new RepairResult.Loss(now.name(e), (to < from ? "created after generation " + to
                        : "destroyed in generation " + to) + "; it is gone"));
            } else if (!same(e, old) && to > from) {
                result.losses.add(new RepairResult.Loss(now.name(e), "now as of generation " + to));
            } else if (!same(e, old)) {
                result.losses.add(goesBack(diff, now.name(e), e, old, to));
            }
        }
        for (CatalogEntry old : g.entries) {
            if (!now.byId.containsKey(old.id)) {
                result.actions.add(g.name(old) + " comes back (as of generation " + to + ")");
            }
        }
        if (!now.catalogWhole()) {
            result.losses.add(new RepairResult.Loss("the catalog", "the catalog of generation " + from
                    + " is partly unreadable: volumes and snapshots only it held are not listed above"));
        }
    }

    /**
     * A volume or snapshot going back to generation {@code to}: the byte ranges where its current
     * tree and that commit's differ, when both can be read; else that what changed since is lost.
     */
    private static RepairResult.Loss goesBack(TreeDiff diff, String name, CatalogEntry now, CatalogEntry old, long to)
            throws IOException {
        String back = "goes back to generation " + to;
        int bs = Math.max(1, old.blockSize);
        CommitContent.Ranges blocks = bs == Math.max(1, now.blockSize) ? diff.blocks(now.root, old.root, bs) : null;
        if (blocks == null) {
            return new RepairResult.Loss(name, back + ": changes made to it since generation " + to + " are lost (its "
                    + "current tree cannot be read whole, so which bytes is not known)");
        }
        CommitContent.Ranges bytes = new CommitContent.Ranges();
        long end = Math.min(now.size, old.size);
        for (var r : blocks.map.entrySet()) {
            long from = r.getKey() * bs;
            long until = Math.min(end, r.getValue() * bs);
            if (from < until) {
                bytes.add(from, until);
            }
        }
        if (now.size != old.size) {
            bytes.add(end, Math.max(now.size, old.size)); // what one size has and the other does not
        }
        if (bytes.map.isEmpty()) {
            return new RepairResult.Loss(name, back + ": its blocks are the same there; what else changed since (its size,"
                    + " parent, name or properties) is lost");
        }
        long total = bytes.bytesNotIn(null);
        List<Problem.Affected> ranges = new ArrayList<>();
        for (var r : bytes.map.entrySet()) {
            ranges.add(new Problem.Affected(name, r.getKey(), r.getValue() - 1));
        }
        return new RepairResult.Loss(name, back + ": " + PendingWrites.describe(bytes) + " (" + total + " bytes in "
                + ranges.size() + (ranges.size() == 1 ? " range" : " ranges") + ") differ from its current contents, and "
                + "what they hold now is lost" + (now.size != old.size ? "; its size goes back from " + now.size + " to "
                + old.size + " bytes" : ""), ranges);
    }

    private static boolean same(CatalogEntry a, CatalogEntry b) {
        return a.root.equals(b.root) && a.size == b.size && a.parent == b.parent && a.propsAddress == b.propsAddress
                && Objects.equals(a.name, b.name);
    }

    // ------------------------------------------------------------------ salvage

    /**
     * Drops what does not verify from a readable catalog: damaged snapshots go (their children
     * hang on their parent, as when a snapshot is destroyed); a damaged volume goes back to its
     * nearest snapshot that verifies, or goes; unreadable properties are cleared. Then the
     * catalog's own structure is mended (orphans, missing parents, duplicate names, cycles).
     *
     * @return true when anything changed
     */
    private boolean dropDamaged(Catalog cat, CommitContent cc) throws IOException {
        boolean changed = false;
        List<CatalogEntry> all = new ArrayList<>(cat.all());
        all.sort(Comparator.comparingLong(e -> e.id));
        Map<Long, String> names = new HashMap<>();
        for (CatalogEntry e : all) {
            names.put(e.id, cc.name(e));
        }
        Set<Long> dropped = new HashSet<>();
        for (CatalogEntry e : all) {
            if (e.isVolume()) {
                continue;
            }
            CatalogEntry v = cat.get(e.origin);
            if (cc.treeDamage.containsKey(e.id) || v == null || !v.isVolume()) {
                String why = cc.treeDamage.containsKey(e.id) ? "its blocks do not verify (" + damageOf(cc, e) + ")"
                        : "it belongs to no volume";
                for (CatalogEntry child : cat.childrenOf(e.id)) {
                    cat.setParent(child, e.parent);
                }
                cat.remove(e);
                dropped.add(e.id);
                result.losses.add(new RepairResult.Loss(names.get(e.id), "dropped: " + why));
                changed = true;
            }
        }
        for (CatalogEntry e : all) {
            if (dropped.contains(e.id) || !cc.propertyDamage.containsKey(e.id)) {
                continue;
            }
            e.propsAddress = 0;
            e.propsLength = 0;
            e.properties = null;
            e.propertiesDirty = false;
            cat.changed(e);
            result.losses.add(new RepairResult.Loss(names.get(e.id), "its properties (the blob holding them is unreadable)"));
            changed = true;
        }
        for (CatalogEntry v : all) {
            if (!v.isVolume() || !cc.treeDamage.containsKey(v.id)) {
                continue;
            }
            CatalogEntry to = revertTarget(cat, v);
            goneBack.add(v.id);
            if (to != null) {
                v.root = to.root;
                v.size = to.size;
                v.unmapGeneration = to.unmapGeneration;
                cat.setParent(v, to.id);
                result.losses.add(new RepairResult.Loss(names.get(v.id), "its current contents do not verify ("
                        + damageOf(cc, v) + "); it goes back to snapshot " + names.get(to.id)
                        + ": changes made since that snapshot are lost"));
            } else {
                cat.remove(v);
                dropped.add(v.id);
                result.losses.add(new RepairResult.Loss(names.get(v.id), "dropped: its contents do not verify ("
                        + damageOf(cc, v) + ") and no snapshot of it does"));
            }
            changed = true;
        }
        return mendStructure(cat, names) || changed;
    }

    /** The nearest snapshot in a volume's history that is still there, else its newest one. */
    private static CatalogEntry revertTarget(Catalog cat, CatalogEntry v) {
        Set<Long> seen = new HashSet<>();
        for (CatalogEntry a = cat.get(v.parent); a != null && seen.add(a.id); a = a.parent == 0 ? null : cat.get(a.parent)) {
            if (!a.isVolume()) {
                return a;
            }
        }
        List<CatalogEntry> own = cat.snapshotsOf(v.id);
        return own.isEmpty() ? null : own.get(own.size() - 1);
    }

    private boolean mendStructure(Catalog cat, Map<Long, String> names) {
        boolean changed = false;
        List<CatalogEntry> all = new ArrayList<>(cat.all());
        all.sort(Comparator.comparingLong(e -> e.id));
        Set<String> volumeNames = new HashSet<>();
        Map<Long, Set<String>> snapshotNames = new HashMap<>();
        for (CatalogEntry e : all) {
            Set<String> taken = e.isVolume() ? volumeNames : snapshotNames.computeIfAbsent(e.origin, k -> new HashSet<>());
            if (!taken.add(e.name)) {
                String fresh = e.name + "-" + e.id;
                cat.rename(e, fresh);
                taken.add(fresh);
                result.actions.add("renamed " + names.get(e.id) + " to " + fresh + " (its name was taken twice)");
                changed = true;
            }
        }
        for (CatalogEntry e : all) {
            if (e.parent != 0 && cat.get(e.parent) == null) {
                cat.setParent(e, 0);
                result.actions.add(names.get(e.id) + " lost its missing parent and now starts a snapshot tree of its own");
                changed = true;
            }
            Set<Long> seen = new HashSet<>();
            for (CatalogEntry a = e; a != null && a.parent != 0; a = cat.get(a.parent)) {
                if (!seen.add(a.id)) {
                    cat.setParent(e, 0);
                    result.actions.add("broke a cycle in the snapshot tree at " + names.get(e.id));
                    changed = true;
                    break;
                }
            }
        }
        return changed;
    }

    /** "bytes 0-4095, 65536-69631" for an entry's damaged ranges. */
    private static String damageOf(CommitContent cc, CatalogEntry e) {
        String who = cc.name(e);
        List<String> parts = new ArrayList<>();
        int more = 0;
        for (int slot : cc.treeDamage.getOrDefault(e.id, Set.of())) {
            for (Problem.Affected a : cc.affectedBy(slot)) {
                if (!a.name().equals(who)) {
                    continue;
                }
                if (parts.size() >= 4) {
                    more++;
                } else {
                    parts.add(a.fromByte() < 0 ? "its tree" : "bytes " + a.fromByte() + "-" + a.toByte());
                }
            }
        }
        return String.join(", ", new LinkedHashSet<>(parts)) + (more > 0 ? " and " + more + " more ranges" : "");
    }

    // ------------------------------------------------------------------ writing

    /**
     * Makes {@code g} current: a new commit in a new segment naming it as previous (with the
     * salvaged catalog when there is one), then both superblock copies. When {@code g} is
     * already where the log ends and nothing needs recording, only the superblocks are written.
     */
    private void write(Survey s, CommitInfo g, Catalog salvaged) throws IOException {
        Set<Long> acks = acknowledgements(s, g);
        List<PendingWrites.Op> carry = carried(s, g, salvaged);
        boolean dropsWrites = describePendingWrites(s, g, carry);
        if (g == s.last && salvaged == null && acks.isEmpty() && !dropsWrites) {
            // the intent records after it stay, and opening replays them
            writeSuperblocks(s, g);
            result.actions.add("rewrote both superblock copies to name the commit of generation " + g.generation());
            result.performed = true;
            return;
        }
        long newGen = s.scan.maxGeneration;
        for (CommitInfo c : s.scan.commits.values()) {
            newGen = Math.max(newGen, c.generation());
        }
        newGen = Math.max(newGen, s.last.generation()) + 1;
        // above every segment there is, or that anything in the log names: an id a reclaimed or
        // deleted segment had is never given to the new one
        long nextSegment = Math.max(Math.max(s.scan.maxSegmentMentioned, maxSegmentFile()), s.content.maxSegment) + 1;
        CommitInfo written;
        try (Log w = new Log(storage, s.uuidHi, s.uuidLo, s.segmentSize, nextSegment)) {
            w.openExisting();
            MetaBatch batch = w.beginBatch(newGen);
            batch.rollToNewSegment();
            TreePointer root = g.catalogRoot();
            long nextId = g.nextId();
            Catalog cat = salvaged;
            if (!carry.isEmpty()) {
                carry = restoreInline(w, carry);
                if (cat == null) {
                    cat = new Catalog(s.log, new NodeCache(s.log, 64L << 20), g.catalogRoot(), g.nextId());
                    cat.load();
                }
                replay(s, cat, carry, batch);
            }
            if (cat != null) {
                root = cat.commit(batch);
                nextId = Math.max(nextId, cat.nextId());
            }
            writeMark(batch, s, g, acks);
            written = batch.appendCommit(g.address(), root, nextId);
            Segment last = batch.write();
            // the new commit is durable before any superblock names it
            last.file.force();
        }
        writeSuperblocks(s, written);
        result.newGeneration = written.generation();
        result.actions.add("wrote the commit of generation " + written.generation() + " in new segment "
                + LogAddress.segment(written.address()) + ", following the commit of generation " + g.generation()
                + (salvaged != null ? ", with a catalog without what does not verify" : "")
                + (acks.isEmpty() ? "" : "; " + acks.size() + " damaged records it leaves behind are marked as history"));
        if (!carry.isEmpty()) {
            Set<String> names = new TreeSet<>();
            for (PendingWrites.Op op : carry) {
                CatalogEntry e = s.current.byId.get(op.volume());
                names.add(e == null ? "volume id " + op.volume() : s.current.name(e));
            }
            result.actions.add("wrote the " + carry.size() + " writes and trims pending after generation " + g.generation()
                    + " in intent records, which it keeps, into the trees of " + String.join(", ", names)
                    + ": the new commit holds them");
        }
        result.actions.add("rewrote both superblock copies to name it");
        result.performed = true;
    }

    // ------------------------------------------------------------------ pending writes

    /**
     * The pending writes and trims the repaired store keeps, in log order: only when it keeps
     * the commit the log ends at, each volume's up to its first intent record that fails to
     * verify, and none of a volume salvage took back or dropped.
     */
    private List<PendingWrites.Op> carried(Survey s, CommitInfo g, Catalog salvaged) {
        List<PendingWrites.Op> out = new ArrayList<>();
        PendingWrites pw = s.current == null ? null : s.current.pending;
        if (g != s.last || pw == null) {
            return out;
        }
        for (PendingWrites.Op op : pw.ops) {
            boolean there = salvaged == null || (salvaged.get(op.volume()) != null && salvaged.get(op.volume()).isVolume());
            if (pw.kept(op) && there && !goneBack.contains(op.volume())) {
                out.add(op);
            }
        }
        return out;
    }

    /**
     * Adds to the losses the pending writes the repair does not keep, by volume and byte range,
     * and why; true when there are any (the intent records after the end of the log must not be
     * replayed: a new commit is needed).
     */
    private boolean describePendingWrites(Survey s, CommitInfo g, List<PendingWrites.Op> carry) {
        boolean drops = false;
        PendingWrites pw = s.current == null ? null : s.current.pending;
        long after = s.last.generation();
        if (pw != null && !pw.ops.isEmpty() && (g != s.last ? !holdsPending(s, g) : carry.size() < pw.ops.size())) {
            Set<PendingWrites.Op> kept = new HashSet<>(carry);
            Map<Long, List<PendingWrites.Op>> lost = new LinkedHashMap<>();
            for (PendingWrites.Op op : pw.ops) {
                if (!kept.contains(op)) {
                    lost.computeIfAbsent(op.volume(), k -> new ArrayList<>()).add(op);
                }
            }
            for (var e : lost.entrySet()) {
                long vol = e.getKey();
                String why = g.generation() < after ? "the store goes back to generation " + g.generation()
                        : g != s.last ? "the commit of generation " + g.generation() + " the store goes to does not hold them"
                        : goneBack.contains(vol) ? "they go with its contents" : pw.why(vol);
                for (var r : PendingWrites.ranges(s.current, e.getValue()).entrySet()) {
                    result.losses.add(new RepairResult.Loss(r.getKey(), "writes flushed after generation " + after
                            + " that no commit held yet are lost (" + why + "): " + PendingWrites.describe(r.getValue())));
                }
            }
            drops = !lost.isEmpty();
        }
        if (g.generation() <= s.last.generation()) {
            List<LogScan.Damage> damaged = s.lostFlushes();
            if (!damaged.isEmpty()) {
                LogScan.Damage first = damaged.get(0);
                String where = "segment " + first.segment() + " offset " + first.offset();
                result.losses.add(new RepairResult.Loss("pending writes", "the intent record at " + where + " is damaged: "
                        + "the writes a flush made durable in it after generation " + after + " are lost (unreadable)"));
                for (var r : PendingWrites.ranges(s.current, s.unreplayed(first)).entrySet()) {
                    result.losses.add(new RepairResult.Loss(r.getKey(), "writes flushed after generation " + after
                            + " in the intent records after the damaged one at " + where + " are lost (opening never "
                            + "replays past it): " + PendingWrites.describe(r.getValue())));
                }
                drops = true;
            }
        }
        return drops;
    }

    /**
     * True when {@code g}, a commit beyond the end of the log, holds the pending writes: the
     * chain back from it passes through the commit that followed them.
     */
    private static boolean holdsPending(Survey s, CommitInfo g) {
        if (g.generation() <= s.last.generation()) {
            return false;
        }
        for (CommitInfo c : s.chainFrom(g).commits()) {
            if (c.previous() == s.last.address()) {
                return true;
            }
        }
        return false;
    }

    /**
     * The kept writes, with the data inline ones carry written to a new data segment and forced
     * before the repair's commit: a small flush forced its intent record only, so the data
     * segment it names may have lost those bytes, and a repair changes no byte already on disk.
     * Each inline write then points at its new copy (checksums and birth unchanged).
     */
    private static List<PendingWrites.Op> restoreInline(Log w, List<PendingWrites.Op> carry) throws IOException {
        List<PendingWrites.Op> out = new ArrayList<>(carry.size());
        boolean wrote = false;
        for (PendingWrites.Op op : carry) {
            if (op.data() == null) {
                out.add(op);
                continue;
            }
            Extent x = op.extent();
            int blockSize = op.data().length / x.blocks;
            long address = w.allocateData(op.data().length, Math.min(blockSize, 4096));
            w.writeData(address, java.nio.ByteBuffer.wrap(op.data()));
            int[] crcs = new int[x.blocks];
            for (int i = 0; i < crcs.length; i++) {
                crcs[i] = x.crc(i);
            }
            out.add(new PendingWrites.Op(op.record(), op.volume(), op.lba(), op.blocks(),
                    new Extent(x.blocks, address, x.birth, crcs), null));
            wrote = true;
        }
        if (wrote) {
            w.detachWindows().write();
            for (Segment seg : w.takeDirtyData()) {
                seg.file.force();
            }
        }
        return out;
    }

    /**
     * Replays the pending writes and trims a repair keeps into the trees of their volumes, as
     * opening would, and writes the changed nodes into the repair's group.
     */
    private static void replay(Survey s, Catalog cat, List<PendingWrites.Op> carry, MetaBatch batch) throws IOException {
        NodeCache nodes = new NodeCache(s.log, 64L << 20);
        Map<Long, ExtentMap> maps = new LinkedHashMap<>();
        for (PendingWrites.Op op : carry) {
            CatalogEntry e = cat.get(op.volume());
            ExtentMap m = maps.computeIfAbsent(e.id, k -> new ExtentMap(
                    new CowTree<>(TreeKind.EXTENTS, Extent.CODEC, nodes, e.root), Math.max(1, e.blockSize)));
            if (op.extent() != null) {
                m.insert(op.lba(), op.extent());
            } else {
                m.punch(op.lba(), op.blocks());
                e.unmapGeneration = Math.max(e.unmapGeneration, batch.generation());
            }
        }
        for (var x : maps.entrySet()) {
            CatalogEntry e = cat.get(x.getKey());
            e.root = x.getValue().tree().commit(batch, e.lineage);
            cat.changed(e);
        }
    }

    /** Damage the repaired store keeps in its log, no longer used: recorded so later checks know it. */
    private static Set<Long> acknowledgements(Survey s, CommitInfo g) {
        Set<Long> acks = new TreeSet<>();
        for (LogScan.Damage d : s.scan.damage) {
            acks.add(d.address());
        }
        for (Survey.LogProblem p : s.logProblems) {
            if (p.segment() > 0 && !p.kind().startsWith("superblock")) {
                acks.add(LogAddress.of(p.segment(), Math.max(0, p.offset())));
            }
        }
        Survey.Chain ch = s.chainFrom(g);
        if (ch.broken() != null) {
            acks.add(LogAddress.of(ch.broken().segment(), ch.broken().offset()));
        }
        return acks;
    }

    private long maxSegmentFile() throws IOException {
        long max = 0;
        for (String name : storage.list()) {
            max = Math.max(max, SegmentLayout.parseFileName(name));
        }
        return max;
    }

    private void writeMark(MetaBatch batch, Survey s, CommitInfo g, Set<Long> acks) throws IOException {
        StringBuilder what = new StringBuilder("fsck repair: generation " + s.last.generation() + " -> "
                + g.generation() + (salvage ? " (salvage)" : ""));
        for (RepairResult.Loss l : result.losses) {
            if (what.length() < MARK_TEXT_MAX) {
                what.append("; lost ").append(l);
            }
        }
        StringBuilder ack = new StringBuilder();
        for (long a : acks) {
            ack.append(ack.length() == 0 ? "" : " ").append(LogAddress.segment(a)).append(':').append(LogAddress.offset(a));
        }
        Map<String, String> props = new LinkedHashMap<>();
        props.put(LogScan.MARK_KEY, what.length() > MARK_TEXT_MAX ? what.substring(0, MARK_TEXT_MAX) : what.toString());
        props.put(LogScan.ACKNOWLEDGED_KEY, ack.toString());
        props.put("varve.repair.time", java.time.Instant.now().toString());
        List<byte[]> parts = new ArrayList<>();
        int size = 4;
        for (var kv : props.entrySet()) {
            byte[] k = kv.getKey().getBytes(StandardCharsets.UTF_8);
            byte[] v = kv.getValue().getBytes(StandardCharsets.UTF_8);
            parts.add(k);
            parts.add(v);
            size += 8 + k.length + v.length;
        }
        int count = props.size();
        batch.append(RecordLayout.TYPE_BLOB, 0, size, (b, o) -> {
            b.putInt(o, count);
            int p = o + 4;
            for (byte[] part : parts) {
                b.putInt(p, part.length);
                b.putBytes(p + 4, part);
                p += 4 + part.length;
            }
        });
    }

    /**
     * Both copies, one at a time, each forced: first the slot that does not hold the newest
     * copy, so that a write torn here leaves that copy whole.
     */
    private void writeSuperblocks(Survey s, CommitInfo c) throws IOException {
        long seq = 0;
        int newestSlot = -1;
        for (int i = 0; i < s.slots.length; i++) {
            Superblock sb = s.slots[i];
            if (sb != null && sb.sequence() >= seq) {
                seq = sb.sequence();
                newestSlot = i;
            }
        }
        int maxSegments = newestSlot >= 0 ? s.slots[newestSlot].maxSegments() : 0;
        long first = seq + 1;
        if (newestSlot >= 0 && first % SuperblockLayout.SLOTS == newestSlot) {
            first++;
        }
        boolean created = !storage.exists(SuperblockLayout.FILE_NAME);
        try (StorageFile f = storage.open(SuperblockLayout.FILE_NAME, true)) {
            for (long q = first; q < first + SuperblockLayout.SLOTS; q++) {
                new Superblock(FormatVersion.CURRENT, q, s.uuidHi, s.uuidLo, s.segmentSize, c.address(), c.length(),
                        c.generation(), maxSegments).write(f);
            }
        }
        if (created) {
            storage.syncDirectory();
        }
    }

    // ------------------------------------------------------------------ segment headers

    /** Rewrites each damaged segment header from what is known; true when any was. */
    private boolean rebuildHeaders(Survey s) throws IOException {
        boolean any = false;
        for (var e : s.damagedHeaders.entrySet()) {
            long id = e.getKey();
            try (StorageFile f = storage.open(SegmentLayout.fileName(id), false)) {
                boolean meta = holdsRecords(f);
                f.write(Log.segmentHeader(id, meta ? SegmentLayout.KIND_META : SegmentLayout.KIND_DATA, s.uuidHi, s.uuidLo), 0);
                f.force();
                result.actions.add("rebuilt the header of segment " + id + " (" + (meta ? "meta" : "data")
                        + ", judged from its content): it was damaged (" + e.getValue() + ")");
                result.performed = true;
                any = true;
            }
        }
        return any;
    }

    /** True when a whole record lies in the first 16 MiB past the header: a meta segment. */
    private static boolean holdsRecords(StorageFile f) throws IOException {
        long size = f.size();
        int n = (int) Math.min(size - SegmentLayout.HEADER_BYTES, 16L << 20);
        if (n <= 0) {
            return false;
        }
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        n = f.read(b, SegmentLayout.HEADER_BYTES);
        for (int p = 0; p + RecordLayout.HEADER_BYTES <= n; p += RecordLayout.ALIGNMENT) {
            int len = b.getInt(p + RecordLayout.LENGTH_OFFSET);
            if (b.getInt(p + RecordLayout.MAGIC_OFFSET) == RecordLayout.MAGIC && len >= RecordLayout.HEADER_BYTES
                    && len <= n - p && (len & (RecordLayout.ALIGNMENT - 1)) == 0 && LogScan.crcMatches(b, p, len)) {
                return true;
            }
        }
        return false;
    }
}
