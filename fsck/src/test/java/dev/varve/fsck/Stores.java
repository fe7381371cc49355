package dev.varve.fsck;

import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.Volume;
import dev.varve.engine.io.CrashableStorage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Random;

/** Small stores in memory with every kind of record in them, built once per test class. */
final class Stores {
    private Stores() {
    }

    private static int metaSegments(CrashableStorage disk) {
        return Disk.segments(disk, dev.varve.engine.format.SegmentLayout.KIND_META).size();
    }

    static StoreOptions options(CrashableStorage disk) {
        return StoreOptions.defaults().withSegmentSize(1 << 20).withCommitIntervalMillis(0)
                .withDirtyBytesLimit(Long.MAX_VALUE).withNodeCacheBytes(1 << 20).withStorage(p -> disk);
    }

    /**
     * Two volumes (4 KiB and 512-byte blocks), scattered writes so that extent trees have
     * interior nodes, enough snapshots that the catalog has interior nodes, properties, a
     * clone, trims and a destroyed snapshot; 1 MiB segments, so the log spans at least two meta
     * segments (more commits are made until it does) linked by next-segment records. {@code closed}: closed normally (the superblock
     * names the last commit); otherwise the image a power cut leaves after the last flush, with
     * the superblock some commits behind.
     */
    static CrashableStorage build(long seed, int commits, boolean closed) {
        CrashableStorage disk = new CrashableStorage(Disk.ROOT);
        Random r = new Random(seed);
        try {
            Store store = Store.create(Disk.ROOT, options(disk));
            Volume a = store.createVolume("vm1", 16L << 20, 4096);
            Volume b = store.createVolume("vm2", 2L << 20, 512);
            // one-block extents at every other block of vm2: enough leaves (bounded by bytes,
            // several hundred such extents each) that its tree has an interior node
            byte[] one = new byte[512];
            for (int k = 0; k < 1_500; k++) {
                r.nextBytes(one);
                b.write(512L * 2 * k, one, 0, one.length);
            }
            store.flush();
            for (int i = 0; i < commits || (i % 10 != 0 || metaSegments(disk) < 2) && i < 20 * commits; i++) {
                byte[] d = new byte[4096 * (1 + r.nextInt(4))];
                r.nextBytes(d);
                a.write(4096L * r.nextInt(4096 - 4), d, 0, d.length);
                if (i % 3 == 0) {
                    b.write(512L * r.nextInt(4000), d, 0, 512 * (1 + r.nextInt(6)));
                }
                if (i % 25 == 7) {
                    store.snapshot("vm1", "s" + i, i % 2 == 0 ? Map.of("vm", "config " + i) : Map.of());
                }
                if (i % 2 == 1 && i < 150) {
                    store.snapshot("vm2", "t" + i, Map.of());
                }
                if (i == 40) {
                    store.clone("vm1", "s32", "vm3").write(0, d, 0, 4096);
                }
                if (i % 30 == 29) {
                    a.trim(4096L * r.nextInt(4000), 4096L * 8);
                }
                if (i == 60) {
                    store.destroySnapshot("vm2", "t5");
                    store.setProperty("vm2", "owner", "alice");
                }
                store.flush();
            }
            if (closed) {
                store.close();
                return disk;
            }
            // everything is flushed: a power cut now keeps exactly the durable state
            CrashableStorage image = disk.crash(new Random(seed));
            store.close();
            return image;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
