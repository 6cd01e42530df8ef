package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The real CPU model, behaving as a multi-GPU runner does when one of its ranks fails (the GPU path cannot run
 * here): armed with {@link #failAtStep}, the step that many forward passes later throws the rank's error, and from
 * then on every step throws and {@link #unusableReason} says why, as {@code GpuTensorParallelModel} does once its
 * NCCL group is aborted.
 */
final class RankFailingRunner implements ModelRunner {
    private final ModelRunner model;
    private final AtomicInteger stepsLeft = new AtomicInteger(-1);
    private volatile String reason;
    private volatile String failure;

    RankFailingRunner(ModelRunner model) {
        this.model = model;
    }

    /** The {@code step}-th forward pass from now (1: the next) fails, with {@code reason}, and so do all after it. */
    void failAtStep(int step, String reason) {
        this.reason = reason;
        stepsLeft.set(step);
    }

    Optional<String> unusableReason() {
        return Optional.ofNullable(failure);
    }

    @Override
    public void forward(Batch batch, float[] logits) {
        if (failure == null && stepsLeft.get() > 0 && stepsLeft.decrementAndGet() == 0) {
            failure = reason;
        }
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
        model.forward(batch, logits);
    }

    // forwardGreedy stays the interface's "no such path", so that every step is exactly one forward() call.

    @Override
    public String name() {
        return model.name();
    }

    @Override
    public int vocabSize() {
        return model.vocabSize();
    }

    @Override
    public int contextLength() {
        return model.contextLength();
    }

    @Override
    public KvBlockPool newKvPool(int blockSize, int maxBlocks) {
        return model.newKvPool(blockSize, maxBlocks);
    }

    @Override
    public KvCache newCache(KvBlockPool pool) {
        return model.newCache(pool);
    }

    /** The wrapped model is the engine's, which closes it. */
    @Override
    public void close() {
    }
}
