package dev.varve.bench;

import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.fsck.Fsck;
import dev.varve.fsck.Report;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Opening after an unclean stop, and checking. A child JVM ({@link CrashWriter}) writes a disk
 * of the given size with snapshots along the way and is killed with SIGKILL in the middle of
 * writes and flushes. Then the disk is opened repeatedly with its page cache dropped before
 * each open: Varve read-only (it rolls forward from the superblock through the later commits
 * exactly as a read-write open does, but writes nothing, so every repetition sees the same
 * image); file-per-delta read-write (its first open cuts torn journal tails, later ones replay
 * the same journals). Then fsck reads the whole Varve store, cold, against the disk's read
 * bandwidth.
 */
final class Recovery implements Scenario {
    static final String RECOVERY = "recovery.time";
    static final String FSCK = "fsck.throughput";

    @Override
    public int weight() {
        return 16;
    }

    @Override
    public List<String> names() {
        return List.of(RECOVERY, FSCK);
    }

    @Override
    public void run(Bench b) throws Exception {
        long[] sizes = b.quick ? new long[] {64, 256} : new long[] {256, 1024, 2048};
        for (long mib : sizes) {
            if (mib != sizes[0] && b.overBudget()) {
                b.budgetSkip(RECOVERY + ", " + FSCK + " from " + mib + " MiB on");
                break;
            }
            Path root = b.scratch("rec");
            try {
                Path varve = root.resolve(Contender.VARVE);
                Path fpd = root.resolve(Contender.FILE_PER_DELTA);
                crash(b, Contender.VARVE, varve, mib);
                if (b.wants(RECOVERY)) {
                    crash(b, Contender.FILE_PER_DELTA, fpd, mib);
                    openTimes(b, List.of(varve, fpd), mib);
                }
                if (b.wants(FSCK)) {
                    // one read-write open and clean close, so fsck checks a store that is not mid-crash
                    Store.open(varve).close();
                    fsck(b, varve, mib);
                }
            } finally {
                Bench.deleteTree(root);
            }
        }
    }

    /** Runs the child until it has written {@code mib} MiB, lets it go on briefly, kills it. */
    private void crash(Bench b, String kind, Path dir, long mib) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-") || a.startsWith("--enable-native") || a.startsWith("--sun-misc")) {
                cmd.add(a);
            }
        }
        // the manifest's grants do not reach a child started with -cp
        cmd.addAll(List.of("--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
                "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
                "--add-opens=java.base/java.nio=ALL-UNNAMED", "-Xmx1g"));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), CrashWriter.class.getName(), kind,
                dir.toString(), Long.toString(mib)));
        b.progress("recovery: " + kind + " child writes " + mib + " MiB, then is killed");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            StringBuilder seen = new StringBuilder();
            while ((line = r.readLine()) != null && !line.equals("READY")) {
                seen.append(line).append('\n');
            }
            if (line == null) {
                throw new IOException("the crash writer exited before it was ready: " + seen);
            }
            Thread.sleep(300);
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly();
            }
        }
    }

    private static long bytesOf(Path dir) throws IOException {
        long n = 0;
        for (Path f : Contender.filesUnder(dir)) {
            n += Files.size(f);
        }
        return n;
    }

    /** Opens each crashed disk in turn, cache dropped before each open. */
    private void openTimes(Bench b, List<Path> dirs, long mib) throws Exception {
        double[][] ms = Bench.interleaved(dirs, Bench.WARMUPS, (dir, rep) -> {
            b.evict(Contender.filesUnder(dir));
            long t0 = System.nanoTime();
            if (dir.getFileName().toString().equals(Contender.VARVE)) {
                Store s = Store.open(dir, StoreOptions.defaults().withReadOnly(true));
                long t = System.nanoTime() - t0;
                s.close();
                return t / 1e6;
            }
            FilePerDelta f = FilePerDelta.open(dir);
            long t = System.nanoTime() - t0;
            f.close();
            return t / 1e6;
        });
        Map<String, Object> p = Bench.params("written", mib + " MiB", "snapshots", mib / 64);
        Figure fpd = Figure.of(RECOVERY, "ms", Contender.FILE_PER_DELTA, p, ms[1], false, "FilePerDelta.open after SIGKILL"
                + " mid-write, page cache dropped: catalog and every layer's table journal replayed; "
                + Bench.mib(bytesOf(dirs.get(1))) + " on disk");
        b.add(Figure.of(RECOVERY, "ms", Contender.VARVE, p, ms[0], false, "Store.open read-only after SIGKILL mid-write,"
                + " page cache dropped: superblock, segment headers, roll forward through the commits after it; "
                + Bench.mib(bytesOf(dirs.get(0))) + " on disk").against(fpd, "file-per-delta"));
        b.add(fpd);
    }

    /**
     * fsck, full and fast, against a cold sequential read of the store's own files, the three
     * taking turns within each repetition with the page cache dropped before each: the
     * baseline is the throughput these very files can be read at, on this disk, at that time.
     */
    private void fsck(Bench b, Path dir, long mib) throws IOException {
        long bytes = bytesOf(dir);
        List<Path> files = Contender.filesUnder(dir);
        double[] read = new double[Bench.REPS];
        double[] readDirect = new double[Bench.REPS];
        double[][] mbs = new double[2][Bench.REPS];
        String[] problems = new String[2];
        // aligned for direct reads on any file system block size up to 64 KiB
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocateDirect((1 << 20) + (64 << 10)).alignedSlice(64 << 10);
        buf.limit(1 << 20);
        buf = buf.slice();
        boolean direct = true;
        for (int rep = -Bench.WARMUPS; rep < Bench.REPS; rep++) {
            b.evict(files);
            double mbsRead = readFiles(files, buf, false);
            if (rep >= 0) {
                read[rep] = mbsRead;
            }
            for (int m = 0; m < 2; m++) {
                b.evict(files);
                long t0 = System.nanoTime();
                Report r = Fsck.check(dir, m == 1);
                long t = System.nanoTime() - t0;
                if (!r.clean()) {
                    problems[m] = r.summary();
                }
                if (rep >= 0) {
                    mbs[m][rep] = bytes / (t / 1e9) / 1e6;
                }
            }
            // last in the round: read right after the buffered read's eviction, fsck finds the
            // memory the page cache fills as that read did (still backed by the host, on this VM),
            // and a direct read in between would change that
            b.evict(files);
            double mbsDirect = direct ? readFiles(files, buf, true) : Double.NaN;
            direct = !Double.isNaN(mbsDirect);
            if (rep >= 0) {
                readDirect[rep] = mbsDirect;
            }
        }
        Figure base = b.add(Figure.of(FSCK, "MB/s", "store-files-read", Bench.params("store", Bench.mib(bytes), "written",
                mib + " MiB", "mode", "sequential read"), read, true, "the store's files read front to back through"
                + " the page cache (as cat or cp do), 1 MiB reads, page cache dropped first, in turns with fsck"));
        Figure baseDirect = null;
        if (direct) {
            baseDirect = b.add(Figure.of(FSCK, "MB/s", "store-files-read-direct", Bench.params("store",
                    Bench.mib(bytes), "written", mib + " MiB", "mode", "sequential read, O_DIRECT"), readDirect, true,
                    "the store's files read front to back with direct I/O (as fio --direct=1 or dd iflag=direct"
                    + " measure a disk), 1 MiB reads, in turns with fsck"));
        }
        for (int m = 0; m < 2; m++) {
            Map<String, Object> p = Bench.params("store", Bench.mib(bytes), "written", mib + " MiB", "mode",
                    m == 1 ? "fast (metadata only)" : "full (every data block's CRC)");
            String note = "Fsck.check, page cache dropped first, in turns with sequential reads of the same files;"
                    + " MB/s of store files checked" + (problems[m] == null ? "" : "; fsck reported: " + problems[m]);
            b.add(Figure.of(FSCK, "MB/s", "varve-fsck", p, mbs[m], true, note).against(base, "store-files-read"));
            if (baseDirect != null) {
                Map<String, Object> pd = new java.util.LinkedHashMap<>(p);
                pd.put("against", "direct read");
                b.add(Figure.of(FSCK, "MB/s", "varve-fsck", pd, mbs[m], true, note)
                        .against(baseDirect, "store-files-read-direct"));
            }
        }
    }

    /**
     * Reads {@code files} front to back in 1 MiB reads, through the page cache or with direct I/O;
     * MB/s, or NaN when a file system here does not take direct reads.
     */
    private static double readFiles(List<Path> files, java.nio.ByteBuffer buf, boolean direct) throws IOException {
        long t0 = System.nanoTime();
        long got = 0;
        for (Path f : files) {
            java.nio.channels.FileChannel ch;
            try {
                ch = direct ? java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.READ,
                        com.sun.nio.file.ExtendedOpenOption.DIRECT) : java.nio.channels.FileChannel.open(f);
            } catch (IOException | UnsupportedOperationException e) {
                if (direct) {
                    return Double.NaN;
                }
                throw e;
            }
            try (ch) {
                long size = ch.size();
                for (long p = 0; p < size; ) {
                    buf.clear();
                    int n = ch.read(buf, p);
                    if (n <= 0) {
                        break;
                    }
                    p += n;
                    got += n;
                }
            }
        }
        return got / ((System.nanoTime() - t0) / 1e9) / 1e6;
    }
}
