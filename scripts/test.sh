#!/usr/bin/env bash
# The README's test command: installs what is missing (including the Lambda emulator and the
# worker bundle), starts LocalStack (the S3 store's tests
# run against it) unless it is already up, runs every test with vitest, and stops LocalStack if
# it started it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The emulated Lambda environments (tests of the Lambda backend need them).
bash scripts/setup-lambda.sh
started_localstack=0
if ! curl -sf http://127.0.0.1:4566/_localstack/health > /dev/null 2>&1; then
  bash localstack/start.sh
  started_localstack=1
fi
stop_localstack() {
  if [ "$started_localstack" = 1 ]; then bash localstack/stop.sh; fi
}
trap stop_localstack EXIT
npx vitest run "$@"
