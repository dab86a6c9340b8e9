#!/usr/bin/env bash
# Installs (once) and starts moto's server on 127.0.0.1:5005 in its own virtualenv, and waits
# until it answers. Idempotent: does nothing if it already answers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=.cache/moto-venv
url=http://127.0.0.1:5005/moto-api/

if curl -sf "$url" > /dev/null 2>&1; then
  echo "moto: already running"
  exit 0
fi
want=$(sha256sum moto/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/moto_server" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "moto: installing into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r moto/requirements.txt
  echo "$want" > "$venv/.requirements.sha256"
fi
mkdir -p .cache
nohup "$root/$venv/bin/moto_server" -H 127.0.0.1 -p 5005 > "$root/.cache/moto.log" 2>&1 &
echo $! > .cache/moto.pid
for _ in $(seq 1 60); do
  if curl -sf "$url" > /dev/null 2>&1; then
    echo "moto: ready on 127.0.0.1:5005"
    exit 0
  fi
  sleep 0.5
done
echo "moto: not answering after 30 s; last log lines:" >&2
tail -20 .cache/moto.log >&2
exit 1
