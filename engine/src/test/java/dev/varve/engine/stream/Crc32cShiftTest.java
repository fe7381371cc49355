package dev.varve.engine.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class Crc32cShiftTest {
    private static int crc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return (int) c.getValue();
    }

    @Test
    void combiningPiecesGivesTheCrcOfTheWhole() {
        Random rnd = new Random(5);
        for (int len : new int[] {0, 1, 3, 7, 512, 4096, 4097, 65536}) {
            Crc32cShift shift = new Crc32cShift(len);
            for (int trial = 0; trial < 20; trial++) {
                int aLen = rnd.nextInt(300);
                byte[] all = new byte[aLen + len];
                rnd.nextBytes(all);
                int whole = crc(all, 0, all.length);
                int combined = shift.combine(crc(all, 0, aLen), crc(all, aLen, len));
                assertEquals(whole, combined, "A of " + aLen + " bytes and B of " + len);
            }
        }
    }

    @Test
    void aFrameOfBlocksChainsBlockByBlock() {
        Random rnd = new Random(9);
        int block = 4096;
        byte[] header = new byte[40];
        byte[] data = new byte[64 * block];
        rnd.nextBytes(header);
        rnd.nextBytes(data);
        Crc32cShift shift = new Crc32cShift(block);
        CRC32C c = new CRC32C();
        c.update(header);
        int chained = (int) c.getValue();
        for (int i = 0; i < 64; i++) {
            chained = shift.combine(chained, crc(data, i * block, block));
        }
        c.update(data);
        assertEquals((int) c.getValue(), chained);
        data[5 * block + 17] ^= 1;
        int again = crc(header, 0, header.length);
        for (int i = 0; i < 64; i++) {
            again = shift.combine(again, crc(data, i * block, block));
        }
        assertNotEquals(chained, again, "a flipped bit in one block changes the chained CRC");
    }

    @Test
    void refusesANegativeLength() {
        assertThrows(IllegalArgumentException.class, () -> new Crc32cShift(-1));
    }
}
