#!/usr/bin/env bash
# Stops the LocalStack that localstack/start.sh started (if any).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .cache/localstack.pid ]; then
  pid=$(cat .cache/localstack.pid)
  kill "$pid" 2> /dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2> /dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2> /dev/null || true
  rm -f .cache/localstack.pid
  echo "localstack: stopped"
fi
