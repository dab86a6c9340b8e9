#!/usr/bin/env bash
# Installs what the runner and its tests need, idempotently: npm packages from the lockfile (with
# patches/ applied) and the project's Python virtualenv (.venv) with the pinned apache-beam.
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

want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv with $(grep -v '^#' requirements.txt | tr '\n' ' ')"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$want" > .venv/.requirements.sha256
fi

bash scripts/build-wasm.sh
