#!/usr/bin/env bash
# Runs sampling.cuh's kernel on the host (no GPU) against the engine's SamplingRule; needs g++ (C++20) and the
# engine's compiled classes (./mvnw -o compile -pl inference-engine). Usage: bash run.sh [ROWS VOCAB SEED]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
g++ -std=c++20 -O1 -ffp-contract=off -pthread -o "$work/harness" "$here/harness.cpp"
cd "$work"
"${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java" -Dharness="$work/harness" \
  -cp "$root/inference-engine/target/classes" "$here/EmulateSampling.java" "${1:-60}" "${2:-500}" "${3:-1}"
rm -rf "$work"
