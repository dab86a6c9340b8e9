#!/usr/bin/env bash
# Installs (once) and starts LocalStack in host mode on 127.0.0.1:4566, offline settings, and
# waits until it is healthy. Idempotent: does nothing if LocalStack already answers.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/service.sh
root=$PWD
venv=.cache/localstack-venv
health=http://127.0.0.1:4566/_localstack/health

if curl -sf "$health" > /dev/null 2>&1; then
  echo "localstack: already running"
  exit 0
fi
ensure_venv localstack "$venv" localstack/requirements.txt python

mkdir -p .cache/localstack-data
# Run from a neutral directory: the project's folders must not shadow LocalStack's modules.
(
  cd /tmp
  GATEWAY_LISTEN=127.0.0.1:4566 LOCALSTACK_HOST=localhost:4566 SQS_ENDPOINT_STRATEGY=path \
  DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=1 \
  FILESYSTEM_ROOT="$root/.cache/localstack-data" \
  nohup "$root/$venv/bin/python" -m localstack.runtime.main > "$root/.cache/localstack.log" 2>&1 &
  echo $! > "$root/.cache/localstack.pid"
)
wait_for_url localstack "$health" 240 .cache/localstack.log
