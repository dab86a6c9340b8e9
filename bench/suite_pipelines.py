"""The benchmark suite's six pipelines, each defined once and sized by one scale factor.

Every pipeline writes its result with WriteToText, so a run is checked by the sorted lines it
wrote. Generated records come from IndexSource, whose record i depends only on i: runners split
sources differently (initially and dynamically), and any split must give the same records.
"""
import glob
import hashlib
import os
import random
import re
from dataclasses import dataclass
from typing import Callable

import apache_beam as beam
from apache_beam.io import iobase, range_trackers

SORT_RECORD_BYTES = 1000  # a 10-byte TeraSort key and 990 random bytes after it
SKEW_KEYS = 10_000
COMBINE_KEYS = 1_000
SIDE_ENTRIES_PER_MAIN = 10  # the side input is a tenth of the main input


class IndexSource(iobase.BoundedSource):
    """make(i) for i in [0, count), splittable by index so that every runner may read it in parallel."""

    def __init__(self, count, make, record_bytes):
        self._count = count
        self._make = make
        self._record_bytes = record_bytes

    def estimate_size(self):
        return self._count * self._record_bytes

    def split(self, desired_bundle_size, start_position=None, stop_position=None):
        start = start_position or 0
        stop = self._count if stop_position is None else stop_position
        per_bundle = max(1, desired_bundle_size // self._record_bytes)
        for first in range(start, stop, per_bundle):
            last = min(first + per_bundle, stop)
            yield iobase.SourceBundle((last - first) * self._record_bytes, self, first, last)

    def get_range_tracker(self, start_position, stop_position):
        start = start_position or 0
        stop = self._count if stop_position is None else stop_position
        return range_trackers.OffsetRangeTracker(start, stop)

    def read(self, range_tracker):
        i = range_tracker.start_position()
        while range_tracker.try_claim(i):
            yield self._make(i)
            i += 1


def write_lines(lines, output):
    return lines | beam.io.WriteToText(output)


# --- wordcount: text files → words → Count.PerElement (the combiner is lifted) ---

VOCABULARY = [f"w{i}" for i in range(5000)]


def prepare_wordcount(lines, directory, files=8):
    """Text files of `lines` lines of 10 words each; returns their glob pattern."""
    rng = random.Random(42)
    for f in range(files):
        with open(os.path.join(directory, f"part-{f}.txt"), "w") as out:
            for _ in range(lines // files):
                out.write(" ".join(rng.choice(VOCABULARY) for _ in range(10)) + "\n")
    return os.path.join(directory, "part-*.txt")


def wordcount(p, lines, inputs, output):
    counts = (
        p
        | beam.io.ReadFromText(inputs)
        | beam.FlatMap(lambda line: re.findall(r"\w+", line))
        | beam.combiners.Count.PerElement()
    )
    write_lines(counts | beam.MapTuple(lambda w, c: f"{w}\t{c}"), output)


# --- skewed GroupByKey: half the records share one key, the rest spread over SKEW_KEYS keys ---

def skewed_record(i):
    return ("hot" if i % 2 == 0 else f"k{(i * 7919) % SKEW_KEYS}", i)


def count_and_sum(key, values):
    n = total = 0
    for v in values:  # one pass: a runner may hand a large group as a lazy iterable
        n += 1
        total += v
    return f"{key}\t{n}\t{total}"


def skewed_gbk(p, records, inputs, output):
    groups = p | beam.io.Read(IndexSource(records, skewed_record, 16)) | beam.GroupByKey()
    write_lines(groups | beam.MapTuple(count_and_sum), output)


# --- CombinePerKey: integers summed per key over COMBINE_KEYS keys ---

def combine_record(i):
    return (i % COMBINE_KEYS, i)


def combine_per_key(p, records, inputs, output):
    sums = p | beam.io.Read(IndexSource(records, combine_record, 16)) | beam.CombinePerKey(sum)
    write_lines(sums | beam.MapTuple(lambda k, s: f"{k}\t{s}"), output)


# --- sort-like: TeraSort-style records range-partitioned by their first key byte, each range sorted ---

def sort_record(i):
    return random.Random(i).randbytes(SORT_RECORD_BYTES)


def sorted_range_digest(first_byte, records):
    ordered = sorted(records)
    digest = hashlib.sha256()
    for r in ordered:
        digest.update(r)
    return f"{first_byte:02x}\t{len(ordered)}\t{digest.hexdigest()}"


def sort_like(p, records, inputs, output):
    ranges = (
        p
        | beam.io.Read(IndexSource(records, sort_record, SORT_RECORD_BYTES))
        | beam.Map(lambda r: (r[0], r))
        | beam.GroupByKey()
    )
    write_lines(ranges | beam.MapTuple(sorted_range_digest), output)


# --- trivial: three elements, so the time is the job's fixed cost ---

def trivial(p, records, inputs, output):
    write_lines(p | beam.Create(["a", "b", "c"]) | beam.Map(str.upper), output)


# --- side input: each main record looks its weight up in a dict side input ---

def side_entry(i):
    return (i, (i * 31) % 1009)


def side_input(p, records, inputs, output):
    entries = max(1, records // SIDE_ENTRIES_PER_MAIN)
    table = p | "side" >> beam.io.Read(IndexSource(entries, side_entry, 16))
    weighted = (
        p
        | "main" >> beam.io.Read(IndexSource(records, lambda i: i, 8))
        | beam.Map(lambda i, t: t[i % len(t)] * i, t=beam.pvalue.AsDict(table))
        | beam.CombineGlobally(sum)
    )
    write_lines(weighted | beam.Map(str), output)


@dataclass(frozen=True)
class BenchPipeline:
    name: str
    base_size: int  # records (lines for wordcount) at scale 1
    build: Callable  # (pipeline, size, inputs, output prefix) → None
    describe: Callable[[int], str]
    prepare: Callable = None  # (size, directory) → inputs, run once before the pipeline's runs


PIPELINES = [
    BenchPipeline("wordcount", 500_000, wordcount, lambda n: f"{n:,} lines of 10 words, 8 files",
                  prepare=prepare_wordcount),
    BenchPipeline("skewed_gbk", 1_000_000, skewed_gbk,
                  lambda n: f"GroupByKey of {n:,} records, half on one key, the rest over {SKEW_KEYS:,} keys"),
    BenchPipeline("combine_per_key", 5_000_000, combine_per_key,
                  lambda n: f"CombinePerKey(sum) of {n:,} records over {COMBINE_KEYS:,} keys"),
    BenchPipeline("sort", 524_288, sort_like,
                  lambda n: f"{n:,} records of {SORT_RECORD_BYTES} B ({n * SORT_RECORD_BYTES / 1e6:,.0f} MB) "
                            "grouped into 256 key ranges, each sorted"),
    BenchPipeline("trivial", 3, trivial, lambda n: "Create of 3 elements → Map → WriteToText"),
    BenchPipeline("side_input", 1_000_000, side_input,
                  lambda n: f"{n:,} records, each looking up an AsDict side input of {max(1, n // SIDE_ENTRIES_PER_MAIN):,} entries"),
]
BY_NAME = {p.name: p for p in PIPELINES}


def size_at(pipeline, scale):
    return pipeline.base_size if pipeline.name == "trivial" else max(1, int(pipeline.base_size * scale))


def read_output(output):
    """The sorted lines a run wrote under the prefix `output`."""
    return sorted(line.rstrip("\n") for f in glob.glob(output + "*") for line in open(f))
