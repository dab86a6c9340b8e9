#!/usr/bin/env bash
# The browser the UI test drives (test/e2e/ui.test.ts): Debian's Chromium, installed with apt when
# missing (so run it as root; Playwright's own browser downloads are not reachable here).
# Idempotent: prints the browser's path and returns at once when it is there.
set -euo pipefail
for candidate in chromium chromium-browser; do
  if command -v "$candidate" > /dev/null; then
    command -v "$candidate"
    exit 0
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "setup-browser: Chromium is missing; run as root to install Debian's chromium package (apt-get install chromium)" >&2
  exit 1
fi
echo "setup-browser: installing Debian's chromium" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
command -v chromium
