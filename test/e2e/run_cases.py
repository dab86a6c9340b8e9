"""Runs cases from cases.py on one runner and writes their results as JSON.

    run_cases.py --runner fnapi --workdir DIR --out results.json [CASE...]
    run_cases.py --runner portable --job_endpoint HOST:PORT --workdir DIR --out results.json [CASE...]

`fnapi` is Beam's in-process FnApiRunner, the reference (the Python DirectRunner would try to
download Prism, which cannot be reached here). `portable` submits to a job endpoint.
Each case records its sorted output lines, its user metrics, or the error it raised.
"""
import argparse
import glob
import json
import os
import sys
import traceback

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402
from apache_beam.internal.cloudpickle import cloudpickle  # noqa: E402

# Workers cannot import this test module, so its functions and classes travel by value, as a
# user's __main__ code does.
cloudpickle.register_pickle_by_value(cases)
CASES = cases.CASES


def read_lines(pattern):
    if "://" not in pattern:
        return [l.rstrip("\n") for f in glob.glob(pattern) for l in open(f)]
    from apache_beam.io.filesystems import FileSystems

    paths = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
    return [l for path in paths for l in FileSystems.open(path).read().decode().splitlines()]


def run_case(name, args):
    cases.RUNNER = args.runner
    workdir = os.path.join(args.workdir, args.runner, name)
    os.makedirs(workdir, exist_ok=True)
    # Workers that do not share this machine's file system (containers) write results to S3.
    root = args.result_root.rstrip("/") + f"/{args.runner}/{name}" if args.result_root else workdir
    out = f"{root}/result/part"
    if args.runner == "fnapi":
        runner, flags = FnApiRunner(), []
    else:
        runner = "PortableRunner"
        flags = [f"--job_endpoint={args.job_endpoint}", f"--job_name={name}"] + args.flag
    p = beam.Pipeline(runner=runner, options=PipelineOptions(flags))
    CASES[name](p, workdir) | "Result" >> beam.Map(repr) | "WriteResult" >> beam.io.WriteToText(out)
    result = p.run()
    result.wait_until_finish()
    lines = sorted(read_lines(out + "*"))
    metrics = {}
    query = result.metrics().query(MetricsFilter().with_namespace("cases"))
    for c in query["counters"]:
        metrics[f"counter:{c.key.metric.name}"] = c.committed if c.committed is not None else c.attempted
    for d in query["distributions"]:
        v = d.committed if d.committed is not None else d.attempted
        metrics[f"distribution:{d.key.metric.name}"] = [v.count, v.sum, v.min, v.max]
    return {"lines": lines, "metrics": metrics, "error": None}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runner", choices=["fnapi", "portable"], required=True)
    parser.add_argument("--job_endpoint")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--result_root", help="where the pipelines write their results (default: the workdir), e.g. s3://bucket/prefix")
    parser.add_argument("--flag", action="append", default=[], help="extra pipeline flag for the portable runner")
    parser.add_argument("cases", nargs="*")
    args = parser.parse_args()
    results = {}
    for name in args.cases or sorted(CASES):
        try:
            results[name] = run_case(name, args)
        except Exception as e:  # noqa: BLE001 - the error text is the result
            results[name] = {"lines": None, "metrics": {}, "error": f"{type(e).__name__}: {e}\n{traceback.format_exc()}"}
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
