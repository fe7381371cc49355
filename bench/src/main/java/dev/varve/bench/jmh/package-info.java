/**
 * JMH microbenchmarks for Varve's hot paths: extent-map lookup and update, extent record
 * encoding, CRC32C over a 4 KiB block, and 4 KiB reads and writes through a volume (beside the
 * same through the file-per-delta baseline). Run them all with
 * {@code java -cp bench/target/benchmarks.jar org.openjdk.jmh.Main}; see docs/BENCHMARKS.md.
 */
package dev.varve.bench.jmh;
