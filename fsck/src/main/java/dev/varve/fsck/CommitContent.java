package dev.varve.fsck;

import dev.varve.engine.catalog.CatalogEntry;
import dev.varve.engine.log.CommitInfo;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What one commit holds and what of it is damaged: its catalog's entries, and for each
 * finding the volumes and snapshots (and byte ranges of them) it reaches from this commit.
 */
final class CommitContent {
    final CommitInfo commit;
    /** Every catalog entry that could be read (all of them when {@link #catalogWhole}). */
    final List<CatalogEntry> entries = new ArrayList<>();
    final Map<Long, CatalogEntry> byId = new HashMap<>();
    /** Entry id -> the address of the catalog leaf that holds it. */
    final Map<Long, Long> entryLeaf = new HashMap<>();
    /** Entry id -> bytes of data its extent tree maps, for trees that could be read whole. */
    final Map<Long, Long> referencedBytes = new HashMap<>();
    /** Findings in the catalog tree itself: entries behind them could not be read. */
    final Set<Integer> catalogDamage = new LinkedHashSet<>();
    /** Findings about the catalog's structure (names, parents, cycles). */
    final Set<Integer> catalogStructure = new LinkedHashSet<>();
    /** Entry id -> findings in its tree or its data. */
    final Map<Long, Set<Integer>> treeDamage = new HashMap<>();
    /** Entry id -> findings in its properties blob. */
    final Map<Long, Set<Integer>> propertyDamage = new HashMap<>();
    /**
     * Volume id -> findings in the intent records opening replays after this commit (0 for
     * those no volume of the catalog can be named for); empty when none are pending.
     */
    final Map<Long, Set<Integer>> intentDamage = new HashMap<>();
    /** The intent records opening replays after this commit, or null (none, or not the end of the log). */
    PendingWrites pending;
    /** Finding -> name -> ranges it affects, in the order found. */
    final Map<Integer, Map<String, Ranges>> affected = new LinkedHashMap<>();

    CommitContent(CommitInfo commit) {
        this.commit = commit;
    }

    boolean catalogWhole() {
        return catalogDamage.isEmpty();
    }

    /** Everything this commit reaches, and every write pending after it, verifies. */
    boolean clean() {
        return committedClean() && intentDamage.isEmpty();
    }

    /**
     * Everything the commit itself reaches verifies (its catalog, trees, data and properties;
     * committed data the pending writes a repair keeps cover is not what opening shows, and
     * does not count).
     */
    boolean committedClean() {
        return catalogDamage.isEmpty() && catalogStructure.isEmpty() && treeDamage.isEmpty() && propertyDamage.isEmpty();
    }

    boolean damaged(CatalogEntry e) {
        return treeDamage.containsKey(e.id) || propertyDamage.containsKey(e.id);
    }

    /** {@code vm1} for a volume, {@code vm1@snap1} for a snapshot. */
    String name(CatalogEntry e) {
        if (e.isVolume()) {
            return e.name;
        }
        CatalogEntry v = byId.get(e.origin);
        return (v == null ? "?" : v.name) + "@" + e.name;
    }

    void affect(int slot, String name, long fromByte, long toByte) {
        affected.computeIfAbsent(slot, k -> new LinkedHashMap<>()).computeIfAbsent(name, k -> new Ranges())
                .add(fromByte, toByte);
    }

    void affectWhole(int slot, String name) {
        affected.computeIfAbsent(slot, k -> new LinkedHashMap<>()).computeIfAbsent(name, k -> new Ranges()).whole = true;
    }

    List<Problem.Affected> affectedBy(int slot) {
        List<Problem.Affected> out = new ArrayList<>();
        Map<String, Ranges> m = affected.get(slot);
        if (m == null) {
            return out;
        }
        for (var e : m.entrySet()) {
            Ranges r = e.getValue();
            if (r.whole || r.map.isEmpty()) {
                out.add(new Problem.Affected(e.getKey(), -1, -1));
            }
            for (var x : r.map.entrySet()) {
                out.add(new Problem.Affected(e.getKey(), x.getKey(), x.getValue() - 1));
            }
        }
        return out;
    }

    /** Byte ranges [from, to), merged where they touch. */
    static final class Ranges {
        final TreeMap<Long, Long> map = new TreeMap<>();
        boolean whole;

        void add(long from, long to) {
            if (from >= to) {
                whole = true;
                return;
            }
            var below = map.floorEntry(from);
            if (below != null && below.getValue() >= from) {
                from = below.getKey();
                to = Math.max(to, below.getValue());
            }
            var next = map.ceilingEntry(from);
            while (next != null && next.getKey() <= to) {
                to = Math.max(to, next.getValue());
                map.remove(next.getKey());
                next = map.ceilingEntry(from);
            }
            map.put(from, to);
        }

        /** Bytes of these ranges that {@code other} (may be null) does not cover. */
        long bytesNotIn(Ranges other) {
            long n = 0;
            for (var x : map.entrySet()) {
                long at = x.getKey();
                long end = x.getValue();
                if (other != null) {
                    var below = other.map.floorEntry(at);
                    if (below != null && below.getValue() > at) {
                        at = Math.min(end, below.getValue());
                    }
                    for (var y : other.map.subMap(at, true, end, false).entrySet()) {
                        n += y.getKey() - at;
                        at = Math.min(end, y.getValue());
                    }
                }
                n += end - at;
            }
            return n;
        }
    }
}
