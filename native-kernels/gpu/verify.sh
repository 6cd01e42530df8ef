#!/usr/bin/env bash
# Run ON THE GPU MACHINE (after gpu/prepare.sh here, carrying native-kernels/.device), from the repo root:
#   bash native-kernels/gpu/verify.sh
# Sections (SECTIONS="..." picks some, in this order):
#   kernels   every kernel vs its CPU twin on random inputs (f32 and bf16 KV caches; every family's variants:
#             LayerNorm, parallel-residual adds, GELU, interleaved/partial rotary, clip_qkv, ALiBi, positions, ...)
#   prefill   flash-style prefill attention (tensor cores) vs paged_attention and a bf16 twin (GQA, MQA, windows, head
#             dims 64/128/256, f32/bf16 KV), the runner end to end with it, and its timing on a 2048-token prompt
#   sampling  the GPU sampler (sample_rows: temperature, top-k, top-p, min-p, seeded draw) vs the engine's SamplingRule:
#             identical ids on random rows (vocab 32000 and 128256, ties included), inside a CUDA graph, kjv-demo
#             decode steps through forwardSampled; its time at 64 x 128256 beside argmax_rows
#   fixtures  hf-tiny fixtures of every family vs transformers (logits, greedy ids; decode steps run as CUDA graphs):
#             $FIXTURES (default "llama mistral qwen2 gpt2 gptj falcon mpt bloom")
#   kjv       kjv-demo greedy continuations, six sequences batched, bf16 GEMMs and f32
#   graphs    CUDA-graph decode steps (padded to buckets) vs kernel-by-kernel, f32 and bf16 KV
#   runtime   the engine's EngineRuntime driving the runner (in-flight batching, preemption, cancellation)
#   energy    NVML's energy counter, and the runtime charging every step's joules to requests
#   leak      device memory before/after $LEAK_REQUESTS (10000) requests with cancellations
#   bench     GpuBench on random-weight checkpoints of $SHAPES ("llama-1b llama-7b"), written to /tmp if absent:
#             decode at $BATCHES ("1 8 64 256"), prompt 128 + 128 new tokens, energy, prefill 2048, GEMMs
#   serving   128 requests through the runtime, in-flight vs static batching (llama-1b)
#   tp        tensor parallelism: the fixtures and kjv-demo at TP=2 on GPU 0 twice (copy+add) and on GPUs 0,1 (NCCL,
#             and the one-shot peer all-reduce, which is first checked alone bit for bit) against TP=1 and
#             transformers, the runtime on the split model, a failing rank; then TpBench on $TP_SHAPES (default
#             "llama-1b"; llama-70b is built from one random layer): logits at TP=$TP_SIZES vs TP=1 (bf16 tolerance),
#             decode at $TP_BATCHES ("1 64"), TP=1 vs TP=$TP_SIZES
#             ("2") with each all-reduce, the all-reduce's share of a step, its bus bandwidth, the bandwidth floor
#             ($TP_SHAPES="" skips it). Needs two GPUs (not in the default set) and libnccl.so.2 (found under / if
#             not on LD_LIBRARY_PATH).
#   peer      gpu/peer.py: transformers generate() with a static cache (compiled), $PEER_BATCHES ("1 64") for each
#             of $PEER_SHAPES (default $SHAPES)
#   compare   gpu/compare.py: ours beside the peer's, with ratios
# Prints PASS/FAIL lines and a summary; full output and the JSON lines under $OUT when set.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
d=.device
sections=${SECTIONS:-kernels prefill sampling fixtures kjv graphs runtime energy leak bench serving peer compare}
shapes=${SHAPES:-llama-1b llama-7b}
out=${OUT:-/tmp/verify-out}
mkdir -p "$out"
export BENCH_JSON_OURS=$out/bench-ours.jsonl BENCH_JSON_PEER=$out/bench-peer.jsonl
rm -f "$BENCH_JSON_OURS" "$BENCH_JSON_PEER"
mkdir -p /tmp/jre && tar -xJf $d/jre.tar.xz -C /tmp/jre || { echo "FAIL no JRE in $d (run gpu/prepare.sh)"; exit 1; }
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
# NVLink multicast stays off: on a shared multi-GPU host a program that uses it can take every GPU out of service
# (NcclGroup refuses to start without this).
export NCCL_NVLS_ENABLE=0
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,power.draw --format=csv,noheader
jvm=(/tmp/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m -Xmx32g -cp "$d/lib/*")
declare -A rc
ran=()
step() {
  local name=$1; shift
  echo "=== $name"; local t0=$SECONDS
  # On timeout: SIGQUIT first (a JVM prints every thread's stack, which shows where it hangs), SIGKILL 10 s later.
  timeout -s QUIT -k 10 "${LIMIT:-300}" "$@"; rc[$name]=$?; ran+=("$name")
  echo "=== $name: rc ${rc[$name]} in $((SECONDS - t0)) s"
}
V=dev.llmplatform.nativekernels.GpuVerify
for s in $sections; do
  case $s in
    kernels)  step kernels "${jvm[@]}" $V kernels ;;
    prefill)  step prefill "${jvm[@]}" dev.llmplatform.nativekernels.PrefillAttentionChecks ;;
    sampling) step sampling "${jvm[@]}" $V sampling ../models/kjv-demo ;;
    fixtures) step fixtures "${jvm[@]}" $V fixture $(for f in ${FIXTURES:-llama mistral qwen2 gpt2 gptj falcon mpt bloom}; do echo $d/fixtures/$f; done) ;;
    kjv)      step kjv "${jvm[@]}" $V kjv ../models/kjv-demo ;;
    graphs)   step graphs "${jvm[@]}" $V graphs ../models/kjv-demo ;;
    runtime)  step runtime "${jvm[@]}" $V runtime ../models/kjv-demo ;;
    energy)   step energy "${jvm[@]}" $V energy ../models/kjv-demo ;;
    leak)     step leak "${jvm[@]}" $V leak ../models/kjv-demo "${LEAK_REQUESTS:-10000}" ;;
    bench)
      for shape in $shapes; do
        export BENCH_JSON=$BENCH_JSON_OURS
        step "bench-$shape" "${jvm[@]}" dev.llmplatform.nativekernels.GpuBench \
          "$shape" "/tmp/$shape-bf16" ${BATCHES:-1 8 64 256}
      done ;;
    tp)
      if ! ldconfig -p 2>/dev/null | grep -q libnccl.so.2; then
        nccl=$(find / -xdev -name 'libnccl.so.2' 2>/dev/null | head -1)
        [ -n "$nccl" ] && export LD_LIBRARY_PATH=$(dirname "$nccl"):$LD_LIBRARY_PATH
        echo "libnccl.so.2: ${nccl:-not found}"
      fi
      # Separate processes: one whose NCCL communicators were aborted (the failure check) is not reused.
      for mode in one-gpu two-gpus; do
        step "tp-$mode" "${jvm[@]}" $V tp $mode ../models/kjv-demo $d/fixtures/llama $d/fixtures/mistral $d/fixtures/qwen2
      done
      for shape in ${TP_SHAPES-llama-1b}; do
        export BENCH_JSON=$BENCH_JSON_OURS
        step "tp-bench-$shape" "${jvm[@]}" dev.llmplatform.nativekernels.TpBench "$shape" "/tmp/$shape-bf16" ${TP_BATCHES:-1 64}
      done ;;
    serving)  step serving "${jvm[@]}" $V serving /tmp/llama-1b-bf16 "${SERVING_REQUESTS:-128}" ;;
    peer)
      for shape in ${PEER_SHAPES:-$shapes}; do
        export BENCH_JSON=$BENCH_JSON_PEER PYTHONUNBUFFERED=1
        LIMIT=${PEER_LIMIT:-400} step "peer-$shape" python3 gpu/peer.py "/tmp/$shape-bf16" "$shape" ${PEER_BATCHES:-1 64}
      done ;;
    compare)  echo "=== ours beside the peer (same run)"; python3 gpu/compare.py "$BENCH_JSON_OURS" "$BENCH_JSON_PEER" ;;
    *) echo "unknown section $s"; exit 2 ;;
  esac
done
echo "=== SUMMARY"
fail=0
for s in "${ran[@]}"; do echo "$s: $([ "${rc[$s]}" = 0 ] && echo PASS || echo "FAIL (rc ${rc[$s]})")"; [ "${rc[$s]}" = 0 ] || fail=1; done
exit $fail
