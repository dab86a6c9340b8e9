"""One run of one suite pipeline on one runner, in a process of its own (bench/suite.py starts it).

    python bench/suite_client.py --pipeline NAME --size N --runner ours|fnapi|prism
        [--endpoint HOST:PORT] --inputs PATTERN --output PREFIX [--profile-dir DIR]

A fresh process per run keeps one run's memory out of the next run's measurement and makes each
run pay what a user's `python my_pipeline.py` pays. Prints one JSON line: the seconds from
run() to the job's end, the lines written and their checksum. With --profile-dir, the SDK
harnesses of a portable run write a cProfile file per bundle there (Beam's --profile_cpu).
"""
import argparse
import hashlib
import json
import os
import time

import apache_beam as beam
from apache_beam.internal.cloudpickle import cloudpickle
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

import suite_pipelines

# Pickle the pipelines' functions and source by value: the harnesses of our job server's
# workers do not have bench/ on their path.
cloudpickle.register_pickle_by_value(suite_pipelines)


def runner_and_options(runner, endpoint):
    if runner == "fnapi":
        return FnApiRunner(), []  # in-process, direct_num_workers left at its default
    if runner == "ours":
        return "PortableRunner", [f"--job_endpoint={endpoint}"]  # the server's own harnesses
    # Prism cannot start Docker here; LOOPBACK is what Beam's PrismRunner uses by default.
    return "PortableRunner", [f"--job_endpoint={endpoint}", "--environment_type=LOOPBACK"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", required=True, choices=list(suite_pipelines.BY_NAME))
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--runner", required=True, choices=["ours", "fnapi", "prism"])
    ap.add_argument("--endpoint")
    ap.add_argument("--inputs", default="")
    ap.add_argument("--output", required=True)
    ap.add_argument("--profile-dir", help="harnesses profile each bundle into DIR (portable runs)")
    args = ap.parse_args()

    runner, options = runner_and_options(args.runner, args.endpoint)
    if args.profile_dir:
        options += ["--profile_cpu", f"--profile_location={args.profile_dir}"]
    p = beam.Pipeline(runner=runner, options=PipelineOptions(options))
    suite_pipelines.BY_NAME[args.pipeline].build(p, args.size, args.inputs, args.output)
    started = time.perf_counter()
    p.run().wait_until_finish()
    seconds = time.perf_counter() - started
    lines = suite_pipelines.read_output(args.output)
    checksum = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    print(json.dumps({"pipeline_s": seconds, "lines": len(lines), "sha256": checksum}), flush=True)
    # Leave at once: a LOOPBACK worker pool's threads must not hold the process (and its timing) open.
    os._exit(0)


if __name__ == "__main__":
    main()
