#!/usr/bin/env bash
# Bundles the worker's Lambda entry (src/worker/lambda.ts) with esbuild into OUT_DIR/index.mjs,
# with the shuffle's WebAssembly kernel beside it: what the Lambda function runs. Used by
# setup-lambda.sh (the emulated environments) and cdk/docker/worker.Dockerfile (the deployed image).
#   bundle-worker.sh OUT_DIR [NODE_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bundle-worker.sh OUT_DIR [NODE_TARGET]}
target=${2:-node20}
bash scripts/build-wasm.sh
mkdir -p "$out"
npx esbuild src/worker/lambda.ts --bundle --platform=node --target="$target" --format=esm --outfile="$out/index.mjs" \
  --log-level=warning \
  --banner:js="import { createRequire as __blrRequire } from 'node:module'; const require = __blrRequire(import.meta.url);"
cp build/wasm/grouping.wasm "$out/grouping.wasm"
