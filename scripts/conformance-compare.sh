#!/usr/bin/env bash
# Runs a fixed set of Beam's own Python tests (test/conformance/run_beam_suites.py: the
# ValidatesRunner tests of pipeline_test, metric_test and apache_beam.transforms, plus every test
# of transforms.{util,combiners,window,sideinputs,core}_test) on our job server and on Beam's
# Prism runner, then prints both runners' counts side by side and the tests that pass on Prism
# but not on ours. Takes a long while (tens of minutes per runner on 2 cores).
#
#   bash scripts/conformance-compare.sh [--out DIR] [--runners ours,prism] [run_beam_suites.py args...]
#
# --out DIR (default /tmp/conformance) receives ours.json, prism.json and the pytest logs;
# --runners ours or prism runs one side and compares with the other side's existing JSON.
# Other arguments (e.g. --suites validatesrunner, -k EXPR, --timeout 120) go to run_beam_suites.py.
# Starts a job server on a free port and stops it (and its workers) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

out=/tmp/conformance
runners=ours,prism
passthrough=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --runners) runners=$2; shift 2 ;;
    *) passthrough+=("$1"); shift ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)

bash scripts/setup.sh
py="$repo/.venv/bin/python"

server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    echo "conformance: stopping job server (pid $server_pid)"
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
    # The server was started in its own session: end what is left of its process group.
    kill -KILL -- "-$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A seconds
if [[ ",$runners," == *",ours,"* ]]; then
  port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  setsid node bin/beam-lambda.js job-server --host 127.0.0.1 --port "$port" > "$out/job-server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 120); do
    grep -q "listening on" "$out/job-server.log" && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$out/job-server.log"; echo "conformance: job server exited" >&2; exit 1; }
    sleep 1
  done
  grep -q "listening on" "$out/job-server.log" || { echo "conformance: job server not up after 120 s" >&2; exit 1; }
  echo "conformance: our job server on 127.0.0.1:$port (pid $server_pid, log $out/job-server.log)"
  start=$SECONDS
  "$py" test/conformance/run_beam_suites.py --endpoint "127.0.0.1:$port" --out "$out/ours.json" \
    --workdir "$out/ours-logs" ${passthrough[@]+"${passthrough[@]}"}
  seconds[ours]=$((SECONDS - start))
  cleanup
  server_pid=
fi

if [[ ",$runners," == *",prism,"* ]]; then
  prism=$(bash scripts/setup-prism.sh | tail -n 1)
  start=$SECONDS
  "$py" test/conformance/run_beam_suites.py --prism "$prism" --out "$out/prism.json" \
    --workdir "$out/prism-logs" ${passthrough[@]+"${passthrough[@]}"}
  seconds[prism]=$((SECONDS - start))
fi

[ -f "$out/ours.json" ] && [ -f "$out/prism.json" ] || { echo "conformance: need both $out/ours.json and $out/prism.json to compare"; exit 0; }

"$py" - "$out/ours.json" "$out/prism.json" <<'EOF'
import json, sys
ours, prism = (json.load(open(p)) for p in sys.argv[1:3])
kinds = ["passed", "failed", "error", "skipped", "total"]

def row(label, a, b, sa="", sb=""):
    cells = lambda c, sec: "".join(f"{c.get(k, 0):>8}" for k in kinds) + f"{sec:>9}"
    print(f"{label:<24}{cells(a, sa)}   |{cells(b, sb)}")

def secs(suite):
    return f"{suite['seconds']:.0f}" if "seconds" in suite else ""

print()
print(f"{'':<24}{'ours':^49}   |{'prism':^49}")
head = "".join(f"{k:>8}" for k in kinds) + f"{'seconds':>9}"
print(f"{'suite':<24}{head}   |{head}")
for name in list(dict.fromkeys(list(ours["suites"]) + list(prism["suites"]))):
    a, b = ours["suites"].get(name, {}), prism["suites"].get(name, {})
    row(name, a.get("counts", {}), b.get("counts", {}), secs(a), secs(b))
total = lambda s: f"{sum(x.get('seconds', 0) for x in s['suites'].values()):.0f}"
row("ALL", ours["counts"], prism["counts"], total(ours), total(prism))
row("  (ValidatesRunner)", ours.get("counts_validatesrunner", {}), prism.get("counts_validatesrunner", {}))
row("  (submitted a job)", ours.get("counts_submitting", {}), prism.get("counts_submitting", {}))

bad = ("failed", "error")
ot, pt = ours["tests"], prism["tests"]
regress = sorted(k for k, t in ot.items() if t["outcome"] in bad and pt.get(k, {}).get("outcome") == "passed")
both = sorted(k for k, t in ot.items() if t["outcome"] in bad and pt.get(k, {}).get("outcome") in bad)
better = sorted(k for k, t in ot.items() if t["outcome"] == "passed" and pt.get(k, {}).get("outcome") in bad)
other = sorted(k for k, t in ot.items() if t["outcome"] != pt.get(k, {}).get("outcome")
               and k not in regress and k not in both and k not in better)
print(f"\nPass on Prism, fail on ours ({len(regress)}):")
for k in regress:
    print(f"  {k}\n      {ot[k]['outcome']}: {ot[k]['reason'][:300]}")
print(f"\nFail on both ({len(both)}):")
for k in both:
    print(f"  {k}\n      ours {ot[k]['outcome']}: {ot[k]['reason'][:200]}\n      prism {pt[k]['outcome']}: {pt[k]['reason'][:200]}")
print(f"\nPass on ours, fail on Prism ({len(better)}):")
for k in better:
    print(f"  {k}\n      prism {pt[k]['outcome']}: {pt[k]['reason'][:200]}")
if other:
    print(f"\nOther differences ({len(other)}):")
    for k in other:
        print(f"  {k}: ours {ot[k]['outcome']}, prism {pt.get(k, {}).get('outcome', 'not run')}")
EOF
for r in ours prism; do [ -n "${seconds[$r]:-}" ] && echo "conformance: $r took ${seconds[$r]} s"; done
exit 0
