#!/usr/bin/env bash
# Run ON THE GPU MACHINE (after gpu/prepare.sh here, carrying native-kernels/.device), from the repo root:
#   bash native-kernels/gpu/verify.sh [bench batch sizes, default "1 8 64 256"]
# 1. kernels vs CPU twins on random inputs; 2. hf-tiny llama/mistral/qwen2 vs transformers (logits, greedy ids);
# 3. kjv-demo greedy continuations (six sequences batched, bf16 GEMMs and f32); 4. decode tokens/s on a random
# Llama-3.2-1B-shaped bf16 checkpoint written here (2.5 GB, /tmp). Prints PASS/FAIL lines and a summary.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
d=.device
batches=${*:-1 8 64 256}
mkdir -p /tmp/jre && tar -xJf $d/jre.tar.xz -C /tmp/jre || { echo "FAIL no JRE in $d (run gpu/prepare.sh)"; exit 1; }
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,power.draw --format=csv,noheader
java=(/tmp/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m -Xmx32g
      -cp "$d/lib/*" dev.llmplatform.nativekernels.GpuVerify)
declare -A rc
step() { local name=$1; shift; echo "=== $name"; local t0=$SECONDS; timeout "${LIMIT:-240}" "${java[@]}" "$@"; rc[$name]=$?; echo "=== $name: rc ${rc[$name]} in $((SECONDS - t0)) s"; }
step kernels kernels
step fixtures fixture $d/fixtures/llama $d/fixtures/mistral $d/fixtures/qwen2
step kjv-demo kjv ../models/kjv-demo
step runtime runtime ../models/kjv-demo
step bench bench /tmp/llama-1b-bf16 $batches
step serving serving /tmp/llama-1b-bf16 ${SERVING_REQUESTS:-128}
echo "=== SUMMARY"
fail=0
for s in kernels fixtures kjv-demo runtime bench serving; do echo "$s: $([ "${rc[$s]}" = 0 ] && echo PASS || echo "FAIL (rc ${rc[$s]})")"; [ "${rc[$s]}" = 0 ] || fail=1; done
exit $fail
