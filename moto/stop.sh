#!/usr/bin/env bash
# Stops the moto server moto/start.sh started.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .cache/moto.pid ]; then
  kill "$(cat .cache/moto.pid)" 2>/dev/null || true
  rm -f .cache/moto.pid
  echo "moto: stopped"
fi
