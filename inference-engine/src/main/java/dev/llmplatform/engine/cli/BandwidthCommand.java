package dev.llmplatform.engine.cli;

import dev.llmplatform.engine.cpu.WorkerPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.DoubleAdder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Measures memory read bandwidth the way decoding reads weights: all threads stream through a buffer much larger
 * than the caches (off-heap, like mapped weights), summing floats with the Vector API. The best of several passes
 * is the ceiling that decode speed is compared against.
 */
@Command(name = "bandwidth", mixinStandardHelpOptions = true, description = "Measure memory read bandwidth (GB/s).")
final class BandwidthCommand implements Callable<Integer> {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    @Option(names = "--size-mb", defaultValue = "2048", description = "Buffer size in MB (default ${DEFAULT-VALUE}).")
    int sizeMb;

    @Option(names = "--passes", defaultValue = "10")
    int passes;

    @Option(names = "--threads", description = "Threads (default: all cores).")
    int threads;

    @Option(names = "--json")
    boolean json;

    static volatile double checksum;

    @Override
    public Integer call() {
        long bytes = (long) sizeMb << 20;
        int lanes = F.length();
        long blockBytes = 1L << 20;
        int blocks = (int) (bytes / blockBytes);
        DoubleAdder sink = new DoubleAdder();
        double best = 0;
        try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(threads > 0 ? threads : WorkerPool.defaultThreads())) {
            MemorySegment seg = arena.allocate(bytes, 64);
            seg.fill((byte) 1);
            for (int pass = 0; pass < passes; pass++) {
                long t0 = System.nanoTime();
                pool.parallelFor(blocks, 1, (from, to, worker) -> {
                    FloatVector a0 = FloatVector.zero(F);
                    FloatVector a1 = FloatVector.zero(F);
                    FloatVector a2 = FloatVector.zero(F);
                    FloatVector a3 = FloatVector.zero(F);
                    long step = 4L * lanes * 4;
                    for (long off = from * blockBytes, end = to * blockBytes; off < end; off += step) {
                        a0 = a0.add(FloatVector.fromMemorySegment(F, seg, off, ByteOrder.LITTLE_ENDIAN));
                        a1 = a1.add(FloatVector.fromMemorySegment(F, seg, off + lanes * 4L, ByteOrder.LITTLE_ENDIAN));
                        a2 = a2.add(FloatVector.fromMemorySegment(F, seg, off + lanes * 8L, ByteOrder.LITTLE_ENDIAN));
                        a3 = a3.add(FloatVector.fromMemorySegment(F, seg, off + lanes * 12L, ByteOrder.LITTLE_ENDIAN));
                    }
                    sink.add(a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD));
                });
                double gbs = blocks * blockBytes / ((System.nanoTime() - t0) / 1e9) / 1e9;
                best = Math.max(best, gbs);
            }
        }
        if (json) {
            System.out.printf("{\"read_gb_per_s\": %.2f, \"size_mb\": %d, \"threads\": %d}%n", best, sizeMb,
                    threads > 0 ? threads : WorkerPool.defaultThreads());
        } else {
            System.out.printf("memory read bandwidth: %.2f GB/s (best of %d passes over %d MB)%n", best, passes, sizeMb);
        }
        checksum = sink.sum(); // keeps the reads observable, so the JIT cannot drop them
        return 0;
    }
}
