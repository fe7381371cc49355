package dev.varve.fsck;

import dev.varve.engine.IntentOps;
import dev.varve.engine.LogAddress;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.catalog.CatalogEntry;
import dev.varve.engine.format.IntentLayout;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.log.Log;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The writes and trims of the intent records ({@link IntentLayout}) that opening replays after
 * the commit the log ends at: flushes made them durable before any commit wrote the trees that
 * hold them. They are part of the store's content, so they are checked as it is: each record
 * decodes, names volumes the commit's catalog holds and blocks inside them, and (unless fast)
 * every data block a write names matches the checksum the record carries for it.
 *
 * <p>Opening replays them in log order; a record that does not decode, or names a volume the
 * catalog does not hold or blocks past a volume's end, stops the store from opening at all. What
 * a repair keeps of them is decided per volume, so that each volume's writes stay a prefix of its
 * flushes: a volume keeps the records before the first in which it has a problem (a block that
 * fails its checksum, blocks past its end); a record that does not decode, or names a volume the
 * catalog does not hold, ends them for every volume.
 */
final class PendingWrites {
    /** What an intent record the engine cannot replay does to opening the store. */
    private static final String REFUSES_OPEN = "the store does not open read-write while it is there (read-only, it"
            + " shows what the records before it leave)";
    /**
     * One write ({@code extent} set) or trim ({@code extent} null) of {@code blocks} blocks from
     * {@code lba}; {@code data} is what an inline write carries (null otherwise).
     */
    record Op(int record, long volume, long lba, long blocks, Extent extent, byte[] data) {
    }

    /** An intent record: where it is, and the generation its extents are born in. */
    record Rec(long address, int length, long generation) {
        String where() {
            return "segment " + LogAddress.segment(address) + " offset " + LogAddress.offset(address);
        }
    }

    final List<Rec> records = new ArrayList<>();
    final List<Op> ops = new ArrayList<>();
    /** The first record no volume keeps (one that does not decode or names no volume), or the record count. */
    int globalCut;
    /** Why no volume keeps the records from {@link #globalCut} on. */
    String globalWhy;
    /** Volume id -> the first record that volume does not keep, when before {@link #globalCut}. */
    final Map<Long, Integer> cuts = new HashMap<>();
    /** Volume id -> why it does not keep the records from its cut on. */
    final Map<Long, String> cutWhy = new HashMap<>();

    private PendingWrites() {
    }

    /** The first record {@code volume} does not keep. */
    int cut(long volume) {
        return Math.min(globalCut, cuts.getOrDefault(volume, Integer.MAX_VALUE));
    }

    boolean kept(Op op) {
        return op.record < cut(op.volume);
    }

    /** Why {@code volume} does not keep the records from its cut on. */
    String why(long volume) {
        Integer c = cuts.get(volume);
        return c != null && c < globalCut ? cutWhy.get(volume) : globalWhy;
    }

    private void cutAll(int index, String why) {
        if (index < globalCut) {
            globalCut = index;
            globalWhy = why;
        }
    }

    private void cutVolume(long volume, int index, String why) {
        Integer c = cuts.get(volume);
        if (c == null || index < c) {
            cuts.put(volume, index);
            cutWhy.put(volume, why);
        }
    }

    /** True when a repair keeps every op (nothing needs dropping). */
    boolean whole() {
        return globalCut == records.size() && cuts.isEmpty();
    }

    /** Blocks each volume's kept ops cover (written or trimmed): committed data there is not what opening shows. */
    Map<Long, CommitContent.Ranges> coveredBlocks() {
        Map<Long, CommitContent.Ranges> m = new HashMap<>();
        for (Op op : ops) {
            if (kept(op)) {
                m.computeIfAbsent(op.volume, k -> new CommitContent.Ranges()).add(op.lba, op.lba + op.blocks);
            }
        }
        return m;
    }

    // ------------------------------------------------------------------ checking

    /**
     * Decodes the intent records {@code intents} ({address, length} in log order, as recovery
     * returns them) against the catalog of {@code out}, records what is wrong in {@code out},
     * and queues every data block the writes name with {@code data}. Call {@link #attribute}
     * once the data has been verified.
     */
    static PendingWrites check(Log log, Findings findings, DataCheck data, CommitContent out, List<long[]> intents,
                               ContentCheck content) throws IOException {
        PendingWrites w = new PendingWrites();
        w.globalCut = Integer.MAX_VALUE;
        for (long[] at : intents) {
            int index = w.records.size();
            long address = at[0];
            long seg = LogAddress.segment(address);
            long off = LogAddress.offset(address);
            UnsafeBuffer rec;
            try {
                rec = log.readRecord(address, (int) at[1]);
            } catch (dev.varve.engine.CorruptionException | java.nio.file.NoSuchFileException e) {
                // recovery read it whole a moment ago: the storage changed under the check
                w.records.add(new Rec(address, (int) at[1], -1));
                int slot = findings.slot("intent-record", seg, off, "the intent record is unreadable: "
                        + ContentCheck.strip(e.getMessage()));
                out.intentDamage.computeIfAbsent(0L, k -> new LinkedHashSet<>()).add(slot);
                out.affectWhole(slot, "the whole store (it does not open read-write)");
                w.cutAll(index, "the intent record at " + w.records.get(index).where() + " is unreadable");
                continue;
            }
            long gen = rec.getLong(RecordLayout.GENERATION_OFFSET);
            w.records.add(new Rec(address, (int) at[1], gen));
            List<Op> recOps = new ArrayList<>();
            IntentOps.Malformed d = decode(rec, (int) at[1], index, gen, recOps);
            if (d != null) {
                int slot = findings.slot("intent-record", seg, off, "the intent record does not decode ("
                        + d.why() + "): " + REFUSES_OPEN + "; fsck --repair drops it and every intent record after it");
                // the volumes of the groups read before it, and of the group it fails in when that is known
                LinkedHashSet<Long> volumes = new LinkedHashSet<>();
                recOps.forEach(op -> volumes.add(op.volume));
                volumes.add(d.volume());
                boolean named = false;
                for (long id : volumes) {
                    CatalogEntry e = out.byId.get(id);
                    if (id != 0 && e != null && e.isVolume()) {
                        out.intentDamage.computeIfAbsent(e.id, k -> new LinkedHashSet<>()).add(slot);
                        out.affectWhole(slot, out.name(e) + " (the store does not open read-write)");
                        named = true;
                    }
                }
                if (!named || d.volume() == 0) {
                    out.intentDamage.computeIfAbsent(0L, k -> new LinkedHashSet<>()).add(slot);
                    out.affectWhole(slot, named ? "whatever volumes the unreadable rest of the record names"
                            : "the whole store (it does not open read-write)");
                }
                w.cutAll(index, "the intent record at " + w.records.get(index).where() + " does not decode");
                w.ops.addAll(recOps);
                continue;
            }
            for (Op op : recOps) {
                w.ops.add(op);
                CatalogEntry e = out.byId.get(op.volume);
                if (e == null || !e.isVolume()) {
                    int slot = findings.slot("intent-volume", seg, off, "an intent record names volume id " + op.volume
                            + ", which the catalog of generation " + out.commit.generation() + " does not hold as a volume"
                            + (out.catalogWhole() ? "" : " (or holds in a part that is unreadable)")
                            + ": " + REFUSES_OPEN + "; fsck --repair drops it and every intent record after it");
                    out.intentDamage.computeIfAbsent(0L, k -> new LinkedHashSet<>()).add(slot);
                    out.affectWhole(slot, "volume id " + op.volume + " (the store does not open read-write)");
                    w.cutAll(index, "the intent record at " + w.records.get(index).where() + " names volume id "
                            + op.volume + ", which the catalog does not hold");
                    continue;
                }
                int bs = Math.max(1, e.blockSize);
                long blocks = e.size / bs;
                if (op.lba < 0 || op.blocks < 0 || op.lba > blocks || op.blocks > blocks - op.lba) {
                    int slot = findings.slot("intent-range", seg, off, "an intent record names blocks " + op.lba + "+"
                            + op.blocks + " of " + out.name(e) + ", past its end (it has " + blocks + " blocks of " + bs
                            + " bytes): " + REFUSES_OPEN + "; fsck --repair drops the writes of "
                            + out.name(e) + " from this intent record on");
                    out.intentDamage.computeIfAbsent(e.id, k -> new LinkedHashSet<>()).add(slot);
                    out.affectWhole(slot, out.name(e) + " (the store does not open read-write)");
                    w.cutVolume(e.id, index, "the intent record at " + w.records.get(index).where()
                            + " names blocks past its end");
                    continue;
                }
                if (op.extent != null) {
                    content.referData(op.extent.address, (long) op.extent.blocks * bs);
                    if (op.data == null) {
                        data.add(op.extent, bs);
                    } else {
                        // the record carries the data: the data segment, never forced for it,
                        // may have lost it, and opening puts it back from here
                        String bad = inlineProblem(op, bs);
                        if (bad != null) {
                            int slot = findings.slot("intent-record", seg, off, "an inline write in the intent record"
                                    + " for " + out.name(e) + " " + bad + ": fsck --repair drops the writes of "
                                    + out.name(e) + " from this intent record on");
                            out.intentDamage.computeIfAbsent(e.id, k -> new LinkedHashSet<>()).add(slot);
                            out.affect(slot, out.name(e), op.lba * bs, (op.lba + op.blocks) * bs);
                            w.cutVolume(e.id, index, "an inline write in the intent record at "
                                    + w.records.get(index).where() + " " + bad);
                        } else {
                            data.verifiedInline(op.blocks, op.data.length);
                        }
                    }
                }
            }
        }
        w.globalCut = Math.min(w.globalCut, w.records.size());
        return w;
    }

    /** What is wrong with the data an inline write carries, or null: its length, or a block's checksum. */
    private static String inlineProblem(Op op, int blockSize) {
        if (op.data.length != op.blocks * blockSize) {
            return "carries " + op.data.length + " bytes for " + op.blocks + " blocks of " + blockSize;
        }
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        for (int b = 0; b < op.blocks; b++) {
            crc.reset();
            crc.update(op.data, b * blockSize, blockSize);
            if ((int) crc.getValue() != op.extent.crc(b)) {
                return "carries block " + (op.lba + b) + " with a checksum that does not match";
            }
        }
        return null;
    }

    /**
     * Attributes the data blocks of the writes that failed their checksum (or lie in segments
     * that are missing) to the volume and byte range each was written to. Blocks a later op
     * overwrites count too: they are what the records say, and a repair keeps each volume's
     * records up to the first with a bad block.
     */
    void attribute(CommitContent out, DataCheck data) {
        for (Op op : ops) {
            if (op.extent == null || op.record >= globalCut) {
                continue;
            }
            CatalogEntry e = out.byId.get(op.volume);
            if (e == null || !e.isVolume()) {
                continue;
            }
            int bs = Math.max(1, e.blockSize);
            for (int b = 0; b < op.extent.blocks; b++) {
                int slot = data.damageAt(op.extent.address + (long) b * bs, bs);
                if (slot < 0) {
                    continue;
                }
                out.intentDamage.computeIfAbsent(e.id, k -> new LinkedHashSet<>()).add(slot);
                out.affect(slot, out.name(e), (op.lba + b) * bs, (op.lba + b + 1) * bs);
                cutVolume(e.id, op.record, "a data block the intent record at " + records.get(op.record).where()
                        + " names for it fails its checksum (or is missing)");
            }
        }
        cuts.entrySet().removeIf(c -> c.getValue() >= globalCut);
    }

    // ------------------------------------------------------------------ decoding

    /**
     * Decodes one record with the engine's own decoder into {@code into} (every op before a
     * malformed one); returns what is malformed, with the volume of its group when known, or null.
     */
    private static IntentOps.Malformed decode(DirectBuffer rec, int length, int index, long gen, List<Op> into)
            throws IOException {
        return IntentOps.replay(rec, RecordLayout.HEADER_BYTES, length - RecordLayout.HEADER_BYTES,
                new IntentOps.Replay() {
                    @Override
                    public void write(long volumeId, long lba, int blocks, long address, int[] crcs, byte[] data) {
                        into.add(new Op(index, volumeId, lba, blocks, new Extent(blocks, address, gen, crcs), data));
                    }

                    @Override
                    public void trim(long volumeId, long lba, long count) {
                        into.add(new Op(index, volumeId, lba, count, null, null));
                    }
                });
    }

    /**
     * The ops of a whole intent record read on its own (one recovery does not replay), or an
     * empty list when it cannot be read or decoded: used to say which writes are lost.
     */
    static List<Op> read(Log log, long address, int length) {
        try {
            UnsafeBuffer rec = log.readRecord(address, length);
            List<Op> out = new ArrayList<>();
            return decode(rec, length, 0, rec.getLong(RecordLayout.GENERATION_OFFSET), out) == null ? out : List.of();
        } catch (dev.varve.engine.CorruptionException | java.nio.file.NoSuchFileException | RuntimeException e) {
            return List.of();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e); // the storage failed: the check stops (exit 8)
        }
    }

    /** Byte ranges of {@code ops} per volume or snapshot name, as the commit's catalog gives them. */
    static Map<String, CommitContent.Ranges> ranges(CommitContent cc, List<Op> ops) {
        Map<String, CommitContent.Ranges> m = new LinkedHashMap<>();
        for (Op op : ops) {
            CatalogEntry e = cc.byId.get(op.volume);
            String name = e == null || !e.isVolume() ? "volume id " + op.volume : cc.name(e);
            int bs = e == null ? 1 : Math.max(1, e.blockSize);
            CommitContent.Ranges r = m.computeIfAbsent(name, k -> new CommitContent.Ranges());
            if (e == null || op.lba < 0 || op.blocks <= 0 || op.lba > Long.MAX_VALUE / bs - op.blocks) {
                r.whole = true;
            } else {
                r.add(op.lba * bs, (op.lba + op.blocks) * bs);
            }
        }
        return m;
    }

    /** "bytes 0-4095, 65536-69631" (at most a few, then how many more). */
    static String describe(CommitContent.Ranges r) {
        List<String> parts = new ArrayList<>();
        int more = 0;
        for (var x : r.map.entrySet()) {
            if (parts.size() >= 6) {
                more++;
            } else {
                parts.add(x.getKey() + "-" + (x.getValue() - 1));
            }
        }
        String s = parts.isEmpty() ? "its writes" : "bytes " + String.join(", ", parts) + (more > 0 ? " and " + more
                + " more ranges" : "");
        return r.whole && !parts.isEmpty() ? s + " (and writes outside it)" : s;
    }
}
