package dev.varve.bench;

import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.Volume;
import java.nio.file.Path;
import java.util.SplittableRandom;
/**
 * Issue 2's memory check: a 1 TiB thin volume with 8 GiB written at random 4 KiB-aligned
 * offsets (a flush every 256 writes), served in a JVM started with {@code -Xmx256m}; prints heap
 * use as it goes and reads back probed blocks at the end. Run:
 * {@code java -Xmx256m -cp bench/target/benchmarks.jar dev.varve.bench.BigVolumeCheck DIR}
 * (DIR must not exist; it takes about 15 GB with the collector off).
 */
public final class BigVolumeCheck {
    private BigVolumeCheck() {
    }

  public static void main(String[] a) throws Exception {
    Path dir = Path.of(a[0]);
    long size = 1L << 40;                 // 1 TiB thin volume
    long total = 8L << 30;                // 8 GiB written at random 4 KiB-aligned offsets
    byte[] b = new byte[4096];
    SplittableRandom r = new SplittableRandom(42);
    long t0 = System.nanoTime();
    long[] probe = new long[1000];
    try (Store s = Store.create(dir, StoreOptions.defaults().withGcIntervalMillis(0))) {
      Volume v = s.createVolume("big", size);
      long n = total / 4096;
      for (long i = 0; i < n; i++) {
        long off = r.nextLong(size / 4096) * 4096;
        b[0] = (byte) i; b[1] = (byte) (i >> 8); b[2] = (byte) (i >> 16); b[3] = 1;
        v.write(off, b, 0, 4096);
        if (i < probe.length) probe[(int) i] = off;
        if ((i & 255) == 255) v.flush();
        if ((i & ((1 << 20) - 1)) == 0) {
          Runtime rt = Runtime.getRuntime();
          System.out.printf("%,d writes, heap used %d MiB of max %d MiB, %.0f s%n", i, (rt.totalMemory() - rt.freeMemory()) >> 20, rt.maxMemory() >> 20, (System.nanoTime() - t0) / 1e9);
        }
      }
      v.flush();
      byte[] got = new byte[4096];
      int ok = 0;
      for (long off : probe) { v.read(off, got, 0, 4096); if (got[3] == 1) ok++; }
      System.out.printf("done: %,d writes in %.0f s; %d of %d probed blocks read back; store info %s%n", n, (System.nanoTime() - t0) / 1e9, ok, probe.length, s.info());
    }
  }
}
