package dev.varve.cli;

import dev.varve.engine.BlockDevice;
import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.Store;
import dev.varve.engine.StoreInfo;
import dev.varve.engine.Volume;
import dev.varve.fsck.Fsck;
import dev.varve.fsck.Report;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * The guided demo: one VM disk's life in a fresh store — write, snapshot, overwrite, revert,
 * clone, group snapshot, reopen, fsck — with every step read back and compared byte for byte.
 * Exits 0 only if every step verified.
 */
@Command(name = "quickstart", description = "A guided demo in a fresh store (DIR, or a new temporary directory);"
        + " every step is verified, byte for byte.")
final class Quickstart implements Callable<Integer> {
    private static final long GIB = 1L << 30;
    private static final long MIB = 1L << 20;
    private static final String VM_CONFIG = "<domain type='kvm'>\n  <name>vm1</name>\n  <memory unit='GiB'>4</memory>\n"
            + "  <devices><disk type='network'><source protocol='nbd' name='vm1'/></disk></devices>\n</domain>\n";

    @ParentCommand
    Main main;

    @Parameters(index = "0", arity = "0..1", paramLabel = "DIR",
            description = "Where to make the store: a new or empty directory (default: a new temporary one).")
    Path dir;

    private PrintStream out;
    private int step;

    @Override
    public Integer call() throws IOException {
        out = main.out;
        Path where = (dir != null ? dir : Files.createTempDirectory("varve-quickstart-")).toAbsolutePath();
        byte[] installed = pattern(1, (int) (16 * MIB));
        byte[] tail = pattern(2, (int) MIB);
        byte[] update = pattern(3, (int) (4 * MIB));
        byte[] test = pattern(4, (int) MIB);
        out.println("Varve quickstart: the life of one VM disk, every step read back and compared.");

        try (Store s = Store.create(where)) {
            step("init: a store is a directory of segment files and two superblocks");
            say("store at " + s.directory());

            step("create vm1: a 10 GiB thin volume");
            Volume vm1 = s.createVolume("vm1", 10 * GIB);
            say("on disk: " + ByteSize.format(s.info().bytesOnDisk()) + " (thin: nothing allocated until written)");

            step("write 16 MiB at offset 0 and 1 MiB at 9 GiB, then flush (one group commit)");
            long t = System.nanoTime();
            vm1.write(0, ByteBuffer.wrap(installed));
            vm1.write(9 * GIB, ByteBuffer.wrap(tail));
            vm1.flush();
            long nanos = System.nanoTime() - t;
            say(String.format(Locale.ROOT, "17 MiB written and durable in %s (%.0f MiB/s)", ms(nanos), 17 / (nanos / 1e9)));
            expect(vm1, 0, installed, "vm1 reads back what was written at 0");
            expect(vm1, 9 * GIB, tail, "vm1 reads back what was written at 9 GiB");
            expect(vm1, 5 * GIB, new byte[4096], "vm1 reads zeros where nothing was written");

            step("snapshot vm1@installed, with the VM's configuration as a property");
            t = System.nanoTime();
            s.snapshot("vm1", "installed", Map.of("vm.config", VM_CONFIG));
            say("snapshot taken in " + ms(System.nanoTime() - t) + ", commit included: no data or map was copied");
            expect(s.device("vm1@installed"), 0, installed, "vm1@installed holds the data");
            check(VM_CONFIG.equals(s.properties("vm1@installed").get("vm.config")), "the property reads back");

            step("overwrite the first 4 MiB of vm1 (an update that goes wrong)");
            vm1.write(0, ByteBuffer.wrap(update));
            vm1.flush();
            expect(vm1, 0, update, "vm1 reads the new bytes");
            expect(s.device("vm1@installed"), 0, installed, "vm1@installed still reads the old bytes");

            step("revert vm1 to @installed, keeping the current state as vm1@broken-update");
            t = System.nanoTime();
            s.revert("vm1", "installed", "broken-update");
            say("reverted in " + ms(System.nanoTime() - t) + "; no snapshot was lost");
            expect(vm1, 0, installed, "vm1 reads the installed bytes again");
            expect(s.device("vm1@broken-update"), 0, update, "vm1@broken-update keeps the update");

            step("clone vm1@installed as vm1-test (a new disk on the same blocks) and write to it");
            t = System.nanoTime();
            Volume clone = s.clone("vm1", "installed", "vm1-test");
            say("cloned in " + ms(System.nanoTime() - t));
            expect(clone, 0, installed, "vm1-test starts as vm1@installed");
            clone.write(0, ByteBuffer.wrap(test));
            clone.flush();
            expect(clone, 0, test, "vm1-test reads its own write");
            expect(vm1, 0, installed, "vm1 is untouched by the clone's write");

            step("snapshot vm1 and vm1-test together, atomically, as group 'pre-migration'");
            List<SnapshotInfo> group = s.snapshotGroup("pre-migration", List.of("vm1", "vm1-test"), Map.of());
            check(group.size() == 2, "the group holds both volumes");
            expect(s.device("vm1-test@pre-migration"), 0, test, "vm1-test@pre-migration holds the clone's data");

            step("the snapshot tree ('varve list --tree')");
            for (String line : new SnapshotTree(s.volumes(), s.snapshots()).lines()) {
                say(line);
            }
        }

        step("close and reopen the store: everything that returned is durable");
        try (Store s = Store.open(where)) {
            expect(s.volume("vm1"), 0, installed, "vm1 after reopen");
            expect(s.volume("vm1"), 9 * GIB, tail, "vm1's far end after reopen");
            expect(s.device("vm1@broken-update"), 0, update, "vm1@broken-update after reopen");
            expect(s.volume("vm1-test"), 0, test, "vm1-test after reopen");
            StoreInfo i = s.info();
            say(i.volumeCount() + " volumes (" + ByteSize.format(i.logicalBytes()) + " logical), " + i.snapshotCount()
                    + " snapshots, " + ByteSize.format(i.bytesOnDisk()) + " on disk");
        }

        step("fsck: check every record, tree and data checksum");
        long t = System.nanoTime();
        Report r = Fsck.check(where, false);
        say(r.summary().strip());
        say("checked in " + ms(System.nanoTime() - t));
        check(r.exitCode() == Report.EXIT_CLEAN, "fsck finds the store clean");

        out.println();
        out.println("All " + step + " steps verified. The store is still there to explore:");
        out.println("  ./varve list " + where + " --tree");
        out.println("  ./varve get " + where + " vm1@installed vm.config");
        out.println("  ./varve export " + where + " vm1@broken-update /tmp/vm1.raw");
        if (dir == null) {
            out.println("  rm -r " + where + "    # when done");
        }
        return 0;
    }

    private void step(String what) {
        out.println();
        out.println(++step + ". " + what);
    }

    private void say(String line) {
        for (String l : line.split("\n")) {
            out.println("   " + l);
        }
    }

    private void check(boolean ok, String what) {
        if (!ok) {
            throw new Main.Failure("quickstart step " + step + " failed: " + what);
        }
        say("ok: " + what);
    }

    private void expect(BlockDevice d, long offset, byte[] want, String what) throws IOException {
        byte[] got = new byte[want.length];
        d.read(offset, ByteBuffer.wrap(got));
        int at = java.util.Arrays.mismatch(want, got);
        if (at >= 0) {
            throw new Main.Failure("quickstart step " + step + " failed: " + what + ": byte " + (offset + at) + " of "
                    + d.name() + " is " + got[at] + ", expected " + want[at]);
        }
        say("ok: " + what);
    }

    private static byte[] pattern(long seed, int length) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static String ms(long nanos) {
        return String.format(Locale.ROOT, "%.2f ms", nanos / 1e6);
    }
}
