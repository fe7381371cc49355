package dev.varve.bench;

import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.Volume;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.HdrHistogram.Histogram;

/**
 * What writing fill ahead of the metadata log's end buys: two Varve stores, one with
 * {@code metaFill} (the default) and one without, open at once and taking turns op by op, so
 * both see the same minute of a noisy disk. Timed: a clone and a destroy of it (two commits of
 * catalog records only), and a flush of eight random 4 KiB writes (an intent record after the
 * data). Each store holds a 1 GiB volume with 200 snapshots.
 */
final class MetaFillScenario implements Scenario {
    static final String NAME = "commit.fill";
    static final String NO_FILL = "varve-no-fill";

    @Override
    public List<String> names() {
        return List.of(NAME);
    }

    @Override
    public int weight() {
        return 2;
    }

    @Override
    public void run(Bench b) throws Exception {
        Path root = b.scratch("fill");
        Store[] stores = new Store[2];
        try {
            Volume[] vols = new Volume[2];
            for (int k = 0; k < 2; k++) {
                StoreOptions o = StoreOptions.defaults().withGcIntervalMillis(0).withMetaFill(k == 0);
                stores[k] = Store.create(root.resolve(k == 0 ? Contender.VARVE : NO_FILL), o);
                vols[k] = stores[k].createVolume("d", 1L << 30);
                for (int i = 0; i < 200; i++) {
                    stores[k].snapshot("d", "s" + i, Map.of());
                }
            }
            int ops = b.quick ? 600 : 2000;
            Histogram[] clone = {new Histogram(3), new Histogram(3)};
            Histogram[] flush = {new Histogram(3), new Histogram(3)};
            ByteBuffer block = ByteBuffer.allocateDirect(4096);
            SplittableRandom r = new SplittableRandom(Bench.SEED);
            b.progress(NAME + ": " + ops + " clone+destroy pairs and " + ops + " flushes on each store, taking turns");
            for (int i = -ops / 10; i < ops; i++) {
                for (int k = 0; k < 2; k++) {
                    long t0 = System.nanoTime();
                    stores[k].clone("d", "s100", "c");
                    stores[k].destroyVolume("c", false);
                    long t1 = System.nanoTime();
                    for (int j = 0; j < 8; j++) {
                        vols[k].write(r.nextLong(1L << 18) * 4096, block.duplicate());
                    }
                    long t2 = System.nanoTime();
                    vols[k].flush();
                    long t3 = System.nanoTime();
                    if (i >= 0) {
                        clone[k].recordValue(t1 - t0);
                        flush[k].recordValue(t3 - t2);
                    }
                }
            }
            add(b, "clone+destroy", clone, "a clone and a destroy of it: two commits of catalog records");
            add(b, "flush 8x4 KiB", flush, "a flush of eight random 4 KiB writes: data forced, then an intent record");
        } finally {
            for (Store s : stores) {
                if (s != null) {
                    s.close();
                }
            }
            Bench.deleteTree(root);
        }
    }

    private static void add(Bench b, String what, Histogram[] h, String note) {
        Map<String, Object> p = Bench.params("what", what);
        Figure off = Figure.ofLatency(NAME, NO_FILL, p, h[1], note + "; metaFill off: every commit grows the file");
        b.add(Figure.ofLatency(NAME, Contender.VARVE, p, h[0], note + "; metaFill on (the default)")
                .against(off, "metaFill off"));
        b.add(off);
    }
}
