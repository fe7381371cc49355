package dev.varve.nbd;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Direct buffers for request and reply payloads, in power-of-two size classes from 4 KiB up to
 * the largest request. The budget bounds the bytes handed out at once across every connection:
 * a connection that would exceed it waits (and so stops reading from its socket) until others
 * give buffers back. Direct buffers go to the socket and to the engine's positional file I/O
 * without the extra copy (and the per-thread temporary buffer cache) that heap buffers cost.
 */
final class BufferPool {
    private static final int MIN_SHIFT = 12;
    /** Buffers of one class kept for reuse; the rest are left to the collector. */
    private static final int KEEP_PER_CLASS = 8;
    /** The budget counts kibibytes, so that it fits a semaphore's int permits. */
    private static final int UNIT_SHIFT = 10;

    private final int maxShift;
    private final Semaphore budget;
    private final List<ConcurrentLinkedQueue<ByteBuffer>> free;
    private final AtomicIntegerArray freeCounts;

    BufferPool(int maxBytes, long budgetBytes) {
        this.maxShift = 31 - Integer.numberOfLeadingZeros(maxBytes);
        this.budget = new Semaphore((int) Math.min(Integer.MAX_VALUE, budgetBytes >> UNIT_SHIFT), true);
        int classes = maxShift - MIN_SHIFT + 1;
        this.free = new ArrayList<>(classes);
        for (int i = 0; i < classes; i++) {
            free.add(new ConcurrentLinkedQueue<>());
        }
        this.freeCounts = new AtomicIntegerArray(classes);
    }

    private static int shiftFor(int bytes) {
        int shift = bytes <= 1 ? 0 : 32 - Integer.numberOfLeadingZeros(bytes - 1);
        return Math.max(shift, MIN_SHIFT);
    }

    /**
     * A cleared buffer with its limit at {@code bytes}, or null when the budget stays spent for
     * {@code millis}.
     *
     * @throws IllegalArgumentException above the largest request
     */
    ByteBuffer tryAcquire(int bytes, long millis) {
        int shift = shiftFor(bytes);
        if (shift > maxShift) {
            throw new IllegalArgumentException("invariant violated: buffer of " + bytes + " bytes is above the maximum");
        }
        int units = 1 << (shift - UNIT_SHIFT);
        try {
            if (!budget.tryAcquire(units, millis, TimeUnit.MILLISECONDS)) {
                return null;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
        int c = shift - MIN_SHIFT;
        ByteBuffer b = free.get(c).poll();
        if (b != null) {
            freeCounts.decrementAndGet(c);
        } else {
            try {
                b = ByteBuffer.allocateDirect(1 << shift);
            } catch (OutOfMemoryError e) {
                budget.release(units);
                throw e;
            }
        }
        b.clear().limit(bytes);
        return b;
    }

    /** Gives a buffer from {@link #acquire} back; null is ignored. */
    void release(ByteBuffer b) {
        if (b == null) {
            return;
        }
        int shift = 31 - Integer.numberOfLeadingZeros(b.capacity());
        int c = shift - MIN_SHIFT;
        if (freeCounts.incrementAndGet(c) <= KEEP_PER_CLASS) {
            free.get(c).offer(b);
        } else {
            freeCounts.decrementAndGet(c);
        }
        budget.release(1 << (shift - UNIT_SHIFT));
    }

    /** Kibibytes of budget not handed out (for tests: everything comes back). */
    int availableKib() {
        return budget.availablePermits();
    }
}
