package dev.varve.bench.jmh;

/** The JVM grants every forked benchmark JVM needs (agrona's Unsafe, chronicle's mapped files). */
final class Flags {
    static final String EXPORTS_MISC = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED";
    static final String EXPORTS_NIO = "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED";
    static final String OPENS_REFLECT = "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED";
    static final String OPENS_NIO = "--add-opens=java.base/java.nio=ALL-UNNAMED";

    private Flags() {
    }
}
