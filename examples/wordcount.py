"""Counts words in text files and prints the most frequent ones.

Run it on the embedded backend:  npx beam-lambda run examples/wordcount.py
With no --input, it writes a few sample files first so it runs out of the box. --input and
--output may be s3:// paths (Beam's S3 filesystem; credentials from the AWS environment or
Beam's --s3_* options).
"""
import argparse
import os
import re
import tempfile

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

SAMPLE = [
    "the quick brown fox jumps over the lazy dog",
    "a serverless runner for apache beam pipelines",
    "the runner fans tasks out to lambda workers and shuffles through s3",
    "to be or not to be that is the question",
]


def write_sample(directory):
    for i in range(4):
        with open(os.path.join(directory, f"part-{i}.txt"), "w") as f:
            for j in range(50):
                f.write(SAMPLE[(i + j) % len(SAMPLE)] + "\n")
    return os.path.join(directory, "part-*.txt")


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", help="file pattern to read (default: generated sample files)")
    parser.add_argument("--output", help="output prefix (default: a temporary directory)")
    parser.add_argument("--top", type=int, default=10)
    args, beam_args = parser.parse_known_args(argv)
    workdir = tempfile.mkdtemp(prefix="wordcount-")
    pattern = args.input or write_sample(workdir)
    output = args.output or os.path.join(workdir, "counts")

    with beam.Pipeline(options=PipelineOptions(beam_args)) as p:
        counts = (
            p
            | "Read" >> beam.io.ReadFromText(pattern)
            | "Split" >> beam.FlatMap(lambda line: re.findall(r"[a-z0-9']+", line.lower()))
            | "Count" >> beam.combiners.Count.PerElement()
        )
        counts | "Format" >> beam.MapTuple(lambda w, c: f"{w}: {c}") | "Write" >> beam.io.WriteToText(output)

    # Read back what the sink wrote, wherever it is (local files or S3).
    FileSystems.set_options(PipelineOptions(beam_args))
    lines = []
    for metadata in sorted(FileSystems.match([output + "*"])[0].metadata_list, key=lambda m: m.path):
        with FileSystems.open(metadata.path) as f:
            lines.extend(l.strip() for l in f.read().decode().splitlines() if l.strip())
    top = sorted(lines, key=lambda l: (-int(l.rsplit(": ", 1)[1]), l))[: args.top]
    print(f"Top {len(top)} words ({len(lines)} distinct) written under {output}:")
    for line in top:
        print("  " + line)


if __name__ == "__main__":
    main()
