package dev.varve.cli;

import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.Store;
import dev.varve.engine.StoreInfo;
import dev.varve.engine.StoreLockedException;
import dev.varve.engine.VolumeInfo;
import dev.varve.fsck.Problem;
import dev.varve.fsck.Report;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Instant;
import java.util.ArrayList;
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
        @Override
        public Integer call() throws IOException {
            try (Store s = Store.create(store)) {
                out().println("created store " + s.directory());
            }
            return 0;
        }
    }

    @Command(name = "list", description = "List volumes and snapshots; --tree draws the snapshot tree.")
    static final class ListCommand extends StoreCommand {
        @Option(names = "--tree", description = "Draw the snapshot tree, with \"you are here\" for each volume.")
        boolean tree;

        @Option(names = "--json", description = "Print JSON (every field, exact byte counts).")
        boolean json;

        @Override
        public Integer call() throws IOException {
            List<VolumeInfo> volumes;
            List<SnapshotInfo> snapshots;
            try (Store s = openReadOnly()) {
                volumes = s.volumes();
                snapshots = s.snapshots();
            }
            if (json) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("volumes", volumes.stream().map(StoreCommands::volumeJson).toList());
                doc.put("snapshots", snapshots.stream().map(StoreCommands::snapshotJson).toList());
                Main.printJson(out(), doc);
            } else if (tree) {
                if (volumes.isEmpty() && snapshots.isEmpty()) {
                    out().println("no volumes; create one with 'varve create " + store + " NAME --size 10G'");
                }
                new SnapshotTree(volumes, snapshots).print(out());
            } else {
                printTables(volumes, snapshots);
            }
            return 0;
        }

        private void printTables(List<VolumeInfo> volumes, List<SnapshotInfo> snapshots) {
            if (volumes.isEmpty()) {
                out().println("no volumes; create one with 'varve create " + store + " NAME --size 10G'");
                return;
            }
            Table v = new Table("VOLUME", "SIZE", "BLOCK", "SNAPSHOTS", "AT", "ORIGIN");
            for (VolumeInfo i : volumes) {
                v.row(i.name(), ByteSize.format(i.size()), i.blockSize(), i.snapshotCount(), i.position(), i.origin());
            }
            v.print(out());
            if (!snapshots.isEmpty()) {
                out().println();
                Table t = new Table("SNAPSHOT", "CREATED", "SIZE", "PARENT", "GROUP");
                for (SnapshotInfo i : snapshots) {
                    t.row(i.fullName(), SnapshotTree.time(i.createdMillis()), ByteSize.format(i.size()), i.parent(),
                            i.group());
                }
                t.print(out());
            }
        }
    }

    static Map<String, Object> volumeJson(VolumeInfo v) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", v.name());
        m.put("size", v.size());
        m.put("blockSize", v.blockSize());
        m.put("created", Instant.ofEpochMilli(v.createdMillis()).toString());
        m.put("origin", v.origin());
        m.put("position", v.position());
        m.put("snapshotCount", v.snapshotCount());
        m.put("properties", v.properties());
        return m;
    }

    static Map<String, Object> snapshotJson(SnapshotInfo s) {
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
        m.put("properties", s.properties());
        return m;
    }

    @Command(name = "info", description = "Segments, bytes on disk, volumes and snapshots of a store.")
    static final class Info extends StoreCommand {
        @Option(names = "--json", description = "Print JSON (exact byte counts).")
        boolean json;

        @Override
        public Integer call() throws IOException {
            StoreInfo i;
            try (Store s = openReadOnly()) {
                i = s.info();
            }
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("directory", i.directory().toString());
                m.put("formatVersion", i.formatVersion());
                m.put("generation", i.generation());
                m.put("segmentSize", i.segmentSize());
                m.put("segmentCount", i.segmentCount());
                m.put("bytesOnDisk", i.bytesOnDisk());
                m.put("volumeCount", i.volumeCount());
                m.put("snapshotCount", i.snapshotCount());
                m.put("logicalBytes", i.logicalBytes());
                Main.printJson(out(), m);
                return 0;
            }
            out().println("store       " + i.directory());
            out().println("format      " + i.formatVersion());
            out().println("generation  " + i.generation());
            out().println("segments    " + i.segmentCount() + " of " + ByteSize.format(i.segmentSize()));
            out().println("on disk     " + ByteSize.format(i.bytesOnDisk()) + " (" + i.bytesOnDisk() + " bytes)");
            out().println("volumes     " + i.volumeCount() + ", " + ByteSize.format(i.logicalBytes()) + " logical");
            out().println("snapshots   " + i.snapshotCount());
            return 0;
        }
    }

    /** Exit codes as e2fsck's: 0 clean, 4 errors left, 8 operational error, 16 usage. */
    @Command(name = "fsck", exitCodeOnInvalidInput = Report.EXIT_USAGE,
            exitCodeOnExecutionException = Report.EXIT_OPERATIONAL,
            description = "Check a store that no process has open; exit 0 clean, 4 errors found, 8 could not"
                    + " check, 16 usage.")
    static final class FsckCommand extends StoreCommand {
        @Option(names = "--fast", description = "Skip data blocks' checksums (metadata only).")
        boolean fast;

        @Option(names = "--json", description = "Print the report as JSON.")
        boolean json;

        @Override
        public Integer call() throws IOException {
            if (!Files.isDirectory(store) || !Store.isStore(store)) {
                throw new Main.Failure(store + " is not a Varve store", Report.EXIT_OPERATIONAL);
            }
            refuseIfOpenElsewhere();
            Report r = dev.varve.fsck.Fsck.check(store, fast);
            if (json) {
                Main.printJson(out(), reportJson(r));
            } else {
                out().print(r.summary());
                out().println(r.clean() ? store + ": clean" : store + ": " + r.errors() + " error(s); the store is damaged");
            }
            return r.exitCode();
        }

        /** The check reads files another process may be appending to; take the lock to be sure none is. */
        private void refuseIfOpenElsewhere() throws IOException {
            try {
                openReadOnly().close();
            } catch (StoreLockedException e) {
                throw new Main.Failure(e.getMessage(), Report.EXIT_OPERATIONAL);
            } catch (IOException | RuntimeException e) {
                // a store that does not open is exactly what the check is for
            }
        }

        private Map<String, Object> reportJson(Report r) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("store", store.toString());
            m.put("clean", r.clean());
            m.put("exitCode", r.exitCode());
            m.put("fast", fast);
            m.put("errors", r.errors());
            m.put("warnings", r.problems().size() - r.errors());
            m.put("generation", r.lastGeneration());
            m.put("volumes", r.volumes());
            m.put("snapshots", r.snapshots());
            m.put("metaRecords", r.metaRecords());
            m.put("treeNodes", r.treeNodes());
            m.put("extents", r.extents());
            m.put("dataBlocks", r.dataBlocks());
            List<Map<String, Object>> problems = new ArrayList<>();
            for (Problem p : r.problems()) {
                Map<String, Object> pm = new LinkedHashMap<>();
                pm.put("severity", p.severity().name());
                pm.put("kind", p.kind());
                pm.put("segment", p.segment());
                pm.put("offset", p.offset());
                pm.put("message", p.message());
                pm.put("affected", p.affected());
                problems.add(pm);
            }
            m.put("problems", problems);
            return m;
        }
    }
}
