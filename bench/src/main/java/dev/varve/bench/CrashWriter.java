package dev.varve.bench;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;

/**
 * The child process of {@code recovery.time}: writes to a new disk until the parent kills it.
 * Usage: {@code CrashWriter KIND DIR MIB}. It writes MIB MiB of 64 KiB chunks at random
 * places in a 4 GiB volume, flushing every 16 MiB and taking a snapshot every 64 MiB, prints
 * {@code READY}, then keeps writing and flushing (every 1 MiB) until it is killed, so the kill
 * lands in the middle of writes and commits.
 */
public final class CrashWriter {
    static final long VOLUME = 4L << 30;
    private static final int CHUNK = 64 << 10;

    private CrashWriter() {
    }

    public static void main(String[] args) throws Exception {
        String kind = args[0];
        Path dir = Path.of(args[1]);
        long bytes = Long.parseLong(args[2]) << 20;
        ByteBuffer data = Bench.randomData(CHUNK, Bench.SEED + 31);
        Random rnd = new Random(Bench.SEED + 32);
        Contender c = Contender.create(kind, dir, VOLUME);
        long chunks = VOLUME / CHUNK;
        long written = 0;
        int snaps = 0;
        boolean ready = false;
        while (true) {
            c.write(Math.floorMod(rnd.nextLong(), chunks) * CHUNK, data.duplicate());
            written += CHUNK;
            if (!ready && written % (16L << 20) == 0) {
                c.flush();
            }
            if (!ready && written % (64L << 20) == 0) {
                c.snapshot("s" + snaps++);
            }
            if (!ready && written >= bytes) {
                c.flush();
                ready = true;
                System.out.println("READY");
                System.out.flush();
            }
            if (ready && written % (1 << 20) == 0) {
                c.flush();
            }
        }
    }
}
