"""Beam's runners against ours on six pipelines: `npm run bench` (never part of `npm test`).

    npm run bench -- [--scale S] [--reps R] [--pipelines a,b] [--quick] [--note TEXT]

Runs wordcount, a skewed GroupByKey, CombinePerKey, a sort-like job, a trivial job and a job
with a side input (bench/suite_pipelines.py) on our embedded backend (one `beam-lambda
job-server`), Beam's FnApiRunner (in the client process) and Prism v2.77.0 (one job endpoint,
LOOPBACK), R times each in an order rotated every repetition, each run in a fresh client
process. Checks that every run wrote the same lines, then writes medians, peak RSS of each
runner's process tree and ours ÷ the others to bench/results/latest.json and the generated
section of docs/performance.md, and prints the table. --quick (scale 0.01, one repetition) is a
smoke run: it writes bench/results/quick.json and leaves the doc alone.
"""
import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time

import suite_pipelines
import suite_report
import suite_runners

ROOT = suite_runners.ROOT
PRISM = os.path.join(ROOT, ".cache", "prism-v2.77.0", "prism")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every pipeline's size (1)")
    ap.add_argument("--reps", type=int, default=3, help="runs of each pipeline on each runner (3)")
    ap.add_argument("--pipelines", help="comma-separated subset of: " + ",".join(suite_pipelines.BY_NAME))
    ap.add_argument("--quick", action="store_true", help="smoke run: scale 0.01, one repetition, no doc")
    ap.add_argument("--timeout", type=int, default=900, help="seconds before a run is killed (900)")
    ap.add_argument("--prism", default=PRISM, help="Prism binary (scripts/setup-prism.sh builds it)")
    ap.add_argument("--note", default="", help="a remark for the doc, e.g. that the machine was shared")
    ap.add_argument("--report", action="store_true",
                    help="run nothing: print the table of bench/results/latest.json and write the doc from it")
    args = ap.parse_args()
    if args.quick:
        args.scale, args.reps = 0.01, 1
    names = args.pipelines.split(",") if args.pipelines else list(suite_pipelines.BY_NAME)
    unknown = [n for n in names if n not in suite_pipelines.BY_NAME]
    if unknown:
        ap.error(f"unknown pipelines: {', '.join(unknown)}")
    if not os.access(args.prism, os.X_OK):
        ap.error(f"no Prism at {args.prism} (bash scripts/setup-prism.sh builds it)")
    args.names = names
    return args


def rotated(runners, rep):
    """The runners in the order of repetition `rep`: each goes first, middle and last in turn."""
    k = rep % len(runners)
    return runners[k:] + runners[:k]


def bench_pipeline(pipeline, size, runners, args, work, log):
    inputs = ""
    if pipeline.prepare:
        directory = os.path.join(work, f"{pipeline.name}-input")
        os.makedirs(directory)
        inputs = pipeline.prepare(size, directory)
    runs = {r.key: [] for r in runners}
    for rep in range(args.reps):
        for runner in rotated(runners, rep):
            output = os.path.join(work, f"{pipeline.name}-{runner.key}-{rep}", "out")
            log.write(f"\n=== {pipeline.name} on {runner.key}, repetition {rep + 1}\n".encode())
            log.flush()
            run = suite_runners.run_client(runner, pipeline.name, size, inputs, output, log, args.timeout)
            shutil.rmtree(os.path.dirname(output), ignore_errors=True)
            runs[runner.key].append(run)
            shown = run["error"] if "error" in run else f"{run['pipeline_s']:.2f} s (client process {run['process_s']:.2f} s)"
            print(f"  {pipeline.name:16} {runner.key:6} rep {rep + 1}: {shown}, "
                  f"peak RSS {run['peak_rss_mb']:,.0f} MB, load {run['load_before']:.2f}", flush=True)
    checksums = {r.get("sha256") for rs in runs.values() for r in rs}
    agree = None not in checksums and len(checksums) == 1
    summary = {k: suite_report.summarize(v) for k, v in runs.items()}
    return {
        "description": pipeline.describe(size),
        "size": size,
        "outputs_agree": agree,
        "output_lines": next(iter(runs.values()))[0].get("lines"),
        "summary": summary,
        "ratios": suite_report.ratios(summary, agree),
        "runs": runs,
    }


def warm_up(runners, work, log):
    """One trivial job on each server before timing, as a server a user has already used."""
    for runner in runners:
        if runner.server:
            output = os.path.join(work, f"warm-up-{runner.key}", "out")
            run = suite_runners.run_client(runner, "trivial", 3, "", output, log, 300)
            if "error" in run:
                raise RuntimeError(f"warm-up job on {runner.key} failed: {run['error']} (see the log)")


def report_only(out_json):
    with open(out_json) as f:
        results = json.load(f)
    suite_report.print_table(results)
    suite_report.write_doc(os.path.join(ROOT, "docs", "performance.md"), suite_report.markdown(results))
    return 0


def main():
    args = parse_args()
    if args.report:
        return report_only(os.path.join(ROOT, "bench", "results", "latest.json"))
    results_dir = os.path.join(ROOT, "bench", "results")
    os.makedirs(results_dir, exist_ok=True)
    out_json = os.path.join(results_dir, "quick.json" if args.quick else "latest.json")
    log_path = os.path.join(results_dir, "quick.log" if args.quick else "latest.log")
    machine = suite_report.describe_machine()
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="beam-bench-suite-")
    runners = []
    with open(log_path, "wb") as log:
        try:
            runners = [suite_runners.start_ours(log), suite_runners.fnapi(), suite_runners.start_prism(args.prism, log)]
            warm_up(runners, work, log)
            print(f"runners up (ours at {runners[0].endpoint}, Prism at {runners[2].endpoint}); log: {log_path}")
            results = {
                "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "machine": machine, "scale": args.scale, "repetitions": args.reps, "note": args.note,
                "runners": {r.key: r.label for r in runners}, "pipelines": {},
            }
            for name in args.names:
                pipeline = suite_pipelines.BY_NAME[name]
                size = suite_pipelines.size_at(pipeline, args.scale)
                print(f"{name}: {pipeline.describe(size)}", flush=True)
                results["pipelines"][name] = bench_pipeline(pipeline, size, runners, args, work, log)
                results["suite_minutes"] = (time.monotonic() - started) / 60
                with open(out_json, "w") as f:  # after every pipeline, so a stopped suite keeps what it measured
                    json.dump(results, f, indent=1)
        finally:
            for r in runners:
                r.stop()
            shutil.rmtree(work, ignore_errors=True)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    with open(out_json, "w") as f:
        json.dump(results, f, indent=1)
    print()
    suite_report.print_table(results)
    if not args.quick:
        suite_report.write_doc(os.path.join(ROOT, "docs", "performance.md"), suite_report.markdown(results))
        print(f"\nwrote {os.path.relpath(out_json, ROOT)} and docs/performance.md")
    return 0 if all(p["outputs_agree"] for p in results["pipelines"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
