package dev.varve.nbd;

import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A server in a child JVM, for tests that kill it. The commit timer is off, so only FLUSH, FUA
 * and the dirty-bytes limit make data durable: what survives a SIGKILL is what they promised.
 * It writes its port to a file once it listens.
 */
public final class ChildServer {
    private ChildServer() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Path portFile = Path.of(args[1]);
        Store store = Store.open(dir, StoreOptions.defaults().withCommitIntervalMillis(0));
        NbdServer server = new NbdServer(store, ServerOptions.defaults().withPort(0)).start();
        Path tmp = portFile.resolveSibling(portFile.getFileName() + ".tmp");
        Files.writeString(tmp, Integer.toString(server.port()));
        Files.move(tmp, portFile);
        server.join();
    }

    /** Starts {@code main} in a child JVM with this JVM's class path and module flags. */
    static Process launch(Path dir, Path portFile, Path log) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m"));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-") || a.startsWith("--enable-native-access") || a.startsWith("--sun-misc")
                    || a.startsWith("-Dvarve")) {
                cmd.add(a);
            }
        }
        cmd.addAll(List.of("-cp", cp, ChildServer.class.getName(), dir.toString(), portFile.toString()));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** Waits for the child to listen and returns its port. */
    static int awaitPort(Process p, Path portFile, Path log) throws Exception {
        for (int i = 0; i < 600; i++) {
            if (Files.exists(portFile)) {
                return Integer.parseInt(Files.readString(portFile).trim());
            }
            if (!p.isAlive()) {
                throw new AssertionError("child server exited: " + Files.readString(log));
            }
            Thread.sleep(50);
        }
        p.destroyForcibly();
        throw new AssertionError("child server did not start in 30 s: " + Files.readString(log));
    }
}
