package dev.varve.cli;

import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.SpaceInfo;
import dev.varve.engine.SpaceSummary;
import dev.varve.engine.Store;
import dev.varve.engine.StoreInfo;
import dev.varve.engine.StoreLockedException;
import dev.varve.engine.VolumeInfo;
import dev.varve.fsck.Problem;
import dev.varve.fsck.Report;
import dev.varve.nbd.control.ControlClient;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Commands about the store as a whole: init, list, info, fsck. */
final class StoreCommands {
    private StoreCommands() {
    }

    @Command(name = "init", description = "Create an empty store (a new or empty directory).")
    static final class Init extends StoreCommand {
        @Option(names = "--max-size", paramLabel = "SIZE", converter = ByteSize.Converter.class,
                description = "Cap the store's files at SIZE (kept in the store; see 'varve limit').")
        Long maxSize;

        @Override
        public Integer call() throws IOException {
            try (Store s = Store.create(store)) {
                if (maxSize != null) {
                    s.setMaxSize(maxSize);
                }
                out().println("created store " + s.directory()
                        + (maxSize != null ? ", limited to " + ByteSize.format(s.maxSize()) : ""));
            }
            return 0;
        }
    }

    @Command(name = "limit", description = "Show or set the store's size limit (SIZE, or 'none' to remove it). Writers"
            + " are slowed near it and refused at it, less a reserve kept for snapshots, destroy and gc.")
    static final class Limit extends StoreCommand {
        @picocli.CommandLine.Parameters(index = "1", arity = "0..1", paramLabel = "SIZE|none",
                description = "The new limit (K/M/G/T/P), or 'none'.")
        String size;

        @Override
        public Integer call() throws IOException {
            Long bytes = size == null ? null : size.equals("none") ? 0L : ByteSize.parse(size);
            long m = either(false, s -> {
                if (bytes != null) {
                    s.setMaxSize(bytes);
                }
                return s.maxSize();
            }, c -> c.limit(bytes));
            out().println(m == 0 ? "no size limit" : "limited to " + ByteSize.format(m) + " (" + m + " bytes)");
            return 0;
        }
    }

    @Command(name = "list", description = "List volumes and snapshots; --tree draws the snapshot tree.")
    static final class ListCommand extends StoreCommand {
        @Option(names = "--tree", description = "Draw the snapshot tree, with \"you are here\" for each volume.")
        boolean tree;

        @Option(names = "--json", description = "Print JSON (every field, exact byte counts).")
        boolean json;

        /** What is listed; {@code space} by name, empty when not asked for. */
        private record Listing(List<VolumeInfo> volumes, List<SnapshotInfo> snapshots, Map<String, SpaceInfo> space) {
        }

        @Override
        public Integer call() throws IOException {
            // the space columns walk every tree; the tree drawing does not show them
            boolean withSpace = json || !tree;
            Listing l = either(true,
                    s -> new Listing(s.volumes(), s.snapshots(), withSpace ? byName(s.space()) : Map.of()),
                    c -> {
                        ControlClient.Listing r = c.list();
                        return new Listing(r.volumes(), r.snapshots(), withSpace ? byName(c.space()) : Map.of());
                    });
            if (json) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("volumes", l.volumes().stream().map(v -> volumeJson(v, l.space().get(v.name()))).toList());
                doc.put("snapshots", l.snapshots().stream()
                        .map(i -> snapshotJson(i, l.space().get(i.fullName()))).toList());
                Main.printJson(out(), doc);
            } else if (tree) {
                if (l.volumes().isEmpty() && l.snapshots().isEmpty()) {
                    out().println("no volumes; create one with 'varve create " + store + " NAME --size 10G'");
                }
                new SnapshotTree(l.volumes(), l.snapshots()).print(out());
            } else {
                printTables(l);
            }
            return 0;
        }

        private static Map<String, SpaceInfo> byName(List<SpaceInfo> space) {
            Map<String, SpaceInfo> m = new HashMap<>();
            for (SpaceInfo i : space) {
                m.put(i.name(), i);
            }
            return m;
        }

        /** USED: data the map points at (shared or not); EXCL: what destroying it and collecting frees. */
        private void printTables(Listing l) {
            if (l.volumes().isEmpty()) {
                out().println("no volumes; create one with 'varve create " + store + " NAME --size 10G'");
                return;
            }
            Table v = new Table("VOLUME", "SIZE", "USED", "EXCL", "BLOCK", "SNAPSHOTS", "AT", "ORIGIN");
            for (VolumeInfo i : l.volumes()) {
                SpaceInfo sp = l.space().get(i.name());
                v.row(i.name(), ByteSize.format(i.size()), used(sp), exclusive(sp), i.blockSize(), i.snapshotCount(),
                        i.position(), i.origin());
            }
            v.print(out());
            if (!l.snapshots().isEmpty()) {
                out().println();
                Table t = new Table("SNAPSHOT", "CREATED", "SIZE", "USED", "EXCL", "PARENT", "GROUP");
                for (SnapshotInfo i : l.snapshots()) {
                    SpaceInfo sp = l.space().get(i.fullName());
                    t.row(i.fullName(), SnapshotTree.time(i.createdMillis()), ByteSize.format(i.size()), used(sp),
                            exclusive(sp), i.parent(), i.group());
                }
                t.print(out());
            }
        }

        private static String used(SpaceInfo sp) {
            return sp == null ? null : ByteSize.format(sp.referenced());
        }

        private static String exclusive(SpaceInfo sp) {
            return sp == null ? null : ByteSize.format(sp.exclusive());
        }
    }

    /** A volume as {@code list --json} shows it; {@code space} may be null (taken since the listing). */
    static Map<String, Object> volumeJson(VolumeInfo v, SpaceInfo space) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", v.name());
        m.put("size", v.size());
        m.put("blockSize", v.blockSize());
        m.put("created", Instant.ofEpochMilli(v.createdMillis()).toString());
        m.put("origin", v.origin());
        m.put("position", v.position());
        m.put("snapshotCount", v.snapshotCount());
        m.put("referenced", space == null ? null : space.referenced());
        m.put("exclusive", space == null ? null : space.exclusive());
        m.put("properties", v.properties());
        return m;
    }

    static Map<String, Object> snapshotJson(SnapshotInfo s, SpaceInfo space) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", s.fullName());
        m.put("volume", s.volume());
        m.put("snapshot", s.name());
        m.put("created", Instant.ofEpochMilli(s.createdMillis()).toString());
        m.put("generation", s.generation());
        m.put("size", s.size());
        m.put("blockSize", s.blockSize());
        m.put("parent", s.parent());
        m.put("children", s.children());
        m.put("group", s.group());
        m.put("referenced", space == null ? null : space.referenced());
        m.put("exclusive", space == null ? null : space.exclusive());
        m.put("properties", s.properties());
        return m;
    }

    @Command(name = "info", description = "Segments, bytes on disk, live data, garbage, what 'varve gc' would reclaim,"
            + " volumes and snapshots of a store.")
    static final class Info extends StoreCommand {
        @Option(names = "--json", description = "Print JSON (exact byte counts).")
        boolean json;

        private record Facts(StoreInfo store, SpaceSummary space) {
        }

        @Override
        public Integer call() throws IOException {
            Facts f = either(true, s -> new Facts(s.info(), s.spaceSummary()),
                    c -> new Facts(c.info().store(), c.spaceSummary()));
            StoreInfo i = f.store();
            SpaceSummary sp = f.space();
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                // the path as given: a server may know the store by another spelling of it
                m.put("directory", store.toString());
                m.put("formatVersion", i.formatVersion());
                m.put("generation", i.generation());
                m.put("segmentSize", i.segmentSize());
                m.put("segmentCount", i.segmentCount());
                m.put("bytesOnDisk", i.bytesOnDisk());
                m.put("liveBytes", sp.liveBytes());
                m.put("garbageBytes", sp.garbageBytes());
                m.put("reclaimableBytes", sp.reclaimable());
                m.put("volumeCount", i.volumeCount());
                m.put("snapshotCount", i.snapshotCount());
                m.put("logicalBytes", i.logicalBytes());
                Main.printJson(out(), m);
                return 0;
            }
            out().println("store       " + store);
            out().println("format      " + i.formatVersion());
            out().println("generation  " + i.generation());
            out().println("segments    " + i.segmentCount() + " of " + ByteSize.format(i.segmentSize()));
            out().println("on disk     " + ByteSize.format(i.bytesOnDisk()) + " (" + i.bytesOnDisk() + " bytes)");
            out().println("live        " + ByteSize.format(sp.liveBytes()));
            out().println("garbage     " + ByteSize.format(sp.garbageBytes()));
            out().println("reclaimable " + ByteSize.format(sp.reclaimable()) + " (what 'varve gc' would give back now)");
            out().println("volumes     " + i.volumeCount() + ", " + ByteSize.format(i.logicalBytes()) + " logical");
            out().println("snapshots   " + i.snapshotCount());
            return 0;
        }
    }

    /**
     * Exit codes as e2fsck's: 0 clean, 1 errors corrected, 4 errors left, 8 operational error,
     * 16 usage.
     */
    @Command(name = "fsck", exitCodeOnInvalidInput = Report.EXIT_USAGE,
            exitCodeOnExecutionException = Report.EXIT_OPERATIONAL,
            description = {"Check a store that no process has open: superblocks, every record, the chain of commits,"
                    + " every tree, every data block (not with --fast). Each problem names the volumes and snapshots,"
                    + " and the byte ranges of them, it affects.",
                "--repair goes back to the newest commit whose whole content verifies; --salvage keeps every volume"
                    + " and snapshot that verifies and drops only the damaged ones. Neither writes over a record;"
                    + " both say exactly what is lost.",
                "Exit 0 clean, 1 errors corrected, 4 errors left, 8 could not check, 16 usage."})
    static final class FsckCommand extends StoreCommand {
        @Option(names = "--fast", description = "Skip data blocks' checksums (metadata only).")
        boolean fast;

        @Option(names = "--json", description = "Print the report (and what a repair did and lost) as JSON.")
        boolean json;

        @Option(names = "--repair", description = "Go back to the newest commit whose whole content verifies.")
        boolean repair;

        @Option(names = "--salvage", description = "Repair keeping every volume and snapshot that verifies; a damaged"
                + " volume goes back to its nearest snapshot that verifies (implies --repair).")
        boolean salvage;

        @Override
        public Integer call() throws IOException {
            if (!looksLikeAStore()) {
                throw new Main.Failure(store + " is not a Varve store", Report.EXIT_OPERATIONAL);
            }
            return repair || salvage ? repair() : check();
        }

        /** A store for fsck: a directory with a superblock file, or segment files (its superblock may be gone). */
        private boolean looksLikeAStore() throws IOException {
            if (!Files.isDirectory(store)) {
                return false;
            }
            if (Store.isStore(store)) {
                return true;
            }
            try (var names = Files.list(store)) {
                return names.anyMatch(p -> dev.varve.engine.format.SegmentLayout.parseFileName(p.getFileName().toString()) > 0);
            }
        }

        private int check() throws IOException {
            var lock = dev.varve.fsck.Fsck.lockForCheck(store);
            if (lock == null) {
                throw new Main.Failure(openMessage(), Report.EXIT_OPERATIONAL);
            }
            Report r;
            try (lock; Bar bar = new Bar(err())) {
                r = dev.varve.fsck.Fsck.check(store, fast, bar);
            }
            if (json) {
                Map<String, Object> m = reportJson(r);
                m.put("store", store.toString());
                Main.printJson(out(), m);
            } else {
                out().print(r.summary());
                out().println(r.aborted() ? store + ": the check could not finish"
                        : r.clean() ? store + ": clean"
                        : store + ": " + r.errors() + " error(s); the store is damaged (varve fsck --repair, or --salvage)");
            }
            return r.exitCode();
        }

        private int repair() throws IOException {
            dev.varve.fsck.RepairResult rr;
            try (Bar bar = new Bar(err())) {
                rr = dev.varve.fsck.Fsck.repair(store, fast, salvage, bar);
            } catch (StoreLockedException e) {
                throw new Main.Failure(openMessage(), Report.EXIT_OPERATIONAL);
            }
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("store", store.toString());
                m.put("exitCode", rr.exitCode());
                m.put("repair", repairJson(rr));
                m.put("before", reportJson(rr.before()));
                m.put("after", reportJson(rr.after()));
                Main.printJson(out(), m);
                return rr.exitCode();
            }
            out().print(rr.before().summary());
            out().print(rr.summary());
            if (rr.performed()) {
                out().println("after the repair:");
                out().print(rr.after().summary());
            }
            out().println(switch (rr.exitCode()) {
                case Report.EXIT_CLEAN -> store + ": clean";
                case Report.EXIT_CORRECTED -> store + ": " + rr.before().errors() + " error(s) corrected";
                case Report.EXIT_OPERATIONAL -> store + ": the check could not finish";
                default -> store + ": " + rr.after().errors() + " error(s) left"
                        + (rr.salvage() ? "" : " (varve fsck --salvage keeps what verifies)");
            });
            return rr.exitCode();
        }

        private String openMessage() {
            String pid = dev.varve.fsck.Fsck.lockHolder(store);
            return store + " is open in another Varve process" + (pid == null || pid.isEmpty() ? "" : " (process " + pid + ")")
                    + "; close it (or stop the server) before running fsck";
        }

        private Map<String, Object> reportJson(Report r) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("clean", r.clean());
            m.put("exitCode", r.exitCode());
            m.put("aborted", r.aborted());
            m.put("fast", fast);
            m.put("errors", r.errors());
            m.put("warnings", r.warnings());
            m.put("generation", r.lastGeneration());
            m.put("volumes", r.volumes());
            m.put("snapshots", r.snapshots());
            m.put("metaRecords", r.metaRecords());
            m.put("metaBytes", r.metaBytes());
            m.put("treeNodes", r.treeNodes());
            m.put("extents", r.extents());
            m.put("dataBlocks", r.dataBlocks());
            m.put("dataBytes", r.dataBytes());
            m.put("unreachableRecords", r.unreachableRecords());
            Map<String, Object> unreferenced = new LinkedHashMap<>();
            r.unreferencedData().forEach((seg, bytes) -> unreferenced.put(Long.toString(seg), bytes));
            m.put("unreferencedDataBytes", r.unreferencedDataBytes());
            m.put("unreferencedDataBySegment", unreferenced);
            List<Map<String, Object>> space = new ArrayList<>();
            for (Report.Space sp : r.space()) {
                Map<String, Object> sm = new LinkedHashMap<>();
                sm.put("name", sp.name());
                sm.put("logicalBytes", sp.logical());
                sm.put("referencedBytes", sp.referenced());
                space.add(sm);
            }
            m.put("space", space);
            m.put("spaceCrossChecked", r.spaceCrossChecked());
            List<Map<String, Object>> problems = new ArrayList<>();
            for (Problem p : r.problems()) {
                Map<String, Object> pm = new LinkedHashMap<>();
                pm.put("severity", p.severity().name());
                pm.put("kind", p.kind());
                pm.put("segment", p.segment());
                pm.put("offset", p.offset());
                pm.put("message", p.message());
                pm.put("affected", p.affected());
                pm.put("ranges", rangesJson(p.ranges()));
                problems.add(pm);
            }
            m.put("problems", problems);
            return m;
        }

        private static Map<String, Object> repairJson(dev.varve.fsck.RepairResult rr) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("performed", rr.performed());
            m.put("salvage", rr.salvage());
            m.put("impossible", rr.impossible());
            m.put("fromGeneration", rr.fromGeneration());
            m.put("toGeneration", rr.toGeneration());
            m.put("newGeneration", rr.newGeneration());
            m.put("actions", rr.actions());
            List<Map<String, Object>> lost = new ArrayList<>();
            for (var l : rr.losses()) {
                Map<String, Object> lm = new LinkedHashMap<>();
                lm.put("name", l.name());
                lm.put("what", l.what());
                lm.put("ranges", rangesJson(l.ranges()));
                lost.add(lm);
            }
            m.put("lost", lost);
            return m;
        }

        private static List<Map<String, Object>> rangesJson(List<Problem.Affected> affected) {
            List<Map<String, Object>> ranges = new ArrayList<>();
            for (Problem.Affected a : affected) {
                Map<String, Object> am = new LinkedHashMap<>();
                am.put("name", a.name());
                am.put("fromByte", a.fromByte() < 0 ? null : a.fromByte());
                am.put("toByte", a.toByte() < 0 ? null : a.toByte());
                ranges.add(am);
            }
            return ranges;
        }

        /** The progress bar on a terminal (nothing otherwise), sized once fsck says how much it will read. */
        private static final class Bar implements dev.varve.fsck.Fsck.Listener, AutoCloseable {
            private final java.io.PrintStream err;
            private Progress progress;

            Bar(java.io.PrintStream err) {
                this.err = err;
            }

            @Override
            public void start(long totalBytes) {
                if (progress == null) {
                    progress = Progress.start(err, "fsck", totalBytes);
                }
            }

            @Override
            public void checked(long bytes) {
                if (progress != null) {
                    progress.stepTo(bytes);
                }
            }

            @Override
            public void close() {
                if (progress != null) {
                    progress.close();
                }
            }
        }
    }
}
