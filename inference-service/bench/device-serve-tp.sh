#!/usr/bin/env bash
# Run ON A MULTI-GPU DEVICE MACHINE from the repository root, after bench/prepare-device.sh here (carrying
# inference-service/.device): serves a model split over $TP GPUs (default 2) through the whole service, end to end,
# and checks what a CPU machine cannot:
#   1. the instance becomes ready (every rank loaded, warm-up through all of them) and says so in /actuator/health;
#   2. its greedy completions are the text the same service gives on the CPU (printed side by side; kjv-demo's
#      bf16 weights make an occasional late divergence possible, so a difference is reported, not fatal);
#   3. a stream ends with [DONE]; 16 concurrent requests all answer 200;
#   4. the GPU energy series appear in /actuator/prometheus (GpuTensorParallelModel meters all its GPUs);
#   5. without NCCL_NVLS_ENABLE=0, and at a size that does not divide the heads, the load fails naming it;
#   6. SIGTERM stops the instance within 30 s (closing the NCCL communicators).
# Logs and answers go to $OUT (or /tmp/device-serve-tp-out). Example, from the machine with the device tool:
#   run(kind="nvidia-h100-x2", carry=["inference-service/.device"],
#       command="bash inference-service/bench/device-serve-tp.sh 2>&1 | tail -150")
set -uo pipefail
TP=${TP:-2}
MODEL=${MODEL:-$PWD/models/kjv-demo}
OUT=${OUT:-/tmp/device-serve-tp-out}
mkdir -p "$OUT" /tmp/jre /tmp/app
d=inference-service/.device
tar -xJf $d/jre.tar.xz -C /tmp/jre
tar -xJf $d/app.tar.xz -C /tmp/app
nvidia-smi -L || true
# The CUDA 13 runtime, cuBLASLt and NVRTC that JavaCPP's presets load (the GPU machine's toolkit; see ../shared/gpu).
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
if ! ldconfig -p 2>/dev/null | grep -q 'libnccl\.so\.2 '; then
  nccl=$(find / -xdev -name 'libnccl.so.2' 2>/dev/null | head -1)
  [ -n "$nccl" ] && export LD_LIBRARY_PATH=$(dirname "$nccl"):${LD_LIBRARY_PATH:-}
  echo "libnccl.so.2: ${nccl:-not found}"
fi
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# start NAME PORT ARGS...: the service in the background, its log in $OUT/NAME.log
start() {
  local name=$1 port=$2; shift 2
  /tmp/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx8g \
    -cp '/tmp/app/classes:/tmp/app/lib/*' dev.llmplatform.inference.InferenceServiceApplication \
    --server.port=$port --llm.inference.model="$MODEL" --llm.inference.served-model-name=m --llm.inference.threads=4 \
    "$@" >"$OUT/$name.log" 2>&1 &
  echo $! >"$OUT/$name.pid"
}
# settle PORT: waits until readiness is UP (0) or the model failed (1); prints the health document
settle() {
  for _ in $(seq 1 300); do
    local h
    h=$(curl -s localhost:$1/actuator/health) || true
    if echo "$h" | grep -q '"state":"ready"'; then echo "$h"; return 0; fi
    if echo "$h" | grep -q '"state":"failed"'; then echo "$h"; return 1; fi
    sleep 1
  done
  echo "no answer from :$1 in 300 s"; return 1
}
stop() { kill "$(cat "$OUT/$1.pid")" 2>/dev/null; }
complete() {
  curl -s localhost:$1/v1/completions -H 'Content-Type: application/json' \
    -d "{\"model\": \"m\", \"prompt\": \"$2\", \"max_tokens\": 24, \"temperature\": 0}"
}
text() { python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])'; }

echo "== 1. TP=$TP on GPUs, and the CPU for reference"
NCCL_NVLS_ENABLE=0 start gpu 8000 --llm.inference.backend=cuda --llm.inference.tensor-parallel-size=$TP
start cpu 8001 --llm.inference.backend=cpu
settle 8000 | tee "$OUT/gpu-health.json" || fail "the TP=$TP instance did not become ready (see $OUT/gpu.log)"
settle 8001 >"$OUT/cpu-health.json" || fail "the CPU instance did not become ready"
grep -E "split over|ready in|failed" "$OUT/gpu.log"
curl -s localhost:8000/actuator/info | tee "$OUT/gpu-info.json"; echo

echo "== 2. greedy text, GPUs vs CPU"
for p in "And the LORD said unto Moses," "In the beginning God" "Blessed are the"; do
  g=$(complete 8000 "$p" | tee -a "$OUT/answers.jsonl" | text)
  c=$(complete 8001 "$p" | text)
  if [ "$g" = "$c" ]; then echo "same: $p$g"; else echo "DIFFERENT: $p"; echo "  gpu: $g"; echo "  cpu: $c"; fi
done

echo "== 3. a stream, then 16 requests at once"
curl -sN localhost:8000/v1/completions -H 'Content-Type: application/json' \
  -d '{"model": "m", "prompt": "And it came to pass", "max_tokens": 32, "stream": true}' >"$OUT/stream.txt"
# SSE events end with a blank line: the last non-blank line must be the [DONE] event.
grep -v '^\s*$' "$OUT/stream.txt" | tail -1 | grep -q '^data: \[DONE\]' || fail "the stream did not end with [DONE]"
codes=$(seq 1 16 | xargs -P 16 -I{} curl -s -o /dev/null -w '%{http_code}\n' localhost:8000/v1/completions \
  -H 'Content-Type: application/json' -d '{"model": "m", "prompt": "Thou shalt", "max_tokens": 64, "seed": {}}' | sort | uniq -c)
echo "$codes"
echo "$codes" | grep -qv ' 200$' && fail "not every concurrent request answered 200"

echo "== 4. GPU energy metrics"
curl -s localhost:8000/actuator/prometheus | grep -E '^llm_gpu_|^llm_model_ready' | tee "$OUT/gpu-metrics.txt"
grep -q '^llm_gpu_energy_joules_total' "$OUT/gpu-metrics.txt" || echo "(no llm_gpu_energy_joules_total: NVML unreadable here, or the runner meters nothing)"

echo "== 6. SIGTERM"
t0=$(date +%s); stop gpu; stop cpu
for _ in $(seq 1 30); do kill -0 "$(cat "$OUT/gpu.pid")" 2>/dev/null || break; sleep 1; done
if kill -0 "$(cat "$OUT/gpu.pid")" 2>/dev/null; then fail "still running 30 s after SIGTERM"; kill -9 "$(cat "$OUT/gpu.pid")"; fi
echo "stopped in $(( $(date +%s) - t0 )) s"

echo "== 5. refusals"
(unset NCCL_NVLS_ENABLE; start no-nvls 8002 --llm.inference.backend=cuda --llm.inference.tensor-parallel-size=$TP)
# (settle answers 1 for a failed load, which is what these expect: its output is what counts)
settle 8002 >"$OUT/no-nvls-health.json"
grep -q 'NCCL_NVLS_ENABLE=0 is not set' "$OUT/no-nvls-health.json" || fail "without NCCL_NVLS_ENABLE the failure does not name it"
stop no-nvls
NCCL_NVLS_ENABLE=0 start tp3 8003 --llm.inference.backend=cuda --llm.inference.tensor-parallel-size=3
settle 8003 >"$OUT/tp3-health.json"
grep -qE 'does not divide|GPU\(s\) are visible' "$OUT/tp3-health.json" \
  || fail "TP=3 did not fail with the shard plan's or the GPU count's message"
stop tp3

echo "== $fails failure(s); logs in $OUT"
[ "$fails" = 0 ]
