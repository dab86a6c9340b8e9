#!/usr/bin/env bash
# Installs what running the worker as a Lambda function on this machine needs, idempotently:
# - the AWS Lambda Runtime Interface Emulator (Go, built through the module proxy),
# - the Node.js runtime interface client aws-lambda-ric (3.x: the 4.x line needs Node 22),
#   whose native part builds with autotools and cmake (installed with apt when missing),
# - the worker bundled by esbuild into build/lambda/ (what would be deployed), with the
#   shuffle's WebAssembly kernel beside it.
set -euo pipefail
cd "$(dirname "$0")/.."

RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"
RIC_VERSION="3.3.0"
LAMBDA_CACHE=".cache/lambda"
mkdir -p "$LAMBDA_CACHE/bin"

if [ "$(cat "$LAMBDA_CACHE/bin/.rie-version" 2>/dev/null)" != "$RIE_VERSION" ]; then
  echo "setup-lambda: building aws-lambda-rie@$RIE_VERSION"
  GOBIN="$PWD/$LAMBDA_CACHE/bin" go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
  echo "$RIE_VERSION" > "$LAMBDA_CACHE/bin/.rie-version"
fi

if [ ! -f "$LAMBDA_CACHE/ric/node_modules/aws-lambda-ric/dist/rapid-client.node" ] || [ "$(cat "$LAMBDA_CACHE/ric/.version" 2>/dev/null)" != "$RIC_VERSION" ]; then
  if ! command -v autoreconf >/dev/null || ! command -v cmake >/dev/null; then
    echo "setup-lambda: installing autotools and cmake (aws-lambda-ric builds its native client)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq autoconf automake libtool cmake make g++ >/dev/null
  fi
  echo "setup-lambda: installing aws-lambda-ric@$RIC_VERSION"
  rm -rf "$LAMBDA_CACHE/ric" && mkdir -p "$LAMBDA_CACHE/ric"
  nodedir=()
  [ -f /usr/include/node/node.h ] && nodedir=(--nodedir=/usr)
  (cd "$LAMBDA_CACHE/ric" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "${nodedir[@]}" "aws-lambda-ric@$RIC_VERSION")
  echo "$RIC_VERSION" > "$LAMBDA_CACHE/ric/.version"
fi

echo "setup-lambda: bundling the worker into build/lambda/"
bash scripts/bundle-worker.sh build/lambda node20
