package dev.varve.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.io.CrashableStorage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A damaged intent record is a torn write only when nothing shows its flush was forced. With
 * whole records of two later flushes after it, it was made durable and damaged afterwards: a
 * read-write open refuses to go on without the flushes from there, and a read-only open says
 * what it shows.
 */
class IntentDamageTest {
    private static final Path ROOT = Path.of("/mem/intent-damage");
    private static final int BLOCK = 4096;

    private static StoreOptions options(CrashableStorage s) {
        return StoreOptions.defaults().withSegmentSize(1 << 20).withCommitIntervalMillis(0)
                .withDirtyBytesLimit(Long.MAX_VALUE).withGcIntervalMillis(0).withStorage(p -> s);
    }

    /** A store at its last commit, then {@code flushes} flushes of one block each; the image after them. */
    private static CrashableStorage flushes(int flushes, byte[][] states) throws Exception {
        CrashableStorage disk = new CrashableStorage(ROOT);
        try (Store store = Store.create(ROOT, options(disk))) {
            Volume v = store.createVolume("v", 16L * BLOCK);
            store.commit();
            states[0] = read(v);
            for (int f = 1; f <= flushes; f++) {
                byte[] b = new byte[BLOCK];
                java.util.Arrays.fill(b, (byte) f);
                v.write((long) f * BLOCK, b, 0, BLOCK);
                store.flush();
                states[f] = read(v);
            }
            return disk.crashLosingUnsynced(); // every flush was forced; the trees were not committed
        }
    }

    private static byte[] read(BlockDevice d) throws Exception {
        byte[] b = new byte[(int) d.size()];
        d.read(0, b, 0, b.length);
        return b;
    }

    /** The meta segment file and the offsets of the intent records in it, in log order. */
    private static List<long[]> intents(CrashableStorage disk, String[] file) {
        List<long[]> out = new ArrayList<>();
        for (String name : disk.list()) {
            if (SegmentLayout.parseFileName(name) <= 0) {
                continue;
            }
            ByteBuffer b = ByteBuffer.wrap(disk.contents(name)).order(ByteOrder.LITTLE_ENDIAN);
            for (int p = SegmentLayout.HEADER_BYTES; p + RecordLayout.HEADER_BYTES <= b.capacity(); ) {
                if (b.getInt(p + RecordLayout.MAGIC_OFFSET) != RecordLayout.MAGIC) {
                    p += RecordLayout.ALIGNMENT;
                    continue;
                }
                if (b.get(p + RecordLayout.TYPE_OFFSET) == RecordLayout.TYPE_INTENT) {
                    file[0] = name;
                    out.add(new long[] {p, b.getInt(p + RecordLayout.LENGTH_OFFSET)});
                }
                p += b.getInt(p + RecordLayout.LENGTH_OFFSET);
            }
        }
        return out;
    }

    @Test
    void aDamagedIntentWithLaterFlushesAfterItIsRefusedReadWrite() throws Exception {
        byte[][] states = new byte[4][];
        CrashableStorage disk = flushes(3, states);
        String[] file = new String[1];
        List<long[]> recs = intents(disk, file);
        assertTrue(recs.size() == 3, "one intent record per flush: " + recs.size());
        // a bit of the first flush's record, in its payload
        long[] first = recs.get(0);
        disk.flipBit(file[0], (first[0] + first[1] - 8) * 8 + 3);
        CorruptionException e = assertThrows(CorruptionException.class, () -> Store.open(ROOT, options(disk)));
        assertTrue(e.getMessage().contains("not a write a crash cut short") && e.getMessage().contains("fsck --repair"),
                e.getMessage());
        try (Store ro = Store.open(ROOT, options(disk).withReadOnly(true))) {
            assertNotNull(ro.openWarning(), "a read-only open says it shows less than the log holds");
            assertArrayEquals(states[0], read(ro.volume("v")), "read-only: the last commit, before the damage");
        }
        // flipped back, every flush is there
        disk.flipBit(file[0], (first[0] + first[1] - 8) * 8 + 3);
        try (Store store = Store.open(ROOT, options(disk))) {
            assertNull(store.openWarning());
            assertArrayEquals(states[3], read(store.volume("v")));
        }
    }

    /**
     * The record of the last flush and of the one before it: nothing after either proves its
     * flush was forced (the flush after the first may be the same flush), so opening takes the
     * log as ending there, as after a power cut.
     */
    @Test
    void aDamagedRecordOfTheLastTwoFlushesEndsTheLog() throws Exception {
        for (int damaged = 0; damaged < 2; damaged++) {
            byte[][] states = new byte[3][];
            CrashableStorage disk = flushes(2, states);
            String[] file = new String[1];
            List<long[]> recs = intents(disk, file);
            long[] r = recs.get(damaged);
            disk.flipBit(file[0], (r[0] + r[1] - 8) * 8 + 5);
            try (Store store = Store.open(ROOT, options(disk))) {
                assertArrayEquals(states[damaged], read(store.volume("v")), "record " + damaged + " damaged");
            }
        }
    }
}
