"""Runs many small pipelines at once, each from its own thread, submitted to one job endpoint or on
Beam's FnApiRunner (the reference), and writes their results as JSON.

    concurrent_jobs.py --runner portable --job_endpoint HOST:PORT --workdir DIR --out results.json --jobs 50 [--first 0]
    concurrent_jobs.py --runner fnapi --workdir DIR --out results.json --jobs 50 [--records 60 --keys 13]
    (and --sleep_per_key SECONDS to slow a job down, --wait_for FILE to submit when FILE appears)

Job i groups records whose keys and values depend on i (Create -> GroupByKey -> write), so a
job that read another job's data, or ran another job's code, would give the wrong output.
Each result: sorted output lines, the error raised, and the seconds from run() to the end.
"""
import argparse
import glob
import json
import os
import threading
import time
import traceback

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner


def format_group(group, sleep):
    key, values = group
    time.sleep(sleep)
    return f"{key}:{sorted(values)}"


def build(p, i, out, args):
    records = [(f"k{(i * 7 + j) % args.keys}", i * 1000 + j) for j in range(args.records)]
    (
        p
        | "Create" >> beam.Create(records)
        | "Group" >> beam.GroupByKey()
        | "Format" >> beam.Map(format_group, args.sleep_per_key)
        | "Write" >> beam.io.WriteToText(out)
    )


def run_job(args, i, results):
    name = f"load-{i}"
    out = os.path.join(args.workdir, args.runner, name, "part")
    started = time.time()
    try:
        if args.runner == "fnapi":
            p = beam.Pipeline(runner=FnApiRunner())
        else:
            p = beam.Pipeline(runner="PortableRunner", options=PipelineOptions([f"--job_endpoint={args.job_endpoint}", f"--job_name={name}"]))
        build(p, i, out, args)
        p.run().wait_until_finish()
        lines = sorted(l.rstrip("\n") for f in glob.glob(out + "*") for l in open(f))
        results[name] = {"lines": lines, "error": None, "seconds": time.time() - started}
    except Exception as e:  # noqa: BLE001 - the error text is the result
        results[name] = {"lines": None, "error": f"{type(e).__name__}: {e}\n{traceback.format_exc()}", "seconds": time.time() - started}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runner", choices=["fnapi", "portable"], required=True)
    parser.add_argument("--job_endpoint")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--first", type=int, default=0, help="number of the first job")
    parser.add_argument("--records", type=int, default=60, help="records per job")
    parser.add_argument("--keys", type=int, default=13, help="keys per job")
    parser.add_argument("--sleep_per_key", type=float, default=0, help="seconds each key's group takes to format")
    parser.add_argument("--wait_for", help="a file whose appearance the jobs wait for before they are submitted")
    args = parser.parse_args()
    results = {}
    numbers = range(args.first, args.first + args.jobs)
    while args.wait_for and not os.path.exists(args.wait_for):
        time.sleep(0.02)
    threads = [threading.Thread(target=run_job, args=(args, i, results)) for i in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
