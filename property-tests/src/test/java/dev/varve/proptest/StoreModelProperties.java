package dev.varve.proptest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.NameExistsException;
import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.VolumeInfo;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.fsck.Fsck;
import dev.varve.fsck.Report;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

/**
 * Model-based test of the whole API: random chains of create, write (aligned and not), read,
 * trim, write-zeroes, flush, snapshot, group snapshot, revert (with and without keeping the
 * current state), clone, destroy, rename, properties, resize, reopen and crash-and-recover,
 * against a plain in-memory model of every volume and snapshot. After every step the store
 * agrees with the model; every chain ends with fsck clean. jqwik shrinks a failure to a short
 * chain and prints the seed; {@code @Property(seed = "...")} replays it.
 */
class StoreModelProperties {
    private static final Path ROOT = Path.of("/mem/model");
    private static final String[] NAMES = {"a", "b", "c", "d", "e"};

    /** What the store should hold: volumes and snapshots by name, with properties. */
    static final class Model {
        final TreeMap<String, byte[]> volumes = new TreeMap<>();
        final TreeMap<String, Integer> blockSizes = new TreeMap<>();
        final TreeMap<String, byte[]> snapshots = new TreeMap<>(); // "v@s"
        final TreeMap<String, TreeMap<String, String>> properties = new TreeMap<>();

        Model copy() {
            Model m = new Model();
            volumes.forEach((k, v) -> m.volumes.put(k, v.clone()));
            m.blockSizes.putAll(blockSizes);
            m.snapshots.putAll(snapshots); // snapshot contents are never mutated in place
            properties.forEach((k, v) -> m.properties.put(k, new TreeMap<>(v)));
            return m;
        }

        List<String> snapshotsOf(String v) {
            List<String> l = new ArrayList<>();
            for (String s : snapshots.keySet()) {
                if (s.startsWith(v + "@")) {
                    l.add(s);
                }
            }
            return l;
        }
    }

    /** The store under test and its model. */
    static final class Sut {
        CrashableStorage disk = new CrashableStorage(ROOT);
        Store store;
        Model live = new Model();
        Model durable = new Model();
        int counter;
        final List<String> log = new ArrayList<>();

        Sut() {
            try {
                store = Store.create(ROOT, options());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        StoreOptions options() {
            CrashableStorage d = disk;
            return StoreOptions.defaults().withSegmentSize(1 << 20).withCommitIntervalMillis(0)
                    .withDirtyBytesLimit(Long.MAX_VALUE).withNodeCacheBytes(256 << 10).withGcIntervalMillis(0)
                    .withStorage(p -> d);
        }

        /** A catalog change commits everything live. */
        void committed() {
            durable = live.copy();
        }

        @Override
        public String toString() {
            return "store with " + live.volumes.keySet() + " and " + live.snapshots.keySet();
        }
    }

    interface Step {
        void run(Sut s) throws IOException;
    }

    private static Transformer<Sut> t(String description, Step step) {
        return Transformer.mutate(description, s -> {
            try {
                s.log.add(description);
                step.run(s);
            } catch (IOException e) {
                throw new UncheckedIOException(description + ": " + e.getMessage(), e);
            }
            check(s);
        });
    }

    /** The whole store agrees with the model. */
    static void check(Sut s) {
        try {
            TreeSet<String> names = new TreeSet<>();
            for (VolumeInfo v : s.store.volumes()) {
                names.add(v.name());
            }
            assertEquals(s.live.volumes.keySet(), names, "volume names");
            TreeSet<String> snaps = new TreeSet<>();
            for (SnapshotInfo i : s.store.snapshots()) {
                snaps.add(i.fullName());
            }
            assertEquals(s.live.snapshots.keySet(), snaps, "snapshot names");
            for (var e : s.live.volumes.entrySet()) {
                assertArrayEquals(e.getValue(), Workload.read(s.store.volume(e.getKey())), "volume " + e.getKey());
            }
            for (var e : s.live.snapshots.entrySet()) {
                assertArrayEquals(e.getValue(), Workload.read(s.store.device(e.getKey())), "snapshot " + e.getKey());
            }
            for (var e : s.live.properties.entrySet()) {
                assertEquals(e.getValue(), new TreeMap<>(s.store.properties(e.getKey())), "properties of " + e.getKey());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Every block two devices of the store hold differently, in the model, lies in their diff,
     * for every pair of volumes and snapshots of one block size, both ways. (A diff may name
     * more: a block rewritten with the same bytes.) Whatever the chain did, reverts, clones,
     * trims, resizes, crashes and compactions included, a backup taken from a diff misses
     * nothing.
     */
    static void diffsCoverEveryChange(Sut s) throws IOException {
        List<String> all = specs(s);
        for (String a : all) {
            for (String b : all) {
                int bs = s.store.device(a).blockSize();
                if (s.store.device(b).blockSize() != bs) {
                    continue;
                }
                byte[] x = content(s, a);
                byte[] y = content(s, b);
                List<dev.varve.engine.ByteRange> d = s.store.diff(a, b);
                for (int at = 0; at < Math.max(x.length, y.length); at += bs) {
                    boolean differs = at + bs > Math.min(x.length, y.length)
                            || Arrays.mismatch(x, at, at + bs, y, at, at + bs) >= 0;
                    if (differs) {
                        long block = at;
                        assertTrue(d.stream().anyMatch(r -> r.offset() <= block && block + bs <= r.end()),
                                a + " and " + b + " differ at byte " + at + ", which their diff " + d + " leaves out, after "
                                        + s.log);
                    }
                }
            }
        }
    }

    private static byte[] content(Sut s, String spec) {
        return spec.indexOf('@') < 0 ? s.live.volumes.get(spec) : s.live.snapshots.get(spec);
    }

    // ------------------------------------------------------------------ actions
    //
    // Every action draws plain numbers and resolves them against the state when it runs, so a
    // chain stays meaningful while jqwik shrinks it (a name drawn from an earlier state could
    // be gone by then). An action with nothing to act on does nothing.

    private static String pick(java.util.Collection<String> c, int i) {
        List<String> l = new ArrayList<>(c);
        return l.isEmpty() ? null : l.get(Math.floorMod(i, l.size()));
    }

    private static List<String> specs(Sut x) {
        List<String> l = new ArrayList<>(x.live.volumes.keySet());
        l.addAll(x.live.snapshots.keySet());
        return l;
    }

    private static String freeName(Sut x, int i) {
        List<String> free = new ArrayList<>();
        for (String n : NAMES) {
            if (!x.live.volumes.containsKey(n)) {
                free.add(n);
            }
        }
        return pick(free, i);
    }

    private static void note(Sut x, String what) {
        x.log.set(x.log.size() - 1, x.log.get(x.log.size() - 1) + " [" + what + "]");
    }

    private static Arbitrary<Integer> any() {
        return Arbitraries.integers().between(0, 1_000);
    }

    static Action.Independent<Sut> create() {
        return () -> Combinators.combine(any(), Arbitraries.of(32, 64), Arbitraries.of(512, 4096))
                .as((i, kib, bs) -> t("create #" + i + " " + kib + "K bs " + bs, x -> {
                    String name = freeName(x, i);
                    if (name == null) {
                        return;
                    }
                    note(x, name);
                    x.store.createVolume(name, kib * 1024L, bs);
                    x.live.volumes.put(name, new byte[kib * 1024]);
                    x.live.blockSizes.put(name, bs);
                    x.live.properties.put(name, new TreeMap<>());
                    x.committed();
                }));
    }

    static Action.Independent<Sut> write() {
        return () -> Combinators.combine(any(), Arbitraries.doubles().between(0, 1),
                Arbitraries.integers().between(1, 20_000), Arbitraries.of(true, false), Arbitraries.longs())
                .as((i, where, len0, aligned, seed) -> t("write #" + i + " at " + where + " len " + len0
                        + (aligned ? " aligned" : ""), x -> {
                    String v = pick(x.live.volumes.keySet(), i);
                    if (v == null) {
                        return;
                    }
                    int size = x.live.volumes.get(v).length;
                    int bs = x.live.blockSizes.get(v);
                    int len = Math.min(len0, size);
                    int off = (int) (where * (size - len));
                    if (aligned) {
                        off = off / bs * bs;
                        len = Math.max(bs, len / bs * bs);
                    }
                    note(x, v + " " + off + "+" + len);
                    byte[] d = new byte[len];
                    new Random(seed).nextBytes(d);
                    x.store.volume(v).write(off, d, 0, len);
                    System.arraycopy(d, 0, x.live.volumes.get(v), off, len);
                }));
    }

    static Action.Independent<Sut> trim() {
        return () -> Combinators.combine(any(), Arbitraries.doubles().between(0, 1),
                Arbitraries.integers().between(1, 30_000), Arbitraries.of(true, false))
                .as((i, where, len0, zeroes) -> t((zeroes ? "write-zeroes #" : "trim #") + i + " at " + where
                        + " len " + len0, x -> {
                    String v = pick(x.live.volumes.keySet(), i);
                    if (v == null) {
                        return;
                    }
                    int size = x.live.volumes.get(v).length;
                    int len = Math.min(len0, size);
                    int off = (int) (where * (size - len));
                    note(x, v + " " + off + "+" + len);
                    if (zeroes) {
                        x.store.volume(v).writeZeroes(off, len);
                    } else {
                        x.store.volume(v).trim(off, len);
                    }
                    Arrays.fill(x.live.volumes.get(v), off, off + len, (byte) 0);
                }));
    }

    static Action.Independent<Sut> read() {
        return () -> Combinators.combine(any(), Arbitraries.doubles().between(0, 1),
                Arbitraries.integers().between(1, 9_000)).as((i, where, len0) -> t("read #" + i, x -> {
                    String spec = pick(specs(x), i);
                    if (spec == null) {
                        return;
                    }
                    byte[] want = spec.contains("@") ? x.live.snapshots.get(spec) : x.live.volumes.get(spec);
                    int len = Math.min(len0, want.length);
                    int off = (int) (where * (want.length - len));
                    note(x, spec + " " + off + "+" + len);
                    byte[] got = new byte[len];
                    x.store.device(spec).read(off, got, 0, len);
                    assertArrayEquals(Arrays.copyOfRange(want, off, off + len), got, "read " + spec + " " + off + "+" + len);
                }));
    }

    static Action.Independent<Sut> flush() {
        return () -> Arbitraries.just(t("flush", x -> {
            x.store.flush();
            x.committed();
        }));
    }

    static Action.Independent<Sut> snapshot() {
        return () -> Combinators.combine(any(), Arbitraries.of(false, false, false, true)).as((i, again) ->
                t("snapshot #" + i + (again ? " with a taken name" : ""), x -> {
                    String v = pick(x.live.volumes.keySet(), i);
                    if (v == null) {
                        return;
                    }
                    List<String> mine = x.live.snapshotsOf(v);
                    if (again && !mine.isEmpty()) {
                        String taken = mine.get(0);
                        note(x, taken + ": refused");
                        assertThrows(NameExistsException.class, () -> x.store.snapshot(v,
                                taken.substring(taken.indexOf('@') + 1), Map.of()));
                        // a refused catalog change changes no name, but its transaction group
                        // still commits what was written before it (as a flush would)
                        x.committed();
                        return;
                    }
                    String name = "s" + x.counter++;
                    note(x, v + "@" + name);
                    x.store.snapshot(v, name, Map.of("n", name));
                    x.live.snapshots.put(v + "@" + name, x.live.volumes.get(v).clone());
                    x.live.properties.put(v + "@" + name, new TreeMap<>(Map.of("n", name)));
                    x.committed();
                }));
    }

    static Action.Independent<Sut> groupSnapshot() {
        return () -> any().list().ofMinSize(1).ofMaxSize(3).map(is -> t("group snapshot " + is, x -> {
            TreeSet<String> vs = new TreeSet<>();
            for (int i : is) {
                String v = pick(x.live.volumes.keySet(), i);
                if (v != null) {
                    vs.add(v);
                }
            }
            if (vs.isEmpty()) {
                return;
            }
            String g = "g" + x.counter++;
            note(x, g + " of " + vs);
            x.store.snapshotGroup(g, new ArrayList<>(vs), Map.of());
            for (String v : vs) {
                x.live.snapshots.put(v + "@" + g, x.live.volumes.get(v).clone());
                x.live.properties.put(v + "@" + g, new TreeMap<>());
            }
            x.committed();
        }));
    }

    static Action.Independent<Sut> revert() {
        return () -> Combinators.combine(any(), Arbitraries.of(false, true)).as((i, keep) ->
                t("revert #" + i + (keep ? " keeping current" : ""), x -> {
                    String spec = pick(x.live.snapshots.keySet(), i);
                    if (spec == null) {
                        return;
                    }
                    note(x, spec);
                    String v = spec.substring(0, spec.indexOf('@'));
                    String keepName = keep ? "k" + x.counter++ : null;
                    x.store.revert(v, spec.substring(spec.indexOf('@') + 1), keepName);
                    if (keepName != null) {
                        x.live.snapshots.put(v + "@" + keepName, x.live.volumes.get(v).clone());
                        x.live.properties.put(v + "@" + keepName, new TreeMap<>());
                    }
                    x.live.volumes.put(v, x.live.snapshots.get(spec).clone());
                    x.committed();
                }));
    }

    static Action.Independent<Sut> cloneSnapshot() {
        return () -> Combinators.combine(any(), any()).as((i, j) -> t("clone #" + i + " as #" + j, x -> {
            String spec = pick(x.live.snapshots.keySet(), i);
            String n = freeName(x, j);
            if (spec == null || n == null) {
                return;
            }
            note(x, spec + " -> " + n);
            int at = spec.indexOf('@');
            x.store.clone(spec.substring(0, at), spec.substring(at + 1), n);
            x.live.volumes.put(n, x.live.snapshots.get(spec).clone());
            x.live.blockSizes.put(n, x.live.blockSizes.get(spec.substring(0, at)));
            x.live.properties.put(n, new TreeMap<>());
            x.committed();
        }));
    }

    static Action.Independent<Sut> destroy() {
        return () -> any().map(i -> t("destroy #" + i, x -> {
            String spec = pick(specs(x), i);
            if (spec == null) {
                return;
            }
            note(x, spec);
            int at = spec.indexOf('@');
            if (at >= 0) {
                x.store.destroySnapshot(spec.substring(0, at), spec.substring(at + 1));
                x.live.snapshots.remove(spec);
                x.live.properties.remove(spec);
            } else {
                List<String> mine = x.live.snapshotsOf(spec);
                if (!mine.isEmpty()) {
                    assertThrows(IOException.class, () -> x.store.destroyVolume(spec, false),
                            "destroying a volume with snapshots needs --recursive");
                }
                x.store.destroyVolume(spec, true);
                for (String m : mine) {
                    x.live.snapshots.remove(m);
                    x.live.properties.remove(m);
                }
                x.live.volumes.remove(spec);
                x.live.blockSizes.remove(spec);
                x.live.properties.remove(spec);
            }
            x.committed();
        }));
    }

    static Action.Independent<Sut> rename() {
        return () -> Combinators.combine(any(), any()).as((i, j) -> t("rename #" + i + " as #" + j, x -> {
            String spec = pick(specs(x), i);
            if (spec == null) {
                return;
            }
            int at = spec.indexOf('@');
            if (at >= 0) {
                String v = spec.substring(0, at);
                String to = v + "@r" + x.counter++;
                note(x, spec + " -> " + to);
                x.store.renameSnapshot(v, spec.substring(at + 1), to.substring(to.indexOf('@') + 1));
                x.live.snapshots.put(to, x.live.snapshots.remove(spec));
                x.live.properties.put(to, x.live.properties.remove(spec));
            } else {
                String n = freeName(x, j);
                if (n == null) {
                    return;
                }
                note(x, spec + " -> " + n);
                x.store.renameVolume(spec, n);
                x.live.volumes.put(n, x.live.volumes.remove(spec));
                x.live.blockSizes.put(n, x.live.blockSizes.remove(spec));
                x.live.properties.put(n, x.live.properties.remove(spec));
                for (String m : x.live.snapshotsOf(spec)) {
                    String to = n + m.substring(m.indexOf('@'));
                    x.live.snapshots.put(to, x.live.snapshots.remove(m));
                    x.live.properties.put(to, x.live.properties.remove(m));
                }
            }
            x.committed();
        }));
    }

    static Action.Independent<Sut> setProperty() {
        return () -> Combinators.combine(any(), Arbitraries.of("config", "notes", "memory"),
                Arbitraries.integers().between(0, 5000)).as((i, key, len) ->
                t("set #" + i + " " + key + " (" + len + " chars)", x -> {
                    String spec = pick(specs(x), i);
                    if (spec == null) {
                        return;
                    }
                    note(x, spec);
                    String value = "v".repeat(len) + x.counter++;
                    x.store.setProperty(spec, key, value);
                    x.live.properties.get(spec).put(key, value);
                    x.committed();
                }));
    }

    static Action.Independent<Sut> resize() {
        return () -> Combinators.combine(any(), Arbitraries.of(16, 48, 64, 96)).as((i, kib) ->
                t("resize #" + i + " " + kib + "K", x -> {
                    String v = pick(x.live.volumes.keySet(), i);
                    if (v == null) {
                        return;
                    }
                    note(x, v);
                    x.store.resizeVolume(v, kib * 1024L);
                    x.live.volumes.put(v, Arrays.copyOf(x.live.volumes.get(v), kib * 1024));
                    x.committed();
                }));
    }

    static Action.Independent<Sut> gc() {
        return () -> Arbitraries.of(0.3, 0.75, 1.0).map(u -> t("gc " + u, x -> {
            x.store.gc(u);
            x.store.flush();
            x.committed();
        }));
    }

    static Action.Independent<Sut> reopen() {
        return () -> Arbitraries.just(t("reopen", x -> {
            x.store.close();
            x.committed();
            x.store = Store.open(ROOT, x.options());
        }));
    }

    static Action.Independent<Sut> crash() {
        return () -> Arbitraries.longs().map(seed -> t("crash " + seed, x -> {
            x.disk.powerOff();
            try {
                x.store.close();
            } catch (IOException expected) {
                // the power is gone
            }
            x.disk = x.disk.crash(new Random(seed));
            x.store = Store.open(ROOT, x.options());
            x.live = x.durable.copy();
        }));
    }

    @Provide
    Arbitrary<ActionChain<Sut>> chains() {
        return ActionChain.startWith(Sut::new)
                .withAction(2, create())
                .withAction(8, write())
                .withAction(2, trim())
                .withAction(2, read())
                .withAction(2, flush())
                .withAction(3, snapshot())
                .withAction(1, groupSnapshot())
                .withAction(2, revert())
                .withAction(1, cloneSnapshot())
                .withAction(1, destroy())
                .withAction(1, rename())
                .withAction(1, setProperty())
                .withAction(1, resize())
                .withAction(1, reopen())
                .withAction(2, gc())
                .withAction(2, crash())
                .withMaxTransformations(50);
    }

    @Property(tries = 600)
    void storeAgreesWithTheModel(@ForAll("chains") ActionChain<Sut> chain) throws IOException {
        Sut s = chain.run();
        diffsCoverEveryChange(s);
        s.store.close();
        Report r = Fsck.check(s.disk, false);
        assertTrue(r.clean(), "fsck after " + s.log + ":\n" + r.summary());
    }
}
