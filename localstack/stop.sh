#!/usr/bin/env bash
# Stops the LocalStack that localstack/start.sh started (if any).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/service.sh
stop_pidfile localstack .cache/localstack.pid
