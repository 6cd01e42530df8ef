/**
 * Tensor parallelism: one model split over ranks (Megatron-style), applied at load time to the unchanged
 * checkpoint, or read from an engine built with {@code --tp N}.
 *
 * <h2>The split</h2>
 * {@link dev.llmplatform.engine.parallel.ShardPlan} decides who holds what: whole query heads per rank, KV heads
 * divided the same way (or each replicated on the ranks whose query heads read it, when there are fewer KV heads than
 * ranks: MQA, small GQA), the MLP width in equal runs, the vocabulary in contiguous runs.
 * {@code ModelSharder} cuts the weights accordingly: Q/K/V (or a fused QKV's rows of the rank's heads, in any of the
 * families' layouts) and gate/up by output rows, attention output and down by input columns, embedding and LM head
 * by vocabulary rows; norms and learned positions are replicated; row-parallel biases stay whole and are added once,
 * after the all-reduce. The rank's spec carries its own head counts, MLP width and the ALiBi slopes of its heads by
 * their global index. {@code WeightSlicer} does the cutting for every format, copying each piece once into the
 * process's memory (why not views of the mapped file: see there); quantized rows are cut only between groups (GGUF Q8_0/Q4_0 blocks of
 * 32, INT4 groups; INT8's scale is per output row, so any cut works) and a size that would cut a group is refused
 * with the numbers. The forward pass itself is {@link dev.llmplatform.engine.arch.DecoderModel}'s: a rank is a
 * {@code DecoderModel} with a {@link dev.llmplatform.engine.arch.TensorShard}, which adds the all-reduces and the
 * vocabulary offsets, so every family is split by the same few lines.
 *
 * <h2>Running the ranks on the CPU</h2>
 * {@link dev.llmplatform.engine.parallel.TensorParallelModel} is one {@link dev.llmplatform.engine.arch.ModelRunner}:
 * the runtime schedules once, the model checks the batch and reserves cache positions once, every rank computes the
 * same batch, and the logits (each rank writes its vocabulary columns) are sampled once. The scheduler's KV pool
 * keeps only the bookkeeping; each rank stores its own heads of every block
 * ({@link dev.llmplatform.engine.cpu.KvShardStorage}).
 *
 * <p>Ranks are threads of this process: rank 0 is the caller, ranks 1..N-1 wait for steps ({@code RankThreads}).
 * The all-reduce ({@code InProcessAllReduce}) is a reduce-scatter and all-gather through shared memory between two
 * barriers, summing in rank order so results do not depend on thread timing.
 *
 * <p>Threads: the configured worker threads are divided among the ranks, each rank getting its own
 * {@link dev.llmplatform.engine.cpu.WorkerPool} of {@code threads / N} (the rank thread is its pool's caller), so
 * the process runs as many compute threads as without tensor parallelism and never more than the cores it was
 * given. The pools' workers spin briefly and then park, and so do the barrier and idle ranks, which matters because
 * a spinning waiter steals a core from a rank still computing. Sharing one pool among the ranks was the other
 * option: it would deadlock as soon as two ranks' loops waited for each other's all-reduce, and it would not run
 * ranks concurrently as GPUs do. When there are more ranks than threads (TP=4 on the 2-core CI machine) each rank
 * gets one thread and they time-share the cores: correct, not fast. On one CPU socket tensor parallelism cannot make
 * decoding faster anyway (all ranks share one memory bus and together still read every weight once per step, plus
 * the barriers); it is here so that CI tests the sharding that the GPU backend runs, and so that the coordinator is
 * the same code.
 *
 * <h2>The GPU backend: one process, one thread per GPU</h2>
 * The same structure carries over: each rank thread binds its device, owns its stream, weights and KV blocks, and
 * the in-process all-reduce becomes NCCL's (one communicator per device, created together in this process), issued
 * by all rank threads concurrently as NCCL requires of one process driving several devices. One process rather
 * than one per GPU because:
 * <ul>
 *   <li>the runtime's contract (schedule once, every rank runs the same step, sample once) is a memory write here,
 *       where separate processes would need an IPC message per step with the batch, positions and block tables;</li>
 *   <li>a rank's failure is an exception in the step that every request in flight sees, and the instance's health
 *       sees it at once; across processes it takes a supervisor and heartbeats to notice, and a hang to time out;</li>
 *   <li>one JVM means one tokenizer, one runtime and one HTTP server per instance, and one container per pod;</li>
 *   <li>the reasons others use a process per GPU do not apply: vLLM works around Python's GIL, TensorRT-LLM inherits
 *       MPI launchers; Java threads run in parallel, and NCCL supports several devices per process.</li>
 * </ul>
 * The price: a crash in native code takes all ranks down, which is also what a pod of N GPUs does. Beyond one
 * host, ranks must be processes (pipeline stages over NCCL, one pod group per model instance); that design is for
 * later.
 *
 * <h2>Built engines</h2>
 * {@code engine build --tp N} writes one weight file per rank ({@code rankR-of-N.safetensors}, see
 * {@code RankFiles}) listed in config.json, and records N in engine-manifest.json; loading such an engine at N maps
 * only the rank files, and any other size is refused.
 */
package dev.llmplatform.engine.parallel;
