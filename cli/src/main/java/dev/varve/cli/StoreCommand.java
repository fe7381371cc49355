package dev.varve.cli;

import dev.varve.engine.Store;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** A subcommand whose first word is the store directory. */
abstract class StoreCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "STORE", description = "The store (a directory).")
    Path store;

    /** Says on stderr when the store shows less than its log holds (a read-only open past damage). */
    Store warned(Store s) {
        if (s.openWarning() != null) {
            err().println("varve: warning: " + s.openWarning());
        }
        return s;
    }

    /**
     * Runs {@code direct} on the store opened here, or, when a running {@code varve serve} holds
     * the store, {@code served} against that server: every command that works on an existing
     * store goes through here, so none is turned away by a server's lock.
     */
    <T> T either(boolean readOnly, Remote.Direct<T> direct, Remote.Served<T> served) throws IOException {
        return Remote.either(store, readOnly, s -> direct.run(warned(s)), served);
    }

    /** A name given in a place picocli cannot type, e.g. among a list of words: bad ones are usage errors. */
    DeviceName name(ITypeConverter<DeviceName> kind, String text) {
        try {
            return kind.convert(text);
        } catch (Exception e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    PrintStream out() {
        return main.out;
    }

    PrintStream err() {
        return main.err;
    }
}
