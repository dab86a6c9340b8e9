#!/usr/bin/env bash
# The README's test command: installs what is missing (including the Lambda emulator and the
# worker bundle, and Chromium for the UI test), type-checks and lints (ESLint, dependency-cruiser), starts LocalStack (S3, SQS,
# CloudFormation for the tests) and moto's server (ECS for the Fargate actor host) unless they are up, starts Docker and builds the two images
# `cdk deploy` ships (cached after the first build), runs every test with vitest, and stops what
# it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Types, lint rules and the layer order of docs/architecture.md, before anything is started.
npx tsc --noEmit
npm run --silent lint
# The emulated Lambda environments (tests of the Lambda backend need them).
bash scripts/setup-lambda.sh
# Debian's Chromium, for the UI test (Playwright drives it).
bash scripts/setup-browser.sh > /dev/null
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
# Docker, and the worker and job-server images (test/images runs them). docker.sh installs and
# starts the engine when needed and stops only an engine it started.
started_docker=0
if ! docker info > /dev/null 2>&1; then started_docker=1; fi
# The tests' temporary files (stores, spill files, outputs, harness and browser profiles) go under
# one directory, removed when the run ends: they are left behind otherwise (hundreds of megabytes
# a run), and repeated runs filled the disk.
test_tmp=$(mktemp -d "${TMPDIR:-/tmp}/blr-test-XXXXXX")
stop_services() {
  rm -rf "$test_tmp"
  if [ "$started_localstack" = 1 ]; then bash localstack/stop.sh; fi
  if [ "$started_moto" = 1 ]; then bash moto/stop.sh; fi
  if [ "$started_docker" = 1 ]; then bash scripts/docker.sh stop; fi
}
trap stop_services EXIT
images_started=$(date +%s)
bash scripts/docker.sh build
echo "test.sh: the images took $(( $(date +%s) - images_started )) s (engine, bases and both builds)"
TMPDIR="$test_tmp" npx vitest run "$@"
