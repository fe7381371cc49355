package dev.varve.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

class ByteSizeTest {

    @Test
    void parsesBytesAndPowersOf1024() {
        assertEquals(4096, ByteSize.parse("4096"));
        assertEquals(512, ByteSize.parse("512B"));
        assertEquals(64L << 10, ByteSize.parse("64K"));
        assertEquals(64L << 10, ByteSize.parse("64k"));
        assertEquals(64L << 10, ByteSize.parse("64KiB"));
        assertEquals(64L << 10, ByteSize.parse("64KB"));
        assertEquals(10L << 30, ByteSize.parse("10G"));
        assertEquals(3L << 40, ByteSize.parse("3T"));
        assertEquals(1L << 50, ByteSize.parse("1P"));
        assertEquals(3L << 19, ByteSize.parse("1.5M"));
        assertEquals(0, ByteSize.parse("0"));
    }

    @Test
    void rejectsWhatIsNotASize() {
        for (String bad : new String[] {"", "G", "10X", "-1", "1.5", "1e9", "10 GB extra", "0x10"}) {
            TypeConversionException e = assertThrows(TypeConversionException.class, () -> ByteSize.parse(bad), bad);
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
        assertThrows(TypeConversionException.class, () -> ByteSize.parse("9E"));
        assertThrows(TypeConversionException.class, () -> ByteSize.parse("100000P"));
    }

    @Test
    void formatsForPeople() {
        assertEquals("512 B", ByteSize.format(512));
        assertEquals("4.0 KiB", ByteSize.format(4096));
        assertEquals("10.0 GiB", ByteSize.format(10L << 30));
        assertEquals("1.5 MiB", ByteSize.format(3L << 19));
        assertEquals("8.0 EiB", ByteSize.format(Long.MAX_VALUE));
    }
}
