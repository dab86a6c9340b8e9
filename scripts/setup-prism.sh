#!/usr/bin/env bash
# Builds Beam's Prism runner (the Go portable runner Beam's Python SDK uses by default) at the
# version of our pinned apache-beam, once, into .cache/prism-v$VERSION/prism, and prints its path.
# Idempotent: skips the build when the binary exists. Needs Go and the Go module proxy.
# Used by scripts/conformance-compare.sh to compare our runner with Prism on Beam's test suites.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${PRISM_VERSION:-2.77.0}"
dir="$PWD/.cache/prism-v$version"
bin="$dir/prism"

if [ ! -x "$bin" ]; then
  command -v go >/dev/null || { echo "setup-prism: go is not installed" >&2; exit 1; }
  mkdir -p "$dir"
  echo "setup-prism: building prism v$version into $dir (takes a minute or two)" >&2
  # A failed build leaves no binary, so the next run retries.
  GOBIN="$dir" go install "github.com/apache/beam/sdks/v2/go/cmd/prism@v$version"
fi
echo "$bin"
