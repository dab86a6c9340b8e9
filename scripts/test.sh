#!/usr/bin/env bash
# The README's test command: installs what is missing (including the Lambda emulator and the
# worker bundle), starts LocalStack (S3, SQS, CloudFormation for the tests) and moto's server
# (ECS for the Fargate actor host) unless they are up, runs every test with vitest, and stops
# what it started.
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
# moto's server, for the Fargate actor host's ECS calls.
started_moto=0
if ! curl -sf http://127.0.0.1:5005/moto-api/ > /dev/null 2>&1; then
  bash moto/start.sh
  started_moto=1
fi
stop_services() {
  if [ "$started_localstack" = 1 ]; then bash localstack/stop.sh; fi
  if [ "$started_moto" = 1 ]; then bash moto/stop.sh; fi
}
trap stop_services EXIT
npx vitest run "$@"
