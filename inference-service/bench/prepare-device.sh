#!/usr/bin/env bash
# Packs the service for a machine without Java (the GPU machine of the device tool), into inference-service/.device
# (git-ignored): a jlink runtime with the modules Spring Boot needs, and the application's classes and jars, both
# stored uncompressed so that xz packs them well (~37 MB together: with the working tree, under the 64 MiB a device
# call carries). Then, from the repository root:
#   run(command="bash inference-service/bench/device-bench.sh [benchmark args]", carry=["inference-service/.device"])
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/.." && pwd)
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
cd "$root"
[ "${SKIP_BUILD:-0}" = 1 ] || ./mvnw -B -q -ntp -pl inference-service -am package -DskipTests
d="$here/.device"
mkdir -p "$d"
if [ ! -f "$d/jre.tar.xz" ]; then
  # Like ../shared/gpu/make-jre.sh, but with the modules file stored uncompressed: xz then packs it to ~21 MB
  # instead of ~34 MB (java.desktop is there for java.beans, which Spring needs).
  jre=$(mktemp -d)/jre
  "$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.unsupported,java.logging,jdk.incubator.vector,java.management,java.naming,java.net.http,java.xml,java.desktop \
    --strip-debug --no-man-pages --no-header-files --compress=zip-0 --output "$jre"
  strip --strip-unneeded "$jre/lib/server/libjvm.so"
  tar -C "$jre" -cJf "$d/jre.tar.xz" .
  rm -rf "$(dirname "$jre")"
fi
tmp=$(mktemp -d)
(cd "$tmp" && unzip -q "$here"/target/inference-service-*-SNAPSHOT.jar 'BOOT-INF/*')
mkdir -p "$tmp/app/lib"
mv "$tmp/BOOT-INF/classes" "$tmp/app/classes"
python3 - "$tmp/BOOT-INF/lib" "$tmp/app/lib" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
for j in sorted(os.listdir(src)):
    with zipfile.ZipFile(os.path.join(src, j)) as zin, zipfile.ZipFile(os.path.join(dst, j), 'w', zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename), compress_type=zipfile.ZIP_STORED)
PY
tar -C "$tmp/app" -cJf "$d/app.tar.xz" .
rm -rf "$tmp"
du -sh "$d"/*
