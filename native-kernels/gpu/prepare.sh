#!/usr/bin/env bash
# Run HERE (the build machine) before a GPU run: builds the module and fills native-kernels/.device (git-ignored)
# with what gpu/verify.sh needs on the GPU machine, which has no Java and no Maven:
#   .device/jre.tar.xz   a jlink runtime (../shared/gpu/make-jre.sh), ~19 MB
#   .device/lib/*.jar    the plain jars: this module, the engine, JavaCPP + CUDA presets, Jackson 3, ~10 MB
#   .device/fixtures/    the eight hf-tiny fixtures, one per family (from ../shared), ~4 MB
# Then:  run(command="bash native-kernels/gpu/verify.sh", carry=["native-kernels/.device"])
# (gpu/peer.py and gpu/compare.py travel with the working tree; the GPU machine has PyTorch and transformers.)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED_DIR:-$root/../shared}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
cd "$root"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  # The engine comes from ~/.m2; INSTALL_ENGINE=1 installs this checkout's engine there first.
  [ "${INSTALL_ENGINE:-0}" = 1 ] && ./mvnw -B -q -ntp install -pl inference-engine -DskipTests
  ./mvnw -B -q -ntp -f native-kernels/pom.xml package -DskipTests
fi
d="$here/.device"
rm -rf "$d/lib" "$d/fixtures"
mkdir -p "$d/lib" "$d/fixtures"
# java.xml: Jackson 3 touches org.w3c.dom when it writes config.json (random checkpoints).
[ -f "$d/jre.tar.xz" ] || bash "$shared/gpu/make-jre.sh" "$d/jre.tar.xz" java.xml
cp "$here"/target/native-kernels-*.jar "$d/lib/"
for j in inference-engine javacpp cuda jackson-core-3 jackson-databind-3 jackson-annotations; do
  cp "$here"/target/lib/$j*.jar "$d/lib/"
done
for a in llama mistral qwen2 gpt2 gptj falcon mpt bloom; do cp -r "$shared/fixtures/hf-tiny/$a" "$d/fixtures/"; done
du -sh "$d" "$d"/*
