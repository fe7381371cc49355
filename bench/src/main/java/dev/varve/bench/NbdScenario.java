package dev.varve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import dev.varve.nbd.NbdServer;
import dev.varve.nbd.ServerOptions;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Varve served by {@code varve serve} in a child JVM (the CLI's {@code cli/target/varve.jar};
 * an in-process {@link NbdServer} when that jar is not built, said in the figure's note)
 * against {@code qemu-nbd} serving a
 * preallocated raw file of the same size on the same disk, both with the page cache
 * (qemu-nbd {@code --cache=writeback}; Varve's FileChannel I/O is buffered), both driven by
 * {@code fio --ioengine=nbd} over TCP on 127.0.0.1: random 4 KiB reads and writes at queue
 * depth 16 and sequential 1 MiB reads and writes at queue depth 1. No flushes are sent.
 */
final class NbdScenario implements Scenario {
    static final String READ4K = "nbd.read4k.qd16";
    static final String WRITE4K = "nbd.write4k.qd16";
    static final String SEQ_READ = "nbd.seq1m.read";
    static final String SEQ_WRITE = "nbd.seq1m.write";
    static final String QEMU_NBD = "qemu-nbd";
    private static final int MIB = 1 << 20;

    @Override
    public List<String> names() {
        return List.of(READ4K, WRITE4K, SEQ_READ, SEQ_WRITE);
    }

    @Override
    public int weight() {
        return 8;
    }

    static boolean available() {
        for (String t : new String[] {"/usr/bin/qemu-nbd", "/usr/bin/fio"}) {
            if (!Files.isExecutable(Path.of(t))) {
                return false;
            }
        }
        return true;
    }

    private record Case(String name, String rw, String bs, int depth, boolean write) {
    }

    @Override
    public void run(Bench b) throws Exception {
        if (!available()) {
            b.skip(String.join(", ", names()), "qemu-nbd or fio is not installed (apt-get install qemu-utils fio)");
            return;
        }
        long size = b.quick ? 256L << 20 : 1L << 30;
        int seconds = b.quick ? 1 : 3;
        Path dir = b.scratch("nbd");
        ByteBuffer data = Bench.randomData(MIB, Bench.SEED + 13);
        Path rawPath = dir.resolve("disk.raw");
        RawFile.preallocate(rawPath, size, data).close();
        List<Case> cases = new ArrayList<>();
        for (Case c : List.of(new Case(READ4K, "randread", "4k", 16, false), new Case(WRITE4K, "randwrite", "4k", 16, true),
                new Case(SEQ_READ, "read", "1m", 1, false), new Case(SEQ_WRITE, "write", "1m", 1, true))) {
            if (b.wants(c.name)) {
                cases.add(c);
            }
        }
        Process qemu = null;
        Process serve = null;
        Path cliJar = cliJar();
        Path storeDir = dir.resolve("store");
        try (Store s = Store.create(storeDir)) {
            Volume v = s.createVolume("exp", size);
            for (long off = 0; off < size; off += MIB) {
                v.write(off, data.duplicate());
            }
            v.flush();
        }
        try (Store s = cliJar == null ? Store.open(storeDir) : null) {
            int qport = freePort();
            qemu = new ProcessBuilder("qemu-nbd", "-f", "raw", "-t", "-p", String.valueOf(qport), "-b", "127.0.0.1",
                    "-x", "exp", "--cache=writeback", rawPath.toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("qemu-nbd.log").toFile()).start();
            waitFor(qport, qemu, dir.resolve("qemu-nbd.log"));
            int vport;
            NbdServer server = null;
            String how;
            if (cliJar != null) {
                vport = freePort();
                List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-jar", cliJar.toString(), "serve", storeDir.toString(), "--bind", "127.0.0.1",
                        "--port", String.valueOf(vport)));
                serve = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(dir.resolve("varve-serve.log").toFile()).start();
                waitFor(vport, serve, dir.resolve("varve-serve.log"));
                how = "varve serve (" + cliJar.getFileName() + ", a child JVM) serving a Varve volume written end to end";
            } else {
                server = new NbdServer(s, ServerOptions.defaults().withPort(0).withControlSocket(false).withLog(m -> { }));
                server.start();
                vport = server.port();
                how = "in-process NbdServer (cli/target/varve.jar not built) serving a Varve volume written end to end";
            }
            try {
                List<String> sides = List.of(Contender.VARVE, QEMU_NBD);
                int[] ports = {vport, qport};
                for (Case c : cases) {
                    b.progress(c.name + ": " + seconds + " s per repetition");
                    boolean bytes = c.bs.equals("1m");
                    double[][] vals = Bench.interleaved(sides, 1, (side, rep) -> fio(dir, ports[sides.indexOf(side)], c,
                            size, seconds, bytes));
                    Map<String, Object> p = Bench.params("disk", Bench.mib(size), "request", c.bs.equals("4k") ? "4 KiB" : "1 MiB",
                            "pattern", c.rw, "queue depth", c.depth, "runtime", seconds + " s", "client", "fio --ioengine=nbd, TCP 127.0.0.1",
                            "cache", "page cache (qemu-nbd --cache=writeback)", "flush", "none");
                    String unit = bytes ? "MB/s" : "ops/s";
                    Figure q = b.add(Figure.of(c.name, unit, QEMU_NBD, p, vals[1], true,
                            "qemu-nbd -f raw --cache=writeback serving a preallocated raw file"));
                    b.add(Figure.of(c.name, unit, Contender.VARVE, p, vals[0], true, how)
                            .against(q, "qemu-nbd raw (target >= 0.8x)"));
                }
            } finally {
                if (server != null) {
                    server.close();
                }
            }
        } finally {
            if (serve != null) {
                serve.destroy(); // SIGTERM: the server closes the store
                if (!serve.waitFor(30, TimeUnit.SECONDS)) {
                    serve.destroyForcibly();
                }
            }
            if (qemu != null) {
                qemu.destroy();
                if (!qemu.waitFor(5, TimeUnit.SECONDS)) {
                    qemu.destroyForcibly();
                }
            }
            Bench.deleteTree(dir);
        }
    }

    private static double fio(Path dir, int port, Case c, long size, int seconds, boolean bytes) throws IOException {
        Path out = dir.resolve("fio.json");
        Files.deleteIfExists(out);
        List<String> cmd = List.of("fio", "--name=b", "--ioengine=nbd", "--uri=nbd://127.0.0.1:" + port + "/exp",
                "--rw=" + c.rw, "--bs=" + c.bs, "--iodepth=" + c.depth, "--size=" + size, "--time_based",
                "--runtime=" + seconds, "--randrepeat=1", "--output-format=json", "--output=" + out);
        String log = Qemu.run(cmd);
        JsonNode job = new ObjectMapper().readTree(out.toFile()).get("jobs").get(0);
        JsonNode side = job.get(c.write ? "write" : "read");
        if (job.get("error").asInt() != 0 || side.get("total_ios").asLong() == 0) {
            throw new IOException("fio failed: " + log);
        }
        return bytes ? side.get("bw_bytes").asDouble() / 1e6 : side.get("iops").asDouble();
    }

    private static int freePort() throws IOException {
        try (ServerSocket ss = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return ss.getLocalPort();
        }
    }

    /**
     * The CLI jar {@code varve serve} runs from: {@code -Dvarve.bench.cliJar}, else
     * {@code cli/target/varve.jar} beside the bench module this jar was built in, else in the
     * working directory; null when none is there.
     */
    private static Path cliJar() {
        String set = System.getProperty("varve.bench.cliJar");
        if (set != null) {
            return Path.of(set);
        }
        List<Path> tries = new ArrayList<>();
        try {
            Path self = Path.of(NbdScenario.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            // bench/target/benchmarks.jar -> the repository root
            if (self.getParent() != null && self.getParent().getParent() != null
                    && self.getParent().getParent().getParent() != null) {
                tries.add(self.getParent().getParent().getParent().resolve("cli/target/varve.jar"));
            }
        } catch (java.net.URISyntaxException | SecurityException e) {
            // fall through to the working directory
        }
        tries.add(Path.of("cli/target/varve.jar"));
        for (Path t : tries) {
            if (Files.isRegularFile(t)) {
                return t.toAbsolutePath();
            }
        }
        return null;
    }

    private static void waitFor(int port, Process p, Path log) throws IOException, InterruptedException {
        long end = System.nanoTime() + 30_000_000_000L;
        while (true) {
            try (Socket sk = new Socket()) {
                sk.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException e) {
                if (!p.isAlive() || System.nanoTime() > end) {
                    throw new IOException("the server did not listen on port " + port + " (" + (p.isAlive() ? "still running"
                            : "exited " + p.exitValue()) + "): " + (Files.exists(log) ? Files.readString(log) : ""), e);
                }
                Thread.sleep(50);
            }
        }
    }
}
