"""Wordcount on our embedded backend versus Beam's in-process FnApiRunner, in the same run.

    npm run bench:wordcount -- [--lines N] [--files F] [--repeats R]

Generates F text files of N lines in total, runs the same pipeline (ReadFromText, split,
Count.PerElement, WriteToText) on both runners, checks that both wrote the same counts, and
prints wall-clock times and their ratio. Beam's Python DirectRunner would try to download
Prism, which is not reachable here, so FnApiRunner is the Beam baseline.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

import suite_pipelines  # the suite's text generator, so both benchmarks read the same files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wordcount(runner, options, pattern, output):
    p = beam.Pipeline(runner=runner, options=PipelineOptions(options))
    (
        p
        | beam.io.ReadFromText(pattern)
        | beam.FlatMap(lambda line: re.findall(r"\w+", line))
        | beam.combiners.Count.PerElement()
        | beam.MapTuple(lambda w, c: f"{w}\t{c}")
        | beam.io.WriteToText(output)
    )
    started = time.perf_counter()
    p.run().wait_until_finish()
    return time.perf_counter() - started


def read_counts(output):
    return sorted(l for f in glob.glob(output + "*") for l in open(f))


def start_job_server(workers):
    server = subprocess.Popen(
        ["node", os.path.join(ROOT, "bin", "beam-lambda.js"), "job-server", "--port", "0", "--workers", str(workers)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = server.stdout.readline()
    match = re.search(r"listening on (\S+)", line)
    if not match:
        server.kill()
        sys.exit(f"job server did not start: {line!r}")
    return server, match.group(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench-wordcount-")
    server = None
    try:
        pattern = suite_pipelines.prepare_wordcount(args.lines, work, args.files)
        size = sum(os.path.getsize(f) for f in glob.glob(pattern))
        server, endpoint = start_job_server(args.workers)
        results = {"FnApiRunner (Beam, in-process)": [], f"beam-lambda embedded ({args.workers} workers)": []}
        counts = {}
        for r in range(args.repeats):
            for name in results:
                out = os.path.join(work, f"out-{len(counts)}-{r}", "counts")
                if name.startswith("FnApiRunner"):
                    seconds = wordcount(FnApiRunner(), [], pattern, out)
                else:
                    seconds = wordcount("PortableRunner", [f"--job_endpoint={endpoint}"], pattern, out)
                results[name].append(seconds)
                counts.setdefault(name, read_counts(out))
        names = list(results)
        if counts[names[0]] != counts[names[1]]:
            sys.exit("the runners disagree on the counts")
        print(f"\nwordcount over {args.lines} lines in {args.files} files ({size / 1e6:.1f} MB), best of {args.repeats}:")
        print(f"{'runner':45} {'best s':>8} {'median s':>9} {'MB/s':>7}")
        best = {n: min(v) for n, v in results.items()}
        for n, v in results.items():
            print(f"{n:45} {best[n]:8.2f} {sorted(v)[len(v) // 2]:9.2f} {size / 1e6 / best[n]:7.2f}")
        print(f"ratio (beam-lambda / FnApiRunner, best times): {best[names[1]] / best[names[0]]:.2f}")
        print(f"machine: {os.cpu_count()} cores; outputs identical ({len(counts[names[0]])} distinct words)")
    finally:
        if server:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
