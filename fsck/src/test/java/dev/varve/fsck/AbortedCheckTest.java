package dev.varve.fsck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import dev.varve.engine.io.CrashableStorage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A storage that fails to read mid-check: exit 8 and a message that says so, never a finding of damage. */
class AbortedCheckTest {
    private static CrashableStorage store() throws IOException {
        CrashableStorage d = new CrashableStorage(Disk.ROOT);
        try (Store s = Store.create(Disk.ROOT, Stores.options(d))) {
            Volume v = s.createVolume("vm1", 4L << 20);
            byte[] b = new byte[8192];
            for (int i = 0; i < 40; i++) {
                b[0] = (byte) i;
                v.write(8192L * 3 * i, b, 0, b.length);
                if (i == 20) {
                    s.snapshot("vm1", "s1", Map.of("note", "half"));
                }
            }
            s.flush();
            v.write(0, b, 0, 4096); // pending in an intent record
            s.flush();
        }
        return d;
    }

    @Test
    void everyFailedReadAbortsTheCheckWithExit8() throws IOException {
        CrashableStorage base = store();
        CrashableStorage probe = Disk.copy(base);
        long before = probe.operations(CrashableStorage.Op.READ);
        Report clean = Fsck.check(probe, false);
        assertEquals(0, clean.exitCode(), clean.summary());
        long reads = probe.operations(CrashableStorage.Op.READ) - before;
        assertTrue(reads > 10, reads + " reads");
        List<String> wrong = new ArrayList<>();
        for (long n = 1; n <= reads; n++) {
            for (boolean forever : new boolean[] {false, true}) {
                CrashableStorage d = Disk.copy(base);
                d.failAt(CrashableStorage.Op.READ, n, forever, false);
                Report r = Fsck.check(d, false);
                Problem p = r.problems().stream().filter(x -> x.kind().equals("check-aborted")).findFirst().orElse(null);
                if (r.exitCode() != Report.EXIT_OPERATIONAL || !r.aborted() || p == null
                        || !p.message().contains("reading the store failed (simulated I/O error on READ")
                        || !p.message().contains("run fsck again")) {
                    wrong.add("read " + n + " of " + reads + (forever ? " and every one after it" : "") + " failed: exit "
                            + r.exitCode() + "\n" + r.summary());
                }
            }
        }
        assertTrue(wrong.isEmpty(), wrong.size() + " failed reads did not abort the check; the first:\n"
                + (wrong.isEmpty() ? "" : wrong.get(0)));
    }
}
