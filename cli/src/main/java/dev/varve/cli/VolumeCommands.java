package dev.varve.cli;

import dev.varve.engine.VolumeInfo;
import dev.varve.nbd.control.ControlClient;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/** Commands on named volumes and snapshots: create, resize, rename, destroy, get, set. */
final class VolumeCommands {
    private VolumeCommands() {
    }

    @Command(name = "create", description = "Create a thin volume: nothing is allocated until written.")
    static final class Create extends StoreCommand {
        @Parameters(index = "1", paramLabel = "VOLUME", converter = DeviceName.Volume.class, description = "Its name.")
        DeviceName volume;

        @Parameters(index = "2", arity = "0..1", paramLabel = "SIZE", converter = ByteSize.Converter.class,
                description = "Its size, if --size is not given.")
        Long sizeWord;

        @Option(names = {"-s", "--size"}, paramLabel = "SIZE", converter = ByteSize.Converter.class,
                description = "Logical size, e.g. 10G (a multiple of the block size).")
        Long size;

        @Option(names = {"-b", "--block-size"}, paramLabel = "N", converter = ByteSize.Converter.class,
                defaultValue = "4096", description = "Block size: a power of two from 512 to 64K (default ${DEFAULT-VALUE}).")
        long blockSize;

        @Override
        public Integer call() throws IOException {
            if ((size == null) == (sizeWord == null)) {
                throw new ParameterException(spec.commandLine(), size == null
                        ? "give the volume's size, e.g. --size 10G" : "give the size once, as --size or as a word");
            }
            long bytes = size != null ? size : sizeWord;
            int block = blockSize(spec.commandLine(), blockSize);
            either(false, s -> s.createVolume(volume.volume(), bytes, block),
                    c -> c.create(volume.volume(), bytes, block));
            out().println("created volume " + volume + ": " + ByteSize.format(bytes) + ", " + block
                    + "-byte blocks, thin (nothing allocated until written)");
            return 0;
        }
    }

    static int blockSize(picocli.CommandLine cmd, long blockSize) {
        if (blockSize < 512 || blockSize > 65536 || Long.bitCount(blockSize) != 1) {
            throw new ParameterException(cmd, "block size " + blockSize + " is not a power of two from 512 to 64K");
        }
        return (int) blockSize;
    }

    @Command(name = "resize", description = {"Grow or shrink a volume; shrinking discards what lies past the new end.",
        "While 'varve serve' holds the store: NBD clients learn a size when they connect, so connected ones go on with"
                + " the old size after a grow (they see the new one when they reconnect), and a shrink under them is"
                + " refused unless --force."})
    static final class Resize extends StoreCommand {
        @Parameters(index = "1", paramLabel = "VOLUME", converter = DeviceName.Volume.class)
        DeviceName volume;

        @Parameters(index = "2", paramLabel = "SIZE", converter = ByteSize.Converter.class, description = "The new size.")
        long size;

        @Option(names = "--force", description = "While 'varve serve' holds the store: shrink even though NBD clients"
                + " use the volume, disconnecting them first.")
        boolean force;

        @Override
        public Integer call() throws IOException {
            ControlClient.Resized r = either(false, s -> {
                long old = s.volumeInfo(volume.volume()).size();
                s.resizeVolume(volume.volume(), size);
                return new ControlClient.Resized(old, size, 0);
            }, c -> c.resize(volume.volume(), size, force));
            out().println("resized " + volume + ": " + ByteSize.format(r.oldSize()) + " -> " + ByteSize.format(size));
            if (r.clients() > 0) {
                err().println("varve: note: " + r.clients() + " NBD client" + (r.clients() == 1 ? "" : "s") + " of "
                        + volume + " still see" + (r.clients() == 1 ? "s " : " ") + ByteSize.format(r.oldSize())
                        + " until " + (r.clients() == 1 ? "it reconnects" : "they reconnect"));
            }
            return 0;
        }
    }

    @Command(name = "rename", description = {"Rename a volume, or a snapshot (NEW is a name or VOLUME@NAME).",
        "While 'varve serve' holds the store, renaming what NBD clients use is refused unless --force: they would go"
                + " on under the old name."})
    static final class Rename extends StoreCommand {
        @Parameters(index = "1", paramLabel = "OLD", converter = DeviceName.Any.class, description = "VOLUME or VOLUME@SNAP.")
        DeviceName old;

        @Parameters(index = "2", paramLabel = "NEW", description = "The new name.")
        String newName;

        @Option(names = "--force", description = "While 'varve serve' holds the store: rename, then disconnect the NBD"
                + " clients of the old name (a volume's: of its snapshots too); they reconnect under the new one.")
        boolean force;

        @Override
        public Integer call() throws IOException {
            String to = newName;
            if (old.isSnapshot() && to.indexOf('@') >= 0) {
                DeviceName n = name(new DeviceName.Snapshot(), to);
                if (!n.volume().equals(old.volume())) {
                    throw new Main.Failure("a snapshot stays on its volume: rename " + old + " to " + old.volume()
                            + "@NAME; to make a new volume from it use 'varve clone'");
                }
                to = n.snapshot();
            }
            String bare = to;
            either(false, s -> {
                if (old.isSnapshot()) {
                    s.renameSnapshot(old.volume(), old.snapshot(), bare);
                } else {
                    s.renameVolume(old.volume(), bare);
                }
                return null;
            }, c -> {
                c.rename(old.toString(), bare, force);
                return null;
            });
            out().println("renamed " + old + " to " + (old.isSnapshot() ? old.volume() + "@" + to : to));
            return 0;
        }
    }

    @Command(name = "destroy", description = "Destroy a snapshot, or a volume (with --recursive, its snapshots too).")
    static final class Destroy extends StoreCommand {
        @Parameters(index = "1", paramLabel = "VOLUME[@SNAP]", converter = DeviceName.Any.class)
        DeviceName target;

        @Option(names = {"-r", "--recursive"}, description = "Destroy a volume's snapshots with it.")
        boolean recursive;

        @Option(names = "--force", description = "While 'varve serve' holds the store: disconnect the NBD clients of"
                + " what is destroyed first (without it, destroying what clients use is refused).")
        boolean force;

        @Override
        public Integer call() throws IOException {
            if (target.isSnapshot()) {
                either(false, s -> {
                    s.destroySnapshot(target.volume(), target.snapshot());
                    return null;
                }, c -> {
                    c.destroy(target.toString(), false, force);
                    return null;
                });
                out().println("destroyed snapshot " + target);
                return 0;
            }
            int snaps = either(false, s -> {
                int n = s.volumeInfo(target.volume()).snapshotCount();
                s.destroyVolume(target.volume(), recursive);
                return n;
            }, c -> {
                // an unknown volume counts 0 here; the server's destroy names the error
                int n = c.list().volumes().stream().filter(v -> v.name().equals(target.volume()))
                        .mapToInt(VolumeInfo::snapshotCount).sum();
                c.destroy(target.volume(), recursive, force);
                return n;
            });
            out().println("destroyed volume " + target + (snaps > 0 ? " and its " + snaps + " snapshot(s)" : ""));
            return 0;
        }
    }

    @Command(name = "get", description = "Print the properties of a volume or snapshot, or one property's value.")
    static final class Get extends StoreCommand {
        @Parameters(index = "1", paramLabel = "NAME", converter = DeviceName.Any.class, description = "VOLUME or VOLUME@SNAP.")
        DeviceName target;

        @Parameters(index = "2", arity = "0..1", paramLabel = "KEY",
                description = "Print only this property's value, as stored (e.g. to a file).")
        String key;

        @Option(names = "--json", description = "Print the properties as a JSON object.")
        boolean json;

        @Override
        public Integer call() throws IOException {
            Map<String, String> props = either(true, s -> s.properties(target.toString()),
                    c -> c.properties(target.toString()));
            if (key != null) {
                String v = props.get(key);
                if (v == null) {
                    throw new Main.Failure(target + " has no property '" + key + "'");
                }
                if (json) {
                    Main.printJson(out(), Map.of(key, v));
                } else {
                    out().print(v);
                    if (!v.endsWith("\n")) {
                        out().println();
                    }
                }
            } else if (json) {
                Main.printJson(out(), props);
            } else {
                for (Map.Entry<String, String> e : props.entrySet()) {
                    out().println(e.getKey() + "=" + oneLine(e.getValue()));
                }
            }
            return 0;
        }

        private static String oneLine(String v) {
            int nl = v.indexOf('\n');
            if (nl < 0 || (nl == v.length() - 1)) {
                return v.strip();
            }
            return v.substring(0, nl) + " ... (" + v.length() + " characters; 'varve get STORE NAME KEY' prints it all)";
        }
    }

    @Command(name = "set", description = "Set properties of a volume or snapshot. VALUE '@FILE' reads the value from a"
            + " file; '@@' starts a value with a literal '@'.")
    static final class Set extends StoreCommand {
        @Parameters(index = "1", paramLabel = "NAME", converter = DeviceName.Any.class, description = "VOLUME or VOLUME@SNAP.")
        DeviceName target;

        @Parameters(index = "2..*", arity = "0..*", paramLabel = "KEY=VALUE")
        List<String> assignments = new ArrayList<>();

        @Option(names = "--unset", paramLabel = "KEY", description = "Remove a property.")
        List<String> unset = new ArrayList<>();

        @Override
        public Integer call() throws IOException {
            if (assignments.isEmpty() && unset.isEmpty()) {
                throw new ParameterException(spec.commandLine(), "give at least one KEY=VALUE or --unset KEY");
            }
            Map<String, String> props = new LinkedHashMap<>();
            for (String a : assignments) {
                Map.Entry<String, String> kv = property(spec.commandLine(), a);
                props.put(kv.getKey(), kv.getValue());
            }
            either(false, s -> {
                for (Map.Entry<String, String> kv : props.entrySet()) {
                    s.setProperty(target.toString(), kv.getKey(), kv.getValue());
                }
                for (String k : unset) {
                    s.setProperty(target.toString(), k, null);
                }
                return null;
            }, c -> c.setProperties(target.toString(), props, unset));
            out().println("set " + props.size() + " and removed " + unset.size() + " propert"
                    + (props.size() + unset.size() == 1 ? "y" : "ies") + " of " + target);
            return 0;
        }
    }

    /** {@code KEY=VALUE}, {@code KEY=@FILE} (the file's text), {@code KEY=@@...} (a literal '@'). */
    static Map.Entry<String, String> property(picocli.CommandLine cmd, String assignment) throws IOException {
        int eq = assignment.indexOf('=');
        if (eq <= 0) {
            throw new ParameterException(cmd, "'" + assignment + "' is not KEY=VALUE");
        }
        String key = assignment.substring(0, eq);
        String value = assignment.substring(eq + 1);
        if (value.startsWith("@@")) {
            value = value.substring(1);
        } else if (value.startsWith("@")) {
            Path file = Path.of(value.substring(1));
            try {
                value = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(Files.readAllBytes(file)))
                        .toString();
            } catch (CharacterCodingException e) {
                throw new Main.Failure(file + " is not UTF-8 text; a property holds text (a VM's config, notes)");
            }
        }
        return Map.entry(key, value);
    }
}
