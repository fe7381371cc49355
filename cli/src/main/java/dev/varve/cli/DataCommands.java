package dev.varve.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.varve.engine.BlockDevice;
import dev.varve.engine.NoSuchVolumeException;
import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import dev.varve.nbd.control.ControlClient;
import dev.varve.nbd.control.Upload;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Moving bytes in and out: write, read, import, export. */
final class DataCommands {
    /** Bytes moved per read or write: large enough for sequential speed, a multiple of every block size. */
    static final int CHUNK = 1 << 20;
    /** mapAllocation is asked about this much at a time, so a fragmented volume's run list stays small. */
    private static final long MAP_WINDOW = 1L << 30;
    // an export through a running server gets the same block-aligned chunks of the same runs
    // (dev.varve.nbd.control.Transfers) and skips zero blocks here alike: the same image
    private static final byte[] ZEROS = new byte[CHUNK];

    private DataCommands() {
    }

    @Command(name = "write", description = "Write a file's bytes (or stdin's, with FILE '-' or none) into a volume.")
    static final class Write extends StoreCommand {
        @Parameters(index = "1", paramLabel = "VOLUME", converter = DeviceName.Volume.class)
        DeviceName volume;

        @Parameters(index = "2", arity = "0..1", paramLabel = "FILE", description = "The bytes to write; '-' or"
                + " none: stdin.")
        String file;

        @Option(names = "--offset", paramLabel = "N", converter = ByteSize.Converter.class, defaultValue = "0",
                description = "Where in the volume to start (default 0).")
        long offset;

        @Option(names = "--force", description = "While 'varve serve' holds the store: disconnect the volume's NBD"
                + " clients first (without it, writing to a volume clients use is refused).")
        boolean force;

        @Override
        public Integer call() throws IOException {
            boolean stdin = file == null || file.equals("-");
            Path path = stdin ? null : Path.of(file);
            long written = either(false, s -> {
                Volume v = s.volume(volume.volume());
                try {
                    long n = copy(stdin, path, v.size(), (pos, b, n1) -> v.write(pos, ByteBuffer.wrap(b, 0, n1)));
                    v.flush();
                    return n;
                } catch (Main.Failure f) {
                    v.flush(); // what was written stays
                    throw f;
                }
            }, c -> {
                // closed unfinished (a failure here), the server makes what it has durable, as above
                try (Upload u = c.write(volume.volume(), force)) {
                    long size = u.header(ControlClient.Device.class).size();
                    long n = copy(stdin, path, size, (pos, b, n1) -> u.write(pos, b, 0, n1));
                    u.finish(JsonNode.class);
                    return n;
                }
            });
            out().println("wrote " + written + " bytes to " + volume + " at offset " + offset);
            return 0;
        }

        /** Checks the input fits, then copies it a chunk at a time; returns the bytes written. */
        private long copy(boolean stdin, Path path, long size, ControlClient.Chunks to) throws IOException {
            if (offset > size) {
                throw new Main.Failure("offset " + offset + " is past the end of " + volume + " (" + size
                        + " bytes); nothing was written");
            }
            if (path != null && Files.size(path) > size - offset) {
                throw new Main.Failure(path + " is " + Files.size(path) + " bytes: at offset " + offset
                        + " it runs past the end of " + volume + " (" + size + " bytes); nothing was written");
            }
            long written = 0;
            try (InputStream in = stdin ? main.in : Files.newInputStream(path)) {
                byte[] buf = new byte[CHUNK];
                int n;
                while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
                    if (n > size - offset - written) {
                        throw new Main.Failure("the input runs past the end of " + volume + " (" + size
                                + " bytes); the first " + written + " bytes were written");
                    }
                    to.accept(offset + written, buf, n);
                    written += n;
                }
            }
            return written;
        }
    }

    @Command(name = "read", description = "Read bytes of a volume or snapshot to stdout (or a file).")
    static final class Read extends StoreCommand {
        @Parameters(index = "1", paramLabel = "VOLUME[@SNAP]", converter = DeviceName.Any.class)
        DeviceName device;

        @Option(names = "--offset", paramLabel = "N", converter = ByteSize.Converter.class, defaultValue = "0",
                description = "Where to start (default 0).")
        long offset;

        @Option(names = "--length", paramLabel = "N", converter = ByteSize.Converter.class,
                description = "How many bytes (default: to the end).")
        Long length;

        @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write to FILE instead of stdout.")
        Path output;

        /** Hands the bytes {@code [offset, offset + length)} of the device to {@code to}, in order. */
        @FunctionalInterface
        private interface Source {
            void read(long offset, long length, ControlClient.Chunks to) throws IOException;
        }

        @Override
        public Integer call() throws IOException {
            String name = device.toString();
            either(true, s -> {
                BlockDevice d = s.device(name);
                copy(d.size(), (off, len, to) -> {
                    byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(len, 1))];
                    for (long done = 0; done < len; ) {
                        int n = (int) Math.min(buf.length, len - done);
                        d.read(off + done, ByteBuffer.wrap(buf, 0, n));
                        to.accept(off + done, buf, n);
                        done += n;
                    }
                });
                return null;
            }, c -> {
                // the server streams the bytes: the same chunks, through the control socket
                copy(c.device(name).size(), (off, len, to) -> c.read(name, off, len, to));
                return null;
            });
            return 0;
        }

        private void copy(long size, Source source) throws IOException {
            if (offset > size) {
                throw new Main.Failure("offset " + offset + " is past the end of " + device + " (" + size
                        + " bytes)");
            }
            long len = length == null ? size - offset : length;
            if (len > size - offset) {
                throw new Main.Failure("offset " + offset + " plus length " + len + " runs past the end of "
                        + device + " (" + size + " bytes)");
            }
            OutputStream os = output == null ? main.out : Files.newOutputStream(output);
            try {
                long[] done = {0};
                source.read(offset, len, (pos, b, n) -> {
                    os.write(b, 0, n);
                    done[0] += n;
                    if (output == null && main.out.checkError()) {
                        // e.g. '| head': stop reading a large volume nobody is listening to
                        throw new Main.Failure("stdout was closed after " + done[0] + " bytes");
                    }
                });
                os.flush();
            } finally {
                if (output != null) {
                    os.close();
                }
            }
        }
    }

    @Command(name = "import", description = "Make a new volume from a raw image; all-zero blocks stay holes.")
    static final class Import extends StoreCommand {
        @Parameters(index = "1", paramLabel = "VOLUME", converter = DeviceName.Volume.class,
                description = "The new volume's name.")
        DeviceName volume;

        @Parameters(index = "2", paramLabel = "FILE", description = "A raw disk image.")
        Path file;

        @Option(names = {"-b", "--block-size"}, paramLabel = "N", converter = ByteSize.Converter.class,
                defaultValue = "4096", description = "Block size of the new volume (default ${DEFAULT-VALUE}).")
        long blockSize;

        @Override
        public Integer call() throws IOException {
            int block = VolumeCommands.blockSize(spec.commandLine(), blockSize);
            if (Files.isDirectory(file)) {
                throw new Main.Failure(file + " is a directory, not a disk image");
            }
            long fileSize = Files.size(file);
            if (fileSize == 0) {
                throw new Main.Failure(file + " is empty; a volume needs a size");
            }
            long size = (fileSize + block - 1) / block * block;
            String name = volume.volume();
            long data = either(false, s -> {
                try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
                    Volume v = s.createVolume(name, size, block);
                    boolean done = false;
                    try (Progress progress = Progress.start(err(), "import " + volume, fileSize)) {
                        long d = copyIn(in, fileSize, block, progress,
                                (pos, b, off, len) -> v.write(pos, ByteBuffer.wrap(b, off, len)));
                        v.flush();
                        done = true;
                        return d;
                    } finally {
                        if (!done) {
                            dropPartial(s, name);
                        }
                    }
                }
            }, c -> {
                try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
                    // the server makes the volume and keeps NBD clients off it until it is complete
                    Upload u = c.importVolume(name, size, block);
                    boolean done = false;
                    try (u; Progress progress = Progress.start(err(), "import " + volume, fileSize)) {
                        long d = copyIn(in, fileSize, block, progress, u::write);
                        u.finish(JsonNode.class);
                        done = true;
                        return d;
                    } finally {
                        if (!done) {
                            droppedByServer(c, name);
                        }
                    }
                }
            });
            out().println("imported " + file + " as " + volume + ": " + ByteSize.format(size) + ", "
                    + ByteSize.format(data) + " of data written, " + ByteSize.format(size - data)
                    + " of zero blocks left as holes");
            return 0;
        }

        /** Where the image's runs go: {@code b[off, off + len)} at {@code pos} of the new volume. */
        @FunctionalInterface
        private interface Runs {
            void write(long pos, byte[] b, int off, int len) throws IOException;
        }

        /** Copies the image's non-zero blocks, as runs; returns the bytes written. */
        private static long copyIn(FileChannel in, long fileSize, int block, Progress progress, Runs v)
                throws IOException {
            byte[] buf = new byte[CHUNK];
            long written = 0;
            for (long pos = 0; pos < fileSize; ) {
                int n = readFully(in, buf, pos, (int) Math.min(CHUNK, fileSize - pos));
                int runStart = -1;
                for (int b = 0; b < n; b += block) {
                    int end = Math.min(b + block, n);
                    boolean zero = isZero(buf, b, end);
                    if (!zero && runStart < 0) {
                        runStart = b;
                    } else if (zero && runStart >= 0) {
                        v.write(pos + runStart, buf, runStart, b - runStart);
                        written += b - runStart;
                        runStart = -1;
                    }
                }
                if (runStart >= 0) {
                    v.write(pos + runStart, buf, runStart, n - runStart);
                    written += n - runStart;
                }
                pos += n;
                progress.stepTo(pos);
            }
            return written;
        }

        private void dropPartial(Store s, String name) {
            try {
                s.destroyVolume(name, true);
                err().println("varve: the partly imported volume " + name + " was destroyed");
            } catch (IOException | RuntimeException e) {
                err().println("varve: could not destroy the partly imported volume " + name + ": " + Main.describe(e));
            }
        }

        /** After a failed import through a server, which destroys the partial volume itself: says whether it did. */
        private void droppedByServer(ControlClient c, String name) {
            try {
                c.device(name);
                err().println("varve: could not destroy the partly imported volume " + name + " (the output of 'varve"
                        + " serve' says why); 'varve destroy " + store + " " + name + "' removes it");
            } catch (NoSuchVolumeException e) {
                err().println("varve: the partly imported volume " + name + " was destroyed");
            } catch (IOException | RuntimeException e) {
                // the connection is gone: the server destroys the volume when it sees that
            }
        }
    }

    @Command(name = "export", description = "Write a volume or snapshot to a sparse raw image: unallocated and"
            + " all-zero ranges stay holes.")
    static final class Export extends StoreCommand {
        @Parameters(index = "1", paramLabel = "VOLUME[@SNAP]", converter = DeviceName.Any.class)
        DeviceName device;

        @Parameters(index = "2", paramLabel = "FILE", description = "The image to write.")
        Path file;

        @Option(names = {"-f", "--force"}, description = "Overwrite FILE if it exists.")
        boolean force;

        /** Fills the image (already sized, all holes) with the device's data; returns the bytes written. */
        @FunctionalInterface
        private interface Fill {
            long copy(FileChannel out, Progress progress) throws IOException;
        }

        @Override
        public Integer call() throws IOException {
            if (Files.exists(file) && !force) {
                throw new Main.Failure(file + " exists; add --force to overwrite it");
            }
            String name = device.toString();
            long[] sizeAndData = either(true, s -> {
                BlockDevice d = s.device(name);
                return image(d.size(), (ch, progress) -> copyOut(d, ch, progress));
            }, c -> {
                // the server sends the allocated runs in the chunks read here otherwise; the
                // zero blocks among them are skipped here, so the image is the same
                ControlClient.Device d = c.device(name);
                return image(d.size(), (ch, progress) -> {
                    long[] written = {0};
                    ControlClient.Device read = c.readAllocated(name,
                            (pos, b, n) -> written[0] += writeNonZero(ch, b, n, pos, d.blockSize()),
                            (done, total) -> progress.stepTo(done));
                    if (read.size() != d.size()) {
                        throw new Main.Failure(device + " was resized during the export; export it again");
                    }
                    return written[0];
                });
            });
            out().println("exported " + device + " to " + file + ": " + ByteSize.format(sizeAndData[0]) + ", "
                    + ByteSize.format(sizeAndData[1]) + " of data, the rest holes");
            return 0;
        }

        /** Writes the image: a file of holes, then the data; returns its size and the data bytes. */
        private long[] image(long size, Fill fill) throws IOException {
            boolean done = false;
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw");
                 Progress progress = Progress.start(err(), "export " + device, size)) {
                raf.setLength(0);
                raf.setLength(size); // a file of holes; only data is written into it
                long data = fill.copy(raf.getChannel(), progress);
                raf.getChannel().force(true);
                done = true;
                return new long[] {size, data};
            } finally {
                if (!done) {
                    Files.deleteIfExists(file); // half an image must not pass for a whole one
                }
            }
        }

        /** Copies the allocated runs, skipping all-zero blocks too; returns the bytes written. */
        private static long copyOut(BlockDevice d, FileChannel out, Progress progress) throws IOException {
            int block = d.blockSize();
            byte[] buf = new byte[CHUNK];
            long written = 0;
            for (long window = 0; window < d.size(); window += MAP_WINDOW) {
                List<long[]> runs = new ArrayList<>();
                d.mapAllocation(window, Math.min(MAP_WINDOW, d.size() - window), (off, len, allocated) -> {
                    if (allocated) {
                        runs.add(new long[] {off, len});
                    }
                });
                for (long[] run : runs) {
                    for (long pos = run[0], end = run[0] + run[1]; pos < end; ) {
                        int n = (int) Math.min(CHUNK, end - pos);
                        d.read(pos, ByteBuffer.wrap(buf, 0, n));
                        written += writeNonZero(out, buf, n, pos, block);
                        pos += n;
                        progress.stepTo(pos);
                    }
                }
                progress.stepTo(Math.min(d.size(), window + MAP_WINDOW));
            }
            return written;
        }

        /** Writes the blocks of {@code buf[0, n)} that are not all zero at {@code pos}; returns how many bytes. */
        private static long writeNonZero(FileChannel out, byte[] buf, int n, long pos, int block) throws IOException {
            long written = 0;
            for (int b = 0; b < n; b += block) {
                int e = Math.min(b + block, n);
                if (!isZero(buf, b, e)) {
                    writeFully(out, buf, b, e - b, pos + b);
                    written += e - b;
                }
            }
            return written;
        }
    }

    static boolean isZero(byte[] buf, int from, int to) {
        return Arrays.mismatch(buf, from, to, ZEROS, 0, to - from) < 0;
    }

    private static int readFully(FileChannel in, byte[] buf, long pos, int len) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(buf, 0, len);
        while (bb.hasRemaining()) {
            if (in.read(bb, pos + bb.position()) < 0) {
                throw new IOException("the image ended early (it shrank while being read?)");
            }
        }
        return len;
    }

    private static void writeFully(FileChannel out, byte[] buf, int off, int len, long pos) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(buf, off, len);
        while (bb.hasRemaining()) {
            out.write(bb, pos + bb.position() - off);
        }
    }
}
