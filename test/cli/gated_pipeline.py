"""A pipeline the CLI and UI tests watch while it runs, written as a user writes one:

    gated_pipeline.py --output PREFIX [--gate FILE] [--elements N] [Beam pipeline flags...]

Its first step waits until FILE exists, so a test can look at the job mid-run and then let it
finish (without --gate it does not wait). It has a shuffle, a combine, a side input and a user
counter; it writes "key,sum,share" lines under PREFIX.
"""
import argparse
import os
import time

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions


def gated(gate):
    seen = Metrics.counter("gated", "elements")

    def wait(x):
        while gate and not os.path.exists(gate):
            time.sleep(0.05)
        seen.inc()
        return x

    return wait


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", required=True)
    parser.add_argument("--gate")
    parser.add_argument("--elements", type=int, default=5000)
    args, beam_flags = parser.parse_known_args()
    with beam.Pipeline(options=PipelineOptions(beam_flags)) as p:
        numbers = p | "Numbers" >> beam.Create(range(args.elements)) | "Gate" >> beam.Map(gated(args.gate))
        sums = numbers | "Key" >> beam.Map(lambda x: (x % 10, x)) | "Sum" >> beam.CombinePerKey(sum)
        total = numbers | "Total" >> beam.CombineGlobally(sum)
        (
            sums
            | "Share" >> beam.Map(lambda kv, t: f"{kv[0]},{kv[1]},{kv[1] / t:.6f}", t=beam.pvalue.AsSingleton(total))
            | "Write" >> beam.io.WriteToText(args.output)
        )


if __name__ == "__main__":
    main()
