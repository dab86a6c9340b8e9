#!/usr/bin/env bash
# Installs (once) and starts moto's server on 127.0.0.1:5005 in its own virtualenv, and waits
# until it answers. Idempotent: does nothing if it already answers.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/service.sh
venv=.cache/moto-venv
url=http://127.0.0.1:5005/moto-api/

if curl -sf "$url" > /dev/null 2>&1; then
  echo "moto: already running"
  exit 0
fi
ensure_venv moto "$venv" moto/requirements.txt moto_server
mkdir -p .cache
nohup "$venv/bin/moto_server" -H 127.0.0.1 -p 5005 > .cache/moto.log 2>&1 &
echo $! > .cache/moto.pid
wait_for_url moto "$url" 60 .cache/moto.log
