#!/bin/sh
# Builds the fused kernels (*.c here) into one library in the engine's classes, where NativeKernels.java
# loads it from. Without a C compiler, or on another platform, the engine runs the same functions as
# ND4J ops instead (slower, and rounded differently in the last bits): say so and go on.
# Usage: build.sh CLASSES_DIR JAVA_HOME
set -u
dir="$(dirname "$0")"
out="$1/dev/loupe/engine/native/linux-x86_64"
lib="$out/libloupe-kernels.so"
if [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "[loupe] kernels: built for Linux x86-64 only; the engine uses ND4J ops instead"
  exit 0
fi
if ! command -v cc >/dev/null 2>&1; then
  echo "[loupe] kernels: no C compiler (cc); install gcc for the fused kernels (the engine uses ND4J ops instead)"
  exit 0
fi
[ -f "$lib" ] && [ -z "$(find "$dir" -newer "$lib" -print -quit)" ] && exit 0
mkdir -p "$out"
# -ffp-contract=off: the source alone decides which products are fused, so every build rounds alike.
if cc -O3 -mavx2 -mfma -ffp-contract=off -fPIC -shared -I"$2/include" -I"$2/include/linux" \
    "$dir"/*.c -o "$lib.tmp" -lm; then
  mv "$lib.tmp" "$lib"
else
  rm -f "$lib.tmp"
  echo "[loupe] kernels: the C build failed (see above); the engine uses ND4J ops instead"
fi
