#!/usr/bin/env bash
# Compiles requirements/worker.in into requirements/worker.lock: every package the SDK harness's
# environment installs, transitive ones included, pinned `name==version` (no hashes).
#
#   bash scripts/lock-python.sh                       # after editing worker.in: keeps the other pins
#   bash scripts/lock-python.sh --upgrade             # re-resolves everything to the newest allowed
#   bash scripts/lock-python.sh --upgrade-package X   # moves one package (repeatable)
#
# It resolves with uv's pip-compile (pinned, in a tool virtualenv under .cache/) for an explicit
# target rather than for the machine it runs on: CPython 3.11.2 on Linux x86_64 with glibc 2.34.
# 3.11.2 is the oldest 3.11 the lock is installed on (Debian bookworm's python3, in
# cdk/docker/job-server.Dockerfile; a package requiring e.g. Python >=3.11.5 would not install
# there), glibc 2.34 the oldest C library (Amazon Linux 2023, the Lambda base image of
# cdk/docker/worker.Dockerfile). Without --upgrade, pins already in worker.lock are kept, so
# re-running it on an unchanged worker.in rewrites the same file.
# Then run scripts/setup.sh to sync .venv (test/cdk/python-lock.test.ts checks .venv against the
# lock) and scripts/python-footprint.py for the image-size numbers in cdk/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=.cache/lock-tools-venv
tool_pins="uv==0.13.8"
if [ ! -x "$tools/bin/uv" ] || [ "$(cat "$tools/.pins" 2>/dev/null)" != "$tool_pins" ]; then
  echo "lock-python: installing $tool_pins into $tools"
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install --quiet --disable-pip-version-check $tool_pins
  echo "$tool_pins" > "$tools/.pins"
fi

"$tools/bin/uv" pip compile --quiet --no-config --no-python-downloads \
  --python-version 3.11.2 --python-platform x86_64-manylinux_2_34 \
  --custom-compile-command "bash scripts/lock-python.sh" \
  --output-file requirements/worker.lock "$@" requirements/worker.in
# uv's header names the command; say what the lock is for, and where to edit, under it.
sed -i '2a # For CPython 3.11 (3.11.2 or later) on Linux x86_64 (glibc 2.34 or later). Edit\
# requirements/worker.in, not this file; see requirements/README.md.' requirements/worker.lock
echo "lock-python: requirements/worker.lock has $(grep -cE '^[A-Za-z0-9]' requirements/worker.lock) packages"
