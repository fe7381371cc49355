package dev.varve.cli;

import dev.varve.engine.BlockDevice;
import dev.varve.engine.Store;
import dev.varve.engine.Volume;
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

        @Override
        public Integer call() throws IOException {
            boolean stdin = file == null || file.equals("-");
            Path path = stdin ? null : Path.of(file);
            long written = 0;
            try (Store s = open()) {
                Volume v = s.volume(volume.volume());
                if (offset > v.size()) {
                    throw new Main.Failure("offset " + offset + " is past the end of " + volume + " (" + v.size()
                            + " bytes); nothing was written");
                }
                if (path != null && Files.size(path) > v.size() - offset) {
                    throw new Main.Failure(path + " is " + Files.size(path) + " bytes: at offset " + offset
                            + " it runs past the end of " + volume + " (" + v.size() + " bytes); nothing was written");
                }
                try (InputStream in = stdin ? main.in : Files.newInputStream(path)) {
                    byte[] buf = new byte[CHUNK];
                    int n;
                    while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
                        if (n > v.size() - offset - written) {
                            v.flush();
                            throw new Main.Failure("the input runs past the end of " + volume + " (" + v.size()
                                    + " bytes); the first " + written + " bytes were written");
                        }
                        v.write(offset + written, ByteBuffer.wrap(buf, 0, n));
                        written += n;
                    }
                }
                v.flush();
            }
            out().println("wrote " + written + " bytes to " + volume + " at offset " + offset);
            return 0;
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

        @Override
        public Integer call() throws IOException {
            try (Store s = openReadOnly()) {
                BlockDevice d = s.device(device.toString());
                if (offset > d.size()) {
                    throw new Main.Failure("offset " + offset + " is past the end of " + device + " (" + d.size()
                            + " bytes)");
                }
                long len = length == null ? d.size() - offset : length;
                if (len > d.size() - offset) {
                    throw new Main.Failure("offset " + offset + " plus length " + len + " runs past the end of "
                            + device + " (" + d.size() + " bytes)");
                }
                OutputStream os = output == null ? main.out : Files.newOutputStream(output);
                try {
                    byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(len, 1))];
                    for (long done = 0; done < len; ) {
                        int n = (int) Math.min(buf.length, len - done);
                        d.read(offset + done, ByteBuffer.wrap(buf, 0, n));
                        os.write(buf, 0, n);
                        done += n;
                        if (output == null && main.out.checkError()) {
                            // e.g. '| head': stop reading a large volume nobody is listening to
                            throw new Main.Failure("stdout was closed after " + done + " bytes");
                        }
                    }
                    os.flush();
                } finally {
                    if (output != null) {
                        os.close();
                    }
                }
            }
            return 0;
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
            long data;
            try (Store s = open(); FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
                Volume v = s.createVolume(volume.volume(), size, block);
                boolean done = false;
                try (Progress progress = Progress.start(err(), "import " + volume, fileSize)) {
                    data = copyIn(in, fileSize, v, block, progress);
                    v.flush();
                    done = true;
                } finally {
                    if (!done) {
                        dropPartial(s, volume.volume());
                    }
                }
            }
            out().println("imported " + file + " as " + volume + ": " + ByteSize.format(size) + ", "
                    + ByteSize.format(data) + " of data written, " + ByteSize.format(size - data)
                    + " of zero blocks left as holes");
            return 0;
        }

        /** Copies the image's non-zero blocks, as runs; returns the bytes written. */
        private static long copyIn(FileChannel in, long fileSize, Volume v, int block, Progress progress)
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
                        v.write(pos + runStart, ByteBuffer.wrap(buf, runStart, b - runStart));
                        written += b - runStart;
                        runStart = -1;
                    }
                }
                if (runStart >= 0) {
                    v.write(pos + runStart, ByteBuffer.wrap(buf, runStart, n - runStart));
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

        @Override
        public Integer call() throws IOException {
            if (Files.exists(file) && !force) {
                throw new Main.Failure(file + " exists; add --force to overwrite it");
            }
            long size;
            long data;
            try (Store s = openReadOnly()) {
                BlockDevice d = s.device(device.toString());
                size = d.size();
                boolean done = false;
                try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw");
                     Progress progress = Progress.start(err(), "export " + device, size)) {
                    raf.setLength(0);
                    raf.setLength(size); // a file of holes; only data is written into it
                    data = copyOut(d, raf.getChannel(), progress);
                    raf.getChannel().force(true);
                    done = true;
                } finally {
                    if (!done) {
                        Files.deleteIfExists(file); // half an image must not pass for a whole one
                    }
                }
            }
            out().println("exported " + device + " to " + file + ": " + ByteSize.format(size) + ", "
                    + ByteSize.format(data) + " of data, the rest holes");
            return 0;
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
                        for (int b = 0; b < n; b += block) {
                            int e = Math.min(b + block, n);
                            if (!isZero(buf, b, e)) {
                                writeFully(out, buf, b, e - b, pos + b);
                                written += e - b;
                            }
                        }
                        pos += n;
                        progress.stepTo(pos);
                    }
                }
                progress.stepTo(Math.min(d.size(), window + MAP_WINDOW));
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
