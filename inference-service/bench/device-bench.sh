#!/usr/bin/env bash
# Run ON THE DEVICE MACHINE from the repository root, after bench/prepare-device.sh here (carrying
# inference-service/.device): unpacks the runtime and the application and runs ServingOverheadBenchmark on the
# bundled model with the given arguments (default: 256 requests at concurrency 32, 3 rounds).
set -euo pipefail
d=inference-service/.device
mkdir -p /tmp/jre /tmp/app
tar -xJf $d/jre.tar.xz -C /tmp/jre
tar -xJf $d/app.tar.xz -C /tmp/app
echo "$(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--requests 256 --concurrency 32 --max-running 32 --rounds 3)
exec /tmp/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g \
  -cp '/tmp/app/classes:/tmp/app/lib/*' dev.llmplatform.inference.bench.ServingOverheadBenchmark "${args[@]}"
