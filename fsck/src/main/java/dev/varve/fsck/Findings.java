package dev.varve.fsck;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Every piece of damage found in the store's records and data, each once, whichever commit's
 * walk met it first. Which volumes and snapshots a finding affects depends on the commit being
 * looked at, so that lives in {@link CommitContent}, not here.
 */
final class Findings {
    /** One damaged thing at one place. {@code length} is the damaged block's size for data. */
    record Slot(int id, String kind, long segment, long offset, String message, int length) {
    }

    private final List<Slot> slots = new ArrayList<>();
    private final Map<String, Integer> byKey = new HashMap<>();

    int slot(String kind, long segment, long offset, String message) {
        return slot(kind, segment, offset, message, 0);
    }

    int slot(String kind, long segment, long offset, String message, int length) {
        String key = kind + '@' + segment + ':' + offset + ' ' + message;
        Integer id = byKey.get(key);
        if (id != null) {
            return id;
        }
        Slot s = new Slot(slots.size(), kind, segment, offset, message, length);
        slots.add(s);
        byKey.put(key, s.id());
        return s.id();
    }

    Slot get(int id) {
        return slots.get(id);
    }
}
