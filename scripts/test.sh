#!/usr/bin/env bash
# The README's test command: installs what is missing, then runs every test with vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx vitest run "$@"
