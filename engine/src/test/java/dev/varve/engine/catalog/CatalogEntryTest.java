package dev.varve.engine.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.varve.engine.btree.TreePointer;
import java.util.Arrays;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class CatalogEntryTest {
    private static CatalogEntry snapshot() {
        CatalogEntry e = new CatalogEntry(42, CatalogEntry.SNAPSHOT);
        e.name = "nightly";
        e.group = "g1";
        e.size = 1L << 30;
        e.blockSize = 4096;
        e.created = 1_700_000_000_000L;
        e.root = new TreePointer(1234, 5678, 90);
        e.parent = 7;
        e.origin = 3;
        e.generation = 91;
        e.lineage = 3;
        e.unmapGeneration = 80;
        return e;
    }

    @Test
    void everyFieldSurvivesARoundTrip() {
        byte[] b = snapshot().encode();
        CatalogEntry d = CatalogEntry.decode(42, new UnsafeBuffer(b), 0, b.length);
        assertEquals("nightly", d.name);
        assertEquals("g1", d.group);
        assertEquals(new TreePointer(1234, 5678, 90), d.root);
        assertEquals(91, d.generation);
        assertEquals(7, d.parent);
        assertEquals(80, d.unmapGeneration);
    }

    /** An entry written before the unmap generation existed ends after its group: unknown, never 0. */
    @Test
    void anEntryWithoutAnUnmapGenerationReadsAsUnknown() {
        byte[] b = snapshot().encode();
        byte[] old = Arrays.copyOf(b, b.length - 8);
        CatalogEntry d = CatalogEntry.decode(42, new UnsafeBuffer(old), 0, old.length);
        assertEquals("g1", d.group);
        assertEquals(CatalogEntry.UNMAP_UNKNOWN, d.unmapGeneration);
        // and one inside a larger buffer reads only its own bytes
        byte[] framed = new byte[old.length + 16];
        System.arraycopy(old, 0, framed, 4, old.length);
        Arrays.fill(framed, 4 + old.length, framed.length, (byte) 0);
        assertEquals(CatalogEntry.UNMAP_UNKNOWN, CatalogEntry.decode(42, new UnsafeBuffer(framed), 4, old.length).unmapGeneration);
    }
}
