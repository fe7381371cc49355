package dev.varve.cli;

import dev.varve.engine.SnapshotInfo;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/** Snapshot, revert, clone: each an O(1) root swap and one commit in the engine. */
final class SnapshotCommands {
    private SnapshotCommands() {
    }

    @Command(name = "snapshot", description = {
        "Take a snapshot: VOLUME@SNAP, or with --group NAME, VOL... atomically (each becomes VOL@NAME).",
        "A property VALUE '@FILE' reads the value from a file (e.g. the VM's configuration)."})
    static final class Snapshot extends StoreCommand {
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "VOLUME@SNAP|VOL",
                description = "The snapshot to take, or with --group the volumes.")
        List<String> names = new ArrayList<>();

        @Option(names = "--group", paramLabel = "NAME", description = "Snapshot the volumes together, in one commit.")
        String group;

        @Option(names = {"--set", "-p"}, paramLabel = "KEY=VALUE", description = "A property of the snapshot.")
        List<String> properties = new ArrayList<>();

        @Override
        public Integer call() throws IOException {
            Map<String, String> props = new LinkedHashMap<>();
            for (String a : properties) {
                Map.Entry<String, String> kv = VolumeCommands.property(spec.commandLine(), a);
                props.put(kv.getKey(), kv.getValue());
            }
            if (group == null) {
                if (names.size() != 1) {
                    throw new ParameterException(spec.commandLine(),
                            "give one VOLUME@SNAP, or --group NAME with the volumes to snapshot together");
                }
                DeviceName n = name(new DeviceName.Snapshot(), names.get(0));
                SnapshotInfo i = either(false, s -> s.snapshot(n.volume(), n.snapshot(), props),
                        c -> c.snapshot(n.volume(), n.snapshot(), props));
                out().println("took snapshot " + i.fullName() + " (generation " + i.generation() + ")");
                return 0;
            }
            List<String> volumes = new ArrayList<>();
            for (String v : names) {
                volumes.add(name(new DeviceName.Volume(), v).volume());
            }
            List<SnapshotInfo> taken = either(false, s -> s.snapshotGroup(group, volumes, props),
                    c -> c.snapshotGroup(group, volumes, props));
            List<String> full = new ArrayList<>();
            for (SnapshotInfo i : taken) {
                full.add(i.fullName());
            }
            out().println("took group snapshot " + group + ": " + String.join(", ", full));
            return 0;
        }
    }

    @Command(name = "revert", description = "Make a volume's head its snapshot again (or a group's volumes, with"
            + " --group); every snapshot stays, later ones too.")
    static final class Revert extends StoreCommand {
        @Parameters(index = "1", arity = "0..1", paramLabel = "VOLUME@SNAP", converter = DeviceName.Snapshot.class)
        DeviceName target;

        @Option(names = "--keep-current", paramLabel = "NAME",
                description = "First snapshot the current state as VOLUME@NAME.")
        String keepCurrent;

        @Option(names = "--group", paramLabel = "NAME", description = "Revert every volume of a group snapshot.")
        String group;

        @Option(names = "--volume", paramLabel = "VOLUME", converter = DeviceName.Volume.class,
                description = "Revert this volume instead of the snapshot's own, e.g. a clone to a snapshot it was"
                        + " cloned from.")
        DeviceName volume;

        @Option(names = "--force", description = "While 'varve serve' holds the store: disconnect the NBD clients of"
                + " the volume first (without it, a revert under connected clients is refused).")
        boolean force;

        @Override
        public Integer call() throws IOException {
            if ((target == null) == (group == null)) {
                throw new ParameterException(spec.commandLine(), "give either VOLUME@SNAP or --group NAME");
            }
            if (group != null && (keepCurrent != null || volume != null)) {
                throw new ParameterException(spec.commandLine(), "--group reverts each volume to its own snapshot;"
                        + " --keep-current and --volume work on one volume");
            }
            if (group != null) {
                either(false, s -> {
                    s.revertGroup(group);
                    return null;
                }, c -> {
                    c.revertGroup(group, force);
                    return null;
                });
                out().println("reverted the volumes of group " + group);
                return 0;
            }
            String vol = volume == null ? target.volume() : volume.volume();
            // "VOL@SNAP" lets the engine find a snapshot on another line (a clone's origin)
            String snap = volume == null ? target.snapshot() : target.toString();
            either(false, s -> {
                s.revert(vol, snap, keepCurrent);
                return null;
            }, c -> c.revert(vol, snap, keepCurrent, force));
            out().println("reverted " + vol + " to " + target
                    + (keepCurrent == null ? "" : "; its state before is snapshot " + vol + "@" + keepCurrent));
            return 0;
        }
    }

    @Command(name = "clone", description = "Make a new writable volume on a snapshot; no data is copied.")
    static final class Clone extends StoreCommand {
        @Parameters(index = "1", paramLabel = "VOLUME@SNAP", converter = DeviceName.Snapshot.class)
        DeviceName source;

        @Parameters(index = "2", paramLabel = "NEWVOLUME", converter = DeviceName.Volume.class)
        DeviceName newVolume;

        @Override
        public Integer call() throws IOException {
            either(false, s -> s.clone(source.volume(), source.snapshot(), newVolume.volume()),
                    c -> c.clone(source.volume(), source.snapshot(), newVolume.volume()));
            out().println("cloned " + source + " as volume " + newVolume);
            return 0;
        }
    }
}
