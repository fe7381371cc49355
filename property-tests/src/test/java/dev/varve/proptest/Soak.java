package dev.varve.proptest;

/** {@code -Dvarve.soak=true} runs every count 100 times over; {@code -Dvarve.soak=N} N times. */
final class Soak {
    private Soak() {
    }

    static int factor() {
        String s = System.getProperty("varve.soak");
        if (s == null || s.isBlank() || s.equals("false")) {
            return 1;
        }
        if (s.equals("true")) {
            return 100;
        }
        try {
            return Math.max(1, Integer.parseInt(s.trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("varve.soak must be true, false or a whole number, got '" + s + "'");
        }
    }
}
