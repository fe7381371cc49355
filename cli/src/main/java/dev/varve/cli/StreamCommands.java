package dev.varve.cli;

import dev.varve.engine.ByteRange;
import dev.varve.engine.ReceiveOptions;
import dev.varve.engine.ReceiveResult;
import dev.varve.engine.SendResult;
import dev.varve.engine.Store;
import dev.varve.engine.StreamProgress;
import dev.varve.engine.stream.ResumeToken;
import dev.varve.nbd.control.ControlClient;
import dev.varve.nbd.control.Upload;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/** Changed-block diff, and send and receive streams between stores (and hosts, through a pipe). */
final class StreamCommands {
    private StreamCommands() {
    }

    @Command(name = "diff", description = {
        "The byte ranges that differ between two snapshots, or a snapshot and a volume head.",
        "Of one volume's snapshots, or of a clone and its origin: changed-block tracking read from the trees."})
    static final class Diff extends StoreCommand {
        @Parameters(index = "1", paramLabel = "FROM", converter = DeviceName.Any.class, description = "VOLUME@SNAP or VOLUME.")
        DeviceName from;

        @Parameters(index = "2", paramLabel = "TO", converter = DeviceName.Any.class, description = "VOLUME@SNAP or VOLUME.")
        DeviceName to;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Override
        public Integer call() throws IOException {
            ControlClient.Diff d = either(true, s -> new ControlClient.Diff(s.diff(from.toString(), to.toString()),
                    Math.max(s.device(from.toString()).size(), s.device(to.toString()).size())),
                    c -> c.diff(from.toString(), to.toString()));
            List<ByteRange> ranges = d.ranges();
            long size = d.size();
            long changed = 0;
            for (ByteRange r : ranges) {
                changed += r.length();
            }
            if (json) {
                List<Map<String, Long>> list = new ArrayList<>();
                for (ByteRange r : ranges) {
                    Map<String, Long> m = new LinkedHashMap<>();
                    m.put("offset", r.offset());
                    m.put("length", r.length());
                    list.add(m);
                }
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("from", from.toString());
                doc.put("to", to.toString());
                doc.put("changedBytes", changed);
                doc.put("ranges", list);
                Main.printJson(out(), doc);
                return 0;
            }
            if (!ranges.isEmpty()) {
                Table t = new Table("OFFSET", "LENGTH", "END");
                for (ByteRange r : ranges) {
                    t.row(r.offset(), r.length(), r.end());
                }
                t.print(out());
            }
            out().println(ranges.size() + (ranges.size() == 1 ? " range, " : " ranges, ") + ByteSize.format(changed)
                    + " changed between " + from + " and " + to + " (of " + ByteSize.format(size) + ")");
            return 0;
        }
    }

    @Command(name = "send", description = {
        "Write a snapshot as a stream (stdout or a file): whole, or with --from only what changed.",
        "--from names an earlier snapshot (the previous one: incremental; an older one: differential). Holes stay"
                + " holes; properties and the snapshot's identity travel with it.",
        "Pipe it into 'varve receive', also over ssh: varve send S vm@b --from vm@a | ssh host varve receive S2 vm"})
    static final class Send extends StoreCommand {
        @Parameters(index = "1", paramLabel = "VOLUME@SNAP", converter = DeviceName.Snapshot.class)
        DeviceName snapshot;

        @Option(names = "--from", paramLabel = "[VOLUME@]BASE", description = "Send only what changed since this"
                + " snapshot, which the receiver must have.")
        String from;

        @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write to FILE ('-': stdout, the default).")
        String output;

        @Option(names = {"-f", "--force"}, description = "Overwrite FILE if it exists.")
        boolean force;

        @Option(names = "--resume-token", paramLabel = "TOKEN", description = "Only what an interrupted receive lacks:"
                + " the token 'varve receive STORE VOLUME --token' prints there.")
        String token;

        @Option(names = {"-v", "--verbose"}, description = "Say what was sent, on stderr.")
        boolean verbose;

        @Override
        public Integer call() throws IOException {
            ResumeToken resume;
            try {
                resume = token == null ? null : ResumeToken.parse(token);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
            boolean stdout = output == null || output.equals("-");
            if (stdout && main.out == System.out && onTerminal()) {
                throw new Main.Failure("a send stream is binary and stdout is a terminal; pipe it into 'varve receive',"
                        + " redirect it, or give -o FILE");
            }
            Path file = stdout ? null : Path.of(output);
            if (file != null && Files.exists(file) && !force) {
                throw new Main.Failure(file + " exists; add --force to overwrite it");
            }
            String name = snapshot.toString();
            SendResult r = either(true, s -> {
                // the snapshot must exist before a file is made for it
                s.snapshotInfo(snapshot.volume(), snapshot.snapshot());
                return stream(file, (ch, os, progress) -> ch != null ? s.send(name, from, resume, ch, progress)
                        : s.send(name, from, resume, os, progress));
            }, c -> {
                c.device(name);
                // the server makes the stream and sends it through the control socket
                return stream(file, (ch, os, progress) -> c.send(name, from, resume,
                        ch != null ? Channels.newOutputStream(ch) : os, progress));
            });
            if (!stdout || verbose) {
                (stdout ? err() : out()).println("sent " + r.snapshot()
                        + (r.incremental() ? " (incremental from " + r.base() + ")" : " (full)")
                        + (resume == null ? "" : " from offset " + resume.offset())
                        + ": " + ByteSize.format(r.dataBytes()) + " of data, " + ByteSize.format(r.holeBytes())
                        + " of holes, a stream of " + ByteSize.format(r.streamBytes())
                        + (stdout ? "" : " in " + file));
            }
            return 0;
        }

        /** Opens FILE, or stdout when it is null, and sends into it; half a stream is not left in FILE. */
        private SendResult stream(Path file, Sender sender) throws IOException {
            boolean stdout = file == null;
            boolean done = false;
            // a file or the process's own stdout is written through a channel: data goes from
            // the read buffer to the file or pipe with no copy in between
            boolean rawStdout = stdout && main.out == System.out;
            WritableByteChannel ch = file != null
                    ? FileChannel.open(file, StandardOpenOption.CREATE,
                            StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)
                    : rawStdout ? new FileOutputStream(FileDescriptor.out).getChannel() : null;
            OutputStream os = ch == null ? main.out : null;
            try (LazyProgress progress = new LazyProgress(err(), "send " + snapshot)) {
                SendResult r;
                if (ch != null) {
                    main.out.flush();
                    r = sender.send(ch, null, progress);
                } else {
                    r = sender.send(null, os, progress);
                    os.flush();
                }
                if (stdout && main.out.checkError()) {
                    throw new Main.Failure("stdout was closed before the stream was complete");
                }
                done = true;
                return r;
            } finally {
                if (!stdout) {
                    ch.close();
                    if (!done) {
                        Files.deleteIfExists(file); // half a stream must not pass for a whole one
                    }
                }
            }
        }
    }

    /** Writes a send stream to a channel (a file, the process's stdout) or else a stream. */
    @FunctionalInterface
    private interface Sender {
        SendResult send(WritableByteChannel ch, OutputStream os, StreamProgress progress) throws IOException;
    }

    @Command(name = "receive", description = {
        "Receive a stream from 'varve send' into a volume, atomically.",
        "A full stream makes VOLUME; an incremental applies onto the snapshot it was made from. The snapshot appears"
                + " only once the whole stream has verified; a bad or cut-off stream leaves the store as it was.",
        "With -s an interrupted receive keeps what it got: --token prints where to resume from, --abort discards it.",
        "While 'varve serve' holds the store the stream goes through it; a receive into a volume NBD clients use is"
                + " refused (it would move the head under them): stop them first."})
    static final class Receive extends StoreCommand {
        @Parameters(index = "1", paramLabel = "VOLUME", converter = DeviceName.Volume.class)
        DeviceName volume;

        @Option(names = {"-i", "--input"}, paramLabel = "FILE", description = "Read from FILE ('-': stdin, the default).")
        String input;

        @Option(names = {"-F", "--force"}, description = "Discard changes the volume head has since its last snapshot"
                + " (an incremental moves the head to the received snapshot; every snapshot stays).")
        boolean force;

        @Option(names = {"-s", "--resumable"}, description = "If the stream is cut off, keep what was received so the"
                + " receive can resume.")
        boolean resumable;

        @Option(names = "--resume", description = "Continue an interrupted receive, from a stream made with"
                + " 'varve send ... --resume-token TOKEN'.")
        boolean resume;

        @Option(names = "--token", description = "Print the resume token of an interrupted receive into VOLUME.")
        boolean token;

        @Option(names = "--abort", description = "Discard an interrupted receive into VOLUME.")
        boolean abort;

        @Override
        public Integer call() throws IOException {
            if ((token || abort) && (token && abort || input != null || force || resumable || resume)) {
                throw new ParameterException(spec.commandLine(), "--token and --abort take no other option");
            }
            String name = volume.volume();
            if (token) {
                ResumeToken t = either(true, s -> s.receiveResumeToken(name), c -> c.receiveToken(name));
                if (t == null) {
                    throw new Main.Failure("no interrupted receive into " + name + " is pending in " + store);
                }
                out().println(t);
                return 0;
            }
            if (abort) {
                either(false, s -> {
                    s.abortReceive(name);
                    return null;
                }, c -> {
                    c.abortReceive(name);
                    return null;
                });
                out().println("discarded the interrupted receive into " + name);
                return 0;
            }
            boolean stdin = input == null || input.equals("-");
            ReceiveResult r = either(false, s -> {
                try (InputStream in = stdin ? main.in : Files.newInputStream(Path.of(input));
                     LazyProgress progress = new LazyProgress(err(), "receive " + name)) {
                    ReceiveOptions o = new ReceiveOptions(force, resumable, resume, progress);
                    return s.receive(in, name, o);
                } catch (IOException | RuntimeException e) {
                    hint(pending(() -> s.receiveResumeToken(name)), name);
                    throw e;
                }
            }, c -> {
                // the stream goes to the server a chunk at a time; it answers each, so a bad
                // stream stops the sending at once
                try (InputStream in = stdin ? main.in : Files.newInputStream(Path.of(input));
                     LazyProgress progress = new LazyProgress(err(), "receive " + name);
                     Upload u = c.receive(name, force, resumable, resume, progress)) {
                    byte[] buf = new byte[DataCommands.CHUNK];
                    long pos = 0;
                    int n;
                    while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
                        u.write(pos, buf, 0, n);
                        pos += n;
                    }
                    return u.finish(ReceiveResult.class);
                } catch (IOException | RuntimeException e) {
                    hint(pending(() -> c.receiveToken(name)), name);
                    throw e;
                }
            });
            out().println("received " + r.snapshot().fullName()
                    + (r.incremental() ? " (incremental onto " + r.base() + ")" : " (full)")
                    + (r.resumed() ? ", resumed" : "") + ": " + ByteSize.format(r.dataBytes()) + " of data, "
                    + ByteSize.format(r.holeBytes()) + " of holes, from a stream of "
                    + ByteSize.format(r.streamBytes()));
            return 0;
        }

        private void hint(ResumeToken t, String name) {
            if (t != null) {
                err().println("varve: what was received is kept; resume with 'varve send ... --resume-token "
                        + t + " | varve receive " + store + " " + name + " --resume', or discard it with"
                        + " --abort");
            }
        }

        @FunctionalInterface
        private interface TokenLookup {
            ResumeToken get() throws IOException;
        }

        /** The pending receive's token, or null (also when it cannot be asked for). */
        private static ResumeToken pending(TokenLookup lookup) {
            try {
                return lookup.get();
            } catch (IOException | RuntimeException e) {
                return null;
            }
        }
    }

    /** A console that is a terminal (JDK 22+ has a console even when redirected, so ask it). */
    private static boolean onTerminal() {
        java.io.Console c = System.console();
        if (c == null) {
            return false;
        }
        try {
            return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(c);
        } catch (ReflectiveOperationException e) {
            return true; // before JDK 22 a console exists only when stdin and stdout are terminals
        }
    }

    /** A progress bar that starts when the total is known (after the stream's header). */
    private static final class LazyProgress implements StreamProgress, AutoCloseable {
        private final PrintStream err;
        private final String task;
        private Progress bar;

        LazyProgress(PrintStream err, String task) {
            this.err = err;
            this.task = task;
        }

        @Override
        public void update(long doneBytes, long totalBytes) {
            if (bar == null) {
                bar = Progress.start(err, task, totalBytes);
            }
            bar.stepTo(doneBytes);
        }

        @Override
        public void close() {
            if (bar != null) {
                bar.close();
            }
        }
    }
}
