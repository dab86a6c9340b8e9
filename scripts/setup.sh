#!/usr/bin/env bash
# Installs what the runner and its tests need, idempotently: npm packages from the lockfile (with
# patches/ applied) and the project's Python virtualenv (.venv) from requirements/test.txt: the
# worker's locked environment (requirements/worker.lock) plus the test-only packages.
# Re-running is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm packages, reinstalled when the lockfile or a patch in patches/ changed. `npm ci` runs the
# postinstall script, patch-package, which applies patches/ (see patches/README.md); a changed
# patch needs pristine files to apply to, so it too means a clean install, not a re-apply.
want_npm=$(sha256sum package-lock.json patches/*.patch | sha256sum | cut -d' ' -f1)
if [ ! -f node_modules/.package-lock.json ] || [ "$(cat node_modules/.setup-npm.sha256 2>/dev/null)" != "$want_npm" ]; then
  echo "setup: installing npm packages (npm ci, then patch-package)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want_npm" > node_modules/.setup-npm.sha256
fi

# The project's Python virtualenv: the worker's locked environment (requirements/worker.lock, the
# one the Docker images install) plus the test-only packages (requirements/test.txt includes the
# lock), re-synced when any requirements file changed. Installing is additive (`pip install -r`
# moves each package to its pin and leaves the rest), so a .venv in use is never removed.
want=$(sha256sum requirements/*.in requirements/*.lock requirements/*.txt | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$want" ]; then
  python=$(command -v python3.11 || command -v python3)
  [ -x .venv/bin/python ] || { echo "setup: creating .venv ($("$python" --version))"; "$python" -m venv .venv; }
  echo "setup: installing requirements/test.txt (requirements/worker.lock and the test-only packages) into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements/test.txt
  echo "$want" > .venv/.requirements.sha256
fi

bash scripts/build-wasm.sh
