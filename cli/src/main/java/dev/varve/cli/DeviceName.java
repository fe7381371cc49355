package dev.varve.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * What a command line names: a volume head ({@code VOLUME}) or a snapshot
 * ({@code VOLUME@SNAPSHOT}), as in ZFS.
 *
 * @param snapshot null for a volume head
 */
record DeviceName(String volume, String snapshot) {

    boolean isSnapshot() {
        return snapshot != null;
    }

    @Override
    public String toString() {
        return snapshot == null ? volume : volume + "@" + snapshot;
    }

    static DeviceName parse(String text) {
        int at = text.indexOf('@');
        if (at < 0) {
            if (text.isEmpty()) {
                throw new TypeConversionException("a volume name cannot be empty");
            }
            return new DeviceName(text, null);
        }
        String vol = text.substring(0, at);
        String snap = text.substring(at + 1);
        if (vol.isEmpty() || snap.isEmpty() || snap.indexOf('@') >= 0) {
            throw new TypeConversionException("'" + text + "' is not VOLUME@SNAPSHOT");
        }
        return new DeviceName(vol, snap);
    }

    /** VOLUME or VOLUME@SNAPSHOT. */
    static final class Any implements ITypeConverter<DeviceName> {
        @Override
        public DeviceName convert(String value) {
            return parse(value);
        }
    }

    /** VOLUME@SNAPSHOT only. */
    static final class Snapshot implements ITypeConverter<DeviceName> {
        @Override
        public DeviceName convert(String value) {
            DeviceName n = parse(value);
            if (!n.isSnapshot()) {
                throw new TypeConversionException("'" + value + "' names a volume; give VOLUME@SNAPSHOT");
            }
            return n;
        }
    }

    /** A plain VOLUME, no '@'. */
    static final class Volume implements ITypeConverter<DeviceName> {
        @Override
        public DeviceName convert(String value) {
            DeviceName n = parse(value);
            if (n.isSnapshot()) {
                throw new TypeConversionException("'" + value + "' names a snapshot; give a VOLUME");
            }
            return n;
        }
    }
}
