package dev.varve.proptest;

import dev.varve.engine.BlockDevice;
import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/**
 * A random workload against a store, mirrored in a plain model: the bytes of each volume now
 * ({@code live}), as of the last acknowledged flush or catalog change ({@code durable}), and
 * every acknowledged snapshot. {@code attempted} is the state a commit that failed part-way
 * may or may not have made durable.
 */
final class Workload {
    static final String[] VOLUMES = {"a", "b"};
    static final int SIZE = 256 * 1024;

    final Random random;
    final Map<String, byte[]> live = new HashMap<>();
    Map<String, byte[]> durable = new HashMap<>();
    Map<String, byte[]> attempted;
    final Map<String, byte[]> snapshots = new HashMap<>();
    String attemptedSnapshot;
    int snapshotCounter;

    Workload(long seed) {
        this.random = new Random(seed);
        for (String v : VOLUMES) {
            live.put(v, new byte[SIZE]);
        }
        durable = copy(live);
    }

    static Map<String, byte[]> copy(Map<String, byte[]> m) {
        Map<String, byte[]> c = new HashMap<>();
        m.forEach((k, v) -> c.put(k, v.clone()));
        return c;
    }

    static void setUp(Store store) throws IOException {
        store.createVolume("a", SIZE, 512);
        store.createVolume("b", SIZE, 4096);
        store.flush();
    }

    /** One random step; throws whatever the store throws (the caller decides what it means). */
    void step(Store store) throws IOException {
        String v = VOLUMES[random.nextInt(VOLUMES.length)];
        Volume vol = store.volume(v);
        int kind = random.nextInt(21);
        if (kind < 12) {
            boolean aligned = random.nextBoolean();
            int bs = vol.blockSize();
            int off = aligned ? bs * random.nextInt(SIZE / bs - 16) : random.nextInt(SIZE - 20_000);
            int len = aligned ? bs * (1 + random.nextInt(16)) : 1 + random.nextInt(20_000);
            byte[] d = new byte[len];
            random.nextBytes(d);
            vol.write(off, d, 0, len);
            System.arraycopy(d, 0, live.get(v), off, len);
        } else if (kind < 14) {
            int off = random.nextInt(SIZE - 30_000);
            int len = 1 + random.nextInt(30_000);
            vol.trim(off, len);
            Arrays.fill(live.get(v), off, off + len, (byte) 0);
        } else if (kind < 18) {
            attempted = copy(live);
            store.flush();
            durable = attempted;
            attempted = null;
        } else if (kind == 20) {
            // collect (compacting every segment not full), then flush: both are commit points
            attempted = copy(live);
            store.gc(1.0);
            store.flush();
            durable = attempted;
            attempted = null;
        } else {
            String name = "s" + (snapshotCounter++);
            attempted = copy(live);
            attemptedSnapshot = v + "@" + name;
            store.snapshot(v, name, Map.of("n", name));
            snapshots.put(attemptedSnapshot, live.get(v).clone());
            durable = attempted;
            attempted = null;
            attemptedSnapshot = null;
        }
    }

    static byte[] read(BlockDevice d) throws IOException {
        byte[] b = new byte[(int) d.size()];
        d.read(0, b, 0, b.length);
        return b;
    }

    /**
     * Checks a reopened store: every volume equals the last acknowledged state, or the state
     * of a commit that was under way when the failure came; every acknowledged snapshot is
     * there, unchanged.
     *
     * @return null when it agrees, else what differs
     */
    String verify(Store store) throws IOException {
        boolean matchesDurable = true;
        boolean matchesAttempted = attempted != null;
        for (String v : VOLUMES) {
            byte[] got = read(store.volume(v));
            matchesDurable &= Arrays.equals(got, durable.get(v));
            if (attempted != null) {
                matchesAttempted &= Arrays.equals(got, attempted.get(v));
            }
        }
        if (!matchesDurable && !matchesAttempted) {
            return "volumes match neither the last acknowledged state nor the one being committed";
        }
        for (Map.Entry<String, byte[]> s : snapshots.entrySet()) {
            if (!Arrays.equals(read(store.device(s.getKey())), s.getValue())) {
                return "acknowledged snapshot " + s.getKey() + " differs";
            }
        }
        return null;
    }

    /** After recovery: the attempted state became durable if the store shows it. */
    void settle(Store store) throws IOException {
        if (attempted != null) {
            boolean all = true;
            for (String v : VOLUMES) {
                all &= Arrays.equals(read(store.volume(v)), attempted.get(v));
            }
            if (all) {
                durable = attempted;
                if (attemptedSnapshot != null) {
                    try {
                        store.device(attemptedSnapshot);
                        snapshots.put(attemptedSnapshot, attempted.get(attemptedSnapshot.substring(0, 1)).clone());
                    } catch (IOException notThere) {
                        // the snapshot's commit did not complete
                    }
                }
            }
            attempted = null;
            attemptedSnapshot = null;
        }
        live.clear();
        live.putAll(copy(durable));
    }
}
