#!/usr/bin/env bash
# The README's first command: a real Beam Python wordcount on the embedded backend.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/beam-lambda.js run examples/wordcount.py "$@"
