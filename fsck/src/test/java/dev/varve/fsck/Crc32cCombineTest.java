package dev.varve.fsck;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class Crc32cCombineTest {
    private static int crc(byte[] b, int from, int to) {
        CRC32C c = new CRC32C();
        c.update(b, from, to - from);
        return (int) c.getValue();
    }

    @Test
    void theCrcOfTwoPiecesIsTheCrcOfBoth() {
        long seed = Long.getLong("varve.seed", System.nanoTime());
        System.out.println("Crc32cCombineTest seed " + seed + " (-Dvarve.seed=...)");
        Random r = new Random(seed);
        byte[] data = new byte[256 << 10];
        for (int i = 0; i < 2_000; i++) {
            r.nextBytes(data);
            int len = 1 + r.nextInt(i % 10 == 0 ? data.length : 9000);
            int cut = r.nextInt(len + 1);
            int whole = crc(data, 0, len);
            int combined = Crc32cCombine.combine(crc(data, 0, cut), crc(data, cut, len),
                    Crc32cCombine.operator(len - cut));
            assertEquals(whole, combined, "seed " + seed + ": " + len + " bytes cut at " + cut);
        }
    }

    @Test
    void aBlockFromItsFourKibPieces() {
        Random r = new Random(5);
        byte[] block = new byte[64 << 10];
        r.nextBytes(block);
        int op = Crc32cCombine.operator(4096);
        int c = crc(block, 0, 4096);
        for (int at = 4096; at < block.length; at += 4096) {
            c = Crc32cCombine.combine(c, crc(block, at, at + 4096), op);
        }
        assertEquals(crc(block, 0, block.length), c);
        // empty B: the operator is the identity
        assertEquals(crc(block, 0, 100), Crc32cCombine.combine(crc(block, 0, 100), 0, Crc32cCombine.operator(0)));
    }
}
