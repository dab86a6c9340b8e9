"""Runs a fixed set of Beam's own Python tests (from the apache-beam wheel) on one runner and
writes a JSON summary of every test's outcome.

    .venv/bin/python test/conformance/run_beam_suites.py --endpoint localhost:8099 --out ours.json
    .venv/bin/python test/conformance/run_beam_suites.py --prism .cache/prism-v2.77.0/prism --out prism.json

--endpoint submits with `--runner=PortableRunner --job_endpoint=HOST:PORT`, --prism with
`--runner=PrismRunner --prism_location=PATH` (Prism started by the SDK, once per pytest process);
both run the SDK harness LOOPBACK, inside the pytest process.

The test set (pytest, one process per suite, results from --junitxml):
- suite `validatesrunner`: the tests marked it_validatesrunner (`-m it_validatesrunner`) in
  apache_beam.pipeline_test, apache_beam.metrics.metric_test and every apache_beam.transforms
  test module of the wheel that has such tests, except the modules below;
- one suite per module, every test: apache_beam.transforms.{util,combiners,window,sideinputs,
  core}_test (their ValidatesRunner tests run there).
Tests that build their pipeline with TestPipeline() run on the chosen runner; tests that build
`beam.Pipeline()` or name a runner themselves run where they say (the same on both runners).

Each test has a timeout (pytest-timeout, signal method, --timeout seconds), and each suite a
wall-clock limit. If a pytest process dies mid-suite, the test it was running is recorded as an
error and a new process resumes with the rest. `--only NODEID ...` reruns just those tests (e.g.
after a transient failure; nodeids of other test modules run as suite `adhoc`) and, with
`--merge`, updates them in an existing summary. pytest-xdist is not used: on 2 cores the runner
under test, not pytest, is the bottleneck.

Summary: {"runner", "pipeline_options", "suites": {name: {seconds, counts, exit_code, ...}},
"counts", "counts_validatesrunner", "counts_submitting", "tests": {nodeid: {outcome:
passed|failed|skipped|error, reason, suite, validatesrunner, seconds, runner_jobs}}}. `reason`
is the failure's message, shortened to 400 characters (for a failed job: its head and the
worker traceback's last exception line); `runner_jobs` is how many jobs the test submitted to
the runner under test (0: it ran on the DirectRunner or ran no pipeline).
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))

FULL_MODULES = [
    "apache_beam.transforms.util_test",
    "apache_beam.transforms.combiners_test",
    "apache_beam.transforms.window_test",
    "apache_beam.transforms.sideinputs_test",
    "apache_beam.transforms.core_test",
]
VR_MARKER = "it_validatesrunner"


def beam_root():
    import apache_beam

    return os.path.dirname(os.path.dirname(os.path.abspath(apache_beam.__file__)))


def vr_modules():
    """pipeline_test, metric_test and the transforms test modules that have ValidatesRunner tests."""
    root = beam_root()
    mods = ["apache_beam.pipeline_test", "apache_beam.metrics.metric_test"]
    for path in sorted(glob.glob(os.path.join(root, "apache_beam", "transforms", "*_test.py"))):
        mod = "apache_beam.transforms." + os.path.basename(path)[:-3]
        if mod in FULL_MODULES:
            continue
        with open(path, encoding="utf-8") as f:
            if VR_MARKER in f.read():
                mods.append(mod)
    return mods


def suites():
    out = {"validatesrunner": {"modules": vr_modules(), "marker": VR_MARKER}}
    for mod in FULL_MODULES:
        out[mod.rsplit(".", 1)[1]] = {"modules": [mod], "marker": None}
    return out


def nodeid_of(classname, name, modules):
    """junit classname "apache_beam.transforms.util_test.ReshuffleTest" + name -> pytest nodeid."""
    for mod in sorted(modules, key=len, reverse=True):
        if classname == mod or classname.startswith(mod + "."):
            rest = classname[len(mod) + 1:]
            parts = [mod.replace(".", "/") + ".py"] + (rest.split(".") if rest else []) + [name]
            return "::".join(parts)
    return "::".join(p for p in (classname, name) if p)


def short(text, n=400):
    text = re.sub(r"\s+", " ", text or "").strip()
    return text[:n]


EXC_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Failure|Timeout)\b:?.*")


def reason_of(elem):
    """The failure's message, shortened: when it carries a worker's traceback, its head and the
    traceback's last exception line; when it is bare, the `E` lines of pytest's report."""
    msg = elem.get("message") or ""
    body = elem.text or ""
    e_lines = [l[1:].strip() for l in body.splitlines() if l.startswith("E ")]
    rpc = re.search(r'status = (StatusCode\.\w+)\s+details = "(.*?)"\s+debug_error_string', msg, re.S)
    if rpc:
        msg = f"{msg.split(':', 1)[0]}: {rpc.group(1)}: {rpc.group(2)}"
    elif "Traceback (most recent call last)" in msg:
        head = msg.split("Traceback (most recent call last)")[0].strip()
        last = [l for l in (e_lines or msg.splitlines()) if EXC_LINE.match(l.strip())]
        if last:
            msg = f"{head} ... {last[-1].strip()}"
    elif len(msg.strip()) < 40:
        # A bare message ("AssertionError"): pytest's `E` lines, or a native traceback's last line.
        tail = e_lines or [l.strip() for l in body.splitlines() if l.strip()][-1:]
        if tail:
            msg = (msg + " | " if msg else "") + " ".join(tail)
    return short(msg), body[-3000:]


def parse_junit(path, modules, suite):
    tests = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        nodeid = nodeid_of(case.get("classname", ""), case.get("name", ""), modules)
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        outcome, reason, detail = "passed", "", ""
        for tag in ("skipped", "error", "failure"):  # the last found wins: failure > error > skipped
            elem = case.find(tag)
            if elem is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                reason, detail = reason_of(elem)
        if outcome == "skipped":
            detail = ""
        tests[nodeid] = {
            "outcome": outcome,
            "reason": reason,
            "suite": suite,
            "validatesrunner": VR_MARKER in (props.get("markers") or "").split(","),
            "seconds": round(float(case.get("time") or 0), 2),
            # Jobs the test submitted to the runner under test (0: it ran elsewhere, or not at all).
            "runner_jobs": int(props["runner_jobs"]) if props.get("runner_jobs") else None,
            **({"detail": detail} if detail else {}),
        }
    return tests


def count(tests):
    c = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
    for t in tests.values():
        c[t["outcome"]] += 1
    c["total"] = len(tests)
    return c


def pytest_cmd(args, pipeline_options, junit):
    return [
        sys.executable, "-m", "pytest",
        "-p", "beam_pytest_plugin", "-p", "no:cacheprovider", "--beam-record-jobs",
        "--rootdir", beam_root(),
        # As Beam's pytest.ini: only unittest classes are tests.
        "-o", "python_classes=", "-o", "python_functions=", "-o", "junit_family=xunit2",
        "-o", "junit_logging=no", "-o", "console_output_style=classic",
        "--timeout", str(args.timeout), "--timeout-method", "signal",
        # Native tracebacks: pytest's own formatter can die on the deep tracebacks of failed jobs
        # (INTERNALERROR "AST constructor recursion depth mismatch" on Python 3.11), ending the run.
        "--tb=native", "-rfEs",
        *(["--junitxml", junit] if junit else []),
        f"--test-pipeline-options={pipeline_options}",
    ]


def selection(spec, args, only):
    if only:
        return list(only)
    sel = ["-m", spec["marker"]] if spec["marker"] else []
    if args.k:
        sel += ["-k", args.k]
    return sel + ["--pyargs"] + spec["modules"]


def pytest_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    return env


def collect(spec, args, pipeline_options, only):
    """The suite's nodeids in run order, to resume after a crash (None if collection fails)."""
    cmd = pytest_cmd(args, pipeline_options, None) + ["--collect-only", "-q"] + selection(spec, args, only)
    proc = subprocess.run(cmd, cwd=beam_root(), env=pytest_env(), capture_output=True, text=True)
    ids = [l.strip() for l in proc.stdout.splitlines() if "::" in l and not l.startswith(" ")]
    return ids if proc.returncode in (0, 5) else None


def run_suite(name, spec, args, pipeline_options, workdir, only=None):
    """Runs the suite in one pytest process; if that process dies (pytest INTERNALERROR, a crash,
    the suite's time limit), the test it was running is recorded as an error and a new process
    runs the tests it had not reached."""
    log = os.path.join(workdir, f"{name}.log")
    collected = collect(spec, args, pipeline_options, only)
    start = time.time()
    print(f"[{args.label}] suite {name}: starting ({len(collected) if collected is not None else '?'} tests"
          f" in {len(spec['modules'])} modules)", flush=True)
    tests, crashed, junits, exit_codes = {}, {}, [], []
    targets = selection(spec, args, only)
    with open(log, "w") as logf:
        for attempt in range(1, 51):
            junit = os.path.join(workdir, f"{name}.xml" if attempt == 1 else f"{name}.{attempt}.xml")
            if os.path.exists(junit):
                os.remove(junit)  # a crashed pytest must not leave an earlier run's results in place
            cmd = pytest_cmd(args, pipeline_options, junit) + targets
            logf.write(f"\n### attempt {attempt}: {' '.join(cmd)}\n\n")
            logf.flush()
            log_start = logf.tell()
            proc = subprocess.Popen(cmd, cwd=beam_root(), env=pytest_env(), stdout=logf, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            budget = args.suite_timeout - (time.time() - start)
            try:
                exit_code = proc.wait(timeout=max(budget, 1))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 15)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()
                exit_code = "killed: suite timeout"
            exit_codes.append(exit_code)
            try:  # what the session left behind, e.g. the Prism job server of a pytest that died
                os.killpg(proc.pid, 15)
            except ProcessLookupError:
                pass
            if os.path.exists(junit):
                junits.append(junit)
                found = parse_junit(junit, spec["modules"], name)
                if collected:  # pytest's own "internal error" entry: the crashed test stands for it
                    found = {k: t for k, t in found.items() if not k.startswith("pytest::")}
                tests.update(found)
            # pytest writes the junit file when its session ends, even on an INTERNALERROR; a
            # process that died (os._exit, a signal) leaves none.
            finished = exit_code in (0, 1, 5) and os.path.exists(junit)
            if finished or exit_code == 4 or not collected:  # 4: usage error, resuming won't help
                break
            missing = [n for n in collected if n not in tests and n not in crashed]
            if not missing:
                break
            with open(log) as f:
                f.seek(log_start)
                out = f.read()
            internal = [l for l in out.splitlines() if l.startswith("INTERNALERROR>")]
            why = internal[-1] if internal else out[-300:]
            crashed[missing[0]] = short(f"pytest ended (exit {exit_code}) while running this test: {why}")
            print(f"[{args.label}] suite {name}: pytest ended (exit {exit_code}) in {missing[0]}; "
                  f"resuming with {len(missing) - 1} tests", flush=True)
            if exit_code == "killed: suite timeout":
                for n in missing[1:]:
                    crashed[n] = "not run: suite time limit reached"
                break
            targets = missing[1:]
            if not targets:
                break
        else:
            for n in targets:
                crashed[n] = "not run: pytest crashed 50 times in this suite"
    for nodeid, reason in crashed.items():
        tests[nodeid] = {"outcome": "error", "reason": reason, "suite": name, "validatesrunner": False,
                         "seconds": 0, "runner_jobs": None}
    seconds = round(time.time() - start, 1)
    if not tests and not (exit_codes[-1] in (0, 5) and junits):
        with open(log) as f:
            tail = f.read()[-1500:]
        tests[f"{name}::<suite>"] = {"outcome": "error", "reason": short(f"pytest exit {exit_codes[-1]}: {tail}"),
                                     "suite": name, "validatesrunner": False, "seconds": seconds}
    c = count(tests)
    print(f"[{args.label}] suite {name}: {seconds}s exit={exit_codes} {c}", flush=True)
    return {"modules": spec["modules"], "marker": spec["marker"], "seconds": seconds, "exit_code": exit_codes,
            "counts": c, "log": log, "junit": junits, "crashed": crashed}, tests


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--endpoint", help="HOST:PORT of a job service (PortableRunner, LOOPBACK)")
    which.add_argument("--prism", help="path of a Prism binary (PrismRunner, LOOPBACK)")
    ap.add_argument("--out", required=True, help="JSON summary to write")
    ap.add_argument("--workdir", help="where junit xml and pytest logs go (default: next to --out)")
    ap.add_argument("--suites", help="comma-separated subset of: " + ",".join(suites()))
    ap.add_argument("-k", help="pytest -k expression, to narrow the set (debugging)")
    ap.add_argument("--timeout", type=int, default=300, help="per-test timeout, seconds (300)")
    ap.add_argument("--suite-timeout", type=int, default=4 * 3600, help="per-suite wall clock, seconds")
    ap.add_argument("--extra-options", default="", help="more pipeline options for every TestPipeline")
    ap.add_argument("--only", nargs="+", metavar="NODEID", help="run only these tests (nodeids of a summary)")
    ap.add_argument("--merge", action="store_true", help="with --only: update these tests in an existing --out")
    ap.add_argument("--reparse", action="store_true",
                    help="rebuild --out from the junit files it names (after changing how reasons are read)")
    args = ap.parse_args()

    if args.endpoint:
        args.label = "endpoint " + args.endpoint
        pipeline_options = f"--runner=PortableRunner --job_endpoint={args.endpoint} --environment_type=LOOPBACK"
    else:
        prism = os.path.abspath(args.prism)
        if not os.access(prism, os.X_OK):
            ap.error(f"no executable Prism at {prism} (scripts/setup-prism.sh builds one)")
        args.label = "prism"
        pipeline_options = f"--runner=PrismRunner --prism_location={prism} --environment_type=LOOPBACK"
    if args.extra_options:
        pipeline_options += " " + args.extra_options

    out = os.path.abspath(args.out)
    workdir = os.path.abspath(args.workdir or os.path.splitext(out)[0] + "-logs")
    os.makedirs(workdir, exist_ok=True)
    all_suites = suites()

    summary = {"runner": args.label, "pipeline_options": pipeline_options, "suites": {}, "tests": {}}
    if args.merge and os.path.exists(out):
        with open(out) as f:
            summary = json.load(f)

    if args.reparse:
        with open(out) as f:
            summary = json.load(f)
        summary["tests"] = {}
        def reparse(info, name, **extra):
            junits = info["junit"] if isinstance(info["junit"], list) else [info["junit"]]
            for junit in junits:
                for nodeid, t in parse_junit(junit, info.get("modules") or all_suites[name]["modules"], name).items():
                    if not (info.get("crashed") and nodeid.startswith("pytest::")):
                        summary["tests"][nodeid] = {**t, **extra}
            for nodeid, reason in (info.get("crashed") or {}).items():
                summary["tests"][nodeid] = {"outcome": "error", "reason": reason, "suite": name,
                                            "validatesrunner": False, "seconds": 0, "runner_jobs": None, **extra}

        for name, info in summary["suites"].items():
            reparse(info, name)
        for rerun in summary.get("reruns", []):
            reparse(rerun, rerun["suite"], rerun=True)
    elif args.only:
        by_suite = {}
        for nodeid in args.only:
            suite = summary["tests"].get(nodeid, {}).get("suite") or next(
                (n for n, s in all_suites.items()
                 if any(nodeid.startswith(m.replace(".", "/") + ".py") for m in s["modules"])), "adhoc")
            by_suite.setdefault(suite, []).append(nodeid)
        # Tests of other modules (apache_beam/x/y_test.py::...) run as suite "adhoc".
        all_suites["adhoc"] = {"modules": sorted({i.split("::")[0][:-3].replace("/", ".")
                                                  for i in by_suite.get("adhoc", [])}), "marker": None}
        for suite, ids in by_suite.items():
            n = len(summary.get("reruns", [])) + 1
            info, tests = run_suite(f"{suite}-rerun{n}", all_suites[suite], args, pipeline_options, workdir, only=ids)
            for nodeid, t in tests.items():
                t["suite"] = suite
                t["rerun"] = True
                summary["tests"][nodeid] = t
            summary.setdefault("reruns", []).append(
                {"suite": suite, "tests": ids, "modules": info["modules"], "seconds": info["seconds"], "junit": info["junit"],
                 "crashed": info["crashed"]})
    else:
        names = args.suites.split(",") if args.suites else list(all_suites)
        unknown = [n for n in names if n not in all_suites]
        if unknown:
            ap.error(f"unknown suite(s) {unknown}; choose from {list(all_suites)}")
        for name in names:
            info, tests = run_suite(name, all_suites[name], args, pipeline_options, workdir)
            summary["suites"][name] = info
            summary["tests"].update(tests)

    for name, info in summary["suites"].items():
        info["counts"] = count({k: t for k, t in summary["tests"].items() if t["suite"] == name})
    summary["counts"] = count(summary["tests"])
    summary["counts_validatesrunner"] = count({k: t for k, t in summary["tests"].items() if t["validatesrunner"]})
    summary["counts_submitting"] = count({k: t for k, t in summary["tests"].items() if t.get("runner_jobs")})
    with open(out, "w") as f:
        json.dump(summary, f, indent=1, sort_keys=False)
    print(f"[{args.label}] total: {summary['counts']} -> {out}", flush=True)


if __name__ == "__main__":
    main()
