#!/usr/bin/env bash
# Stops the moto server moto/start.sh started (if any).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/service.sh
stop_pidfile moto .cache/moto.pid
