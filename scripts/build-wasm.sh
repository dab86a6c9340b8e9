#!/usr/bin/env bash
# Compiles the shuffle's WebAssembly kernels (AssemblyScript in src/shuffle/wasm/) into
# build/wasm/. Rebuilds only when a source is newer than its output.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/wasm
for src in src/shuffle/wasm/*.ts; do
  out="build/wasm/$(basename "$src" .ts).wasm"
  if [ ! -f "$out" ] || [ "$src" -nt "$out" ] || [ package-lock.json -nt "$out" ]; then
    echo "build-wasm: $src -> $out"
    npx asc "$src" -o "$out" -O3 --runtime stub --noAssert --importMemory
  fi
done
