package dev.varve.cli;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Sizes, offsets and lengths as people type them: a number of bytes, or one with a K, M, G,
 * T or P suffix in powers of 1024 ({@code 10G}, {@code 1.5M}, {@code 64KiB}). The result
 * must be a whole number of bytes.
 */
final class ByteSize {
    private static final String SUFFIXES = "KMGTPE";
    /** 4096, 4096B, 64K, 64k, 64KB, 64KiB, 1.5G. */
    private static final Pattern SYNTAX = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)\\s*(?:([KMGTPE])(?:i?B)?|B)?",
            Pattern.CASE_INSENSITIVE);

    private ByteSize() {
    }

    /** The picocli converter for every size, offset and length option. */
    static final class Converter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return parse(value);
        }
    }

    static long parse(String text) {
        Matcher m = SYNTAX.matcher(text.trim());
        if (!m.matches()) {
            throw new TypeConversionException("'" + text + "' is not a size: give bytes, or a number with K, M, G, T"
                    + " or P (powers of 1024), e.g. 4096, 64K or 10G");
        }
        int shift = m.group(2) == null ? 0 : 10 * (SUFFIXES.indexOf(m.group(2).toUpperCase(Locale.ROOT)) + 1);
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(2).pow(shift));
        if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new TypeConversionException("'" + text + "' is too large: at most 8 EiB");
        }
        try {
            return bytes.longValueExact();
        } catch (ArithmeticException e) {
            throw new TypeConversionException("'" + text + "' is not a whole number of bytes");
        }
    }

    /** {@code 10.0 GiB}, {@code 512 B}: for people; exact byte counts go in --json. */
    static String format(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        int i = 0;
        double v = bytes;
        while (v >= 1024 && i < SUFFIXES.length()) {
            v /= 1024;
            i++;
        }
        return String.format(Locale.ROOT, "%.1f %siB", v, SUFFIXES.charAt(i - 1));
    }
}
