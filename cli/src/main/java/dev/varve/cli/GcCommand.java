package dev.varve.cli;

import dev.varve.engine.GcReport;
import dev.varve.engine.Store;
import dev.varve.nbd.control.ControlClient;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * {@code varve gc}: collect now, in this process or in the server that holds the store; or
 * pause and resume a running server's background collector.
 */
@Command(name = "gc", description = {
    "Give back the space of overwritten data and of destroyed snapshots and volumes now: compact mostly-empty"
        + " segments and delete the dead ones.",
    "While 'varve serve' holds the store, the server collects (its clients stay connected); --pause and --resume"
        + " switch its background collector."})
final class GcCommand extends StoreCommand {
    @ArgGroup(exclusive = true)
    Collector collector;

    /** --pause or --resume: one at most. */
    static final class Collector {
        @Option(names = "--pause", required = true,
                description = "Stop the running server's background collector (a pass under way finishes).")
        boolean pause;

        @Option(names = "--resume", required = true, description = "Let the running server's background collector"
                + " run again.")
        boolean resume;
    }

    @Option(names = "--victim-utilization", paramLabel = "X",
            description = "Compact segments whose live share is below X (0 to 1; default 0.75)."
                    + " Higher gives back more space and moves more data.")
    Double victimUtilization;

    @Option(names = "--json", description = "Print JSON (exact byte counts).")
    boolean json;

    @Override
    public Integer call() throws IOException {
        if (collector != null) {
            if (victimUtilization != null) {
                throw new ParameterException(spec.commandLine(), "--victim-utilization is for a collection, not for"
                        + " --pause or --resume");
            }
            return switchCollector(collector.pause);
        }
        if (victimUtilization != null && !(victimUtilization >= 0 && victimUtilization <= 1)) {
            throw new ParameterException(spec.commandLine(), "--victim-utilization " + victimUtilization
                    + " is not between 0 and 1");
        }
        Double u = victimUtilization;
        GcReport r = either(false, s -> u == null ? s.gc() : s.gc(u), c -> u == null ? c.gc() : c.gc(u));
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("store", store.toString());
            m.put("segmentsBefore", r.segmentsBefore());
            m.put("segmentsAfter", r.segmentsAfter());
            m.put("segmentsDeleted", r.segmentsDeleted());
            m.put("bytesBefore", r.bytesBefore());
            m.put("bytesAfter", r.bytesAfter());
            m.put("bytesReclaimed", r.bytesReclaimed());
            m.put("bytesMoved", r.bytesMoved());
            m.put("liveBytes", r.liveBytes());
            m.put("millis", r.millis());
            Main.printJson(out(), m);
            return 0;
        }
        out().println("reclaimed   " + ByteSize.format(r.bytesReclaimed()) + " in "
                + String.format(Locale.ROOT, "%.1f", r.millis() / 1000.0) + " s");
        out().println("on disk     " + ByteSize.format(r.bytesBefore()) + " -> " + ByteSize.format(r.bytesAfter()));
        out().println("segments    " + r.segmentsBefore() + " -> " + r.segmentsAfter() + " (" + r.segmentsDeleted()
                + " deleted)");
        out().println("moved       " + ByteSize.format(r.bytesMoved()) + " of live data out of emptied segments");
        out().println("live        " + ByteSize.format(r.liveBytes()));
        return 0;
    }

    /** The background collector runs only inside the process that has the store open: a server. */
    private int switchCollector(boolean pause) throws IOException {
        if (!Store.isStore(store)) {
            throw new Main.Failure(store + " is not a Varve store");
        }
        boolean wasPaused;
        try (ControlClient c = ControlClient.connect(store)) {
            if (c == null) {
                throw new Main.Failure("no server is running; the background collector only runs while the store is"
                        + " open (in 'varve serve')");
            }
            wasPaused = pause ? c.gcPause() : c.gcResume();
        }
        String state = pause ? "paused" : "running";
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("store", store.toString());
            m.put("collector", state);
            m.put("wasPaused", wasPaused);
            Main.printJson(out(), m);
        } else if (wasPaused == pause) {
            out().println("the background collector of " + store + " was already " + state);
        } else {
            out().println((pause ? "paused" : "resumed") + " the background collector of " + store
                    + (pause ? "; 'varve gc " + store + " --resume' starts it again" : ""));
        }
        return 0;
    }
}
