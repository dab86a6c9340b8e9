"""Captures the pipeline protos the Python SDK's PortableRunner submits, for the planner's unit
tests (test/fixtures/*.pb). Re-run after changing the pinned apache-beam:

    .venv/bin/python scripts/capture-pipelines.py test/fixtures
"""
import os
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.portable_runner import PortableRunner

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "e2e"))
from cases import CASES  # noqa: E402

CAPTURED = [
    "wordcount_files",
    "side_inputs",
    "side_input_of_its_own_input",
    "windowing",
    "stateful_timer",
    "flatten_partition_multi_output",
    "runner_transforms_back_to_back",
    "dataframe_read_csv",
    "bounded_sessions",
]
# As submitted with --experiments=pre_optimize=none: combiners not lifted by the SDK.
CAPTURED_UNOPTIMIZED = ["combiners"]


def capture(name, out_dir, optimize=True):
    options = PipelineOptions(["--job_endpoint=localhost:1"] + ([] if optimize else ["--experiments=pre_optimize=none"]))
    p = beam.Pipeline(options=options)
    CASES[name](p, os.path.join("/tmp", "capture-pipelines", name))
    proto = p.to_runner_api(default_environment=PortableRunner._create_environment(options))
    optimized = PortableRunner._optimize_pipeline(proto, options)
    with open(os.path.join(out_dir, f"{name}{'' if optimize else '_unoptimized'}.pb"), "wb") as f:
        f.write(optimized.SerializeToString())


if __name__ == "__main__":
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name in CAPTURED:
        capture(name, out_dir)
        print(f"captured {name}")
    for name in CAPTURED_UNOPTIMIZED:
        capture(name, out_dir, optimize=False)
        print(f"captured {name} (unoptimized)")
