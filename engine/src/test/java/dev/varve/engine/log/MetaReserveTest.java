package dev.varve.engine.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.varve.engine.OutOfSpaceException;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.io.CrashableStorage;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Under a segment cap, data segments stop one short of it: the last segment is the metadata
 * log's, so a store whose data filled it can still roll its meta head and commit a destroy.
 */
class MetaReserveTest {
    @Test
    void dataNeverTakesTheMetadataLogsLastSegment() throws Exception {
        CrashableStorage disk = new CrashableStorage(Path.of("/mem/reserve"));
        disk.createRoot();
        Log log = new Log(disk, 1, 2, 1 << 20, 1);
        log.setSegmentLimit(8);
        log.createSegment(SegmentLayout.KIND_META);
        for (int i = 0; i < 8 - 1 - Log.META_RESERVE; i++) {
            log.createSegment(SegmentLayout.KIND_DATA);
        }
        assertEquals(8 - Log.META_RESERVE, log.segmentCount());
        OutOfSpaceException data = assertThrows(OutOfSpaceException.class,
                () -> log.createSegment(SegmentLayout.KIND_DATA), "a data segment in the metadata log's reserve");
        assertEquals(8 - Log.META_RESERVE, log.segmentCount(), "the refused segment is not counted: " + data);
        for (int i = 0; i < Log.META_RESERVE; i++) {
            log.createSegment(SegmentLayout.KIND_META);
        }
        assertEquals(8, log.segmentCount());
        assertThrows(OutOfSpaceException.class, () -> log.createSegment(SegmentLayout.KIND_META), "past the cap");
        log.close();
    }
}
