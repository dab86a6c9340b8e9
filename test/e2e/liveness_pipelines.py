"""Pipelines the liveness tests submit (test/e2e/liveness.test.ts), one per run:

    liveness_pipelines.py NAME --job_endpoint HOST:PORT --workdir DIR [pipeline flags...]

It prints one JSON line, {"error": null} or {"error": "..."}, once the job has ended.
"""
import argparse
import json
import os
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

PIPELINES = {}


def pipeline(fn):
    PIPELINES[fn.__name__] = fn
    return fn


def _unpickle_fails_elsewhere(pid):
    if os.getpid() != pid:
        raise RuntimeError("boom: this DoFn cannot be unpickled in the SDK harness")
    return FailsWhereUnpickled(pid)


class FailsWhereUnpickled(beam.DoFn):
    """Unpickles in the process that built the pipeline (Beam round-trips a DoFn there) and raises
    in any other: the SDK harness fails the bundle while it creates the bundle's operations, and
    since the stage has no output the harness has no reason to open its data stream first."""

    def __init__(self, pid=None):
        self.pid = pid or os.getpid()

    def __reduce__(self):
        return (_unpickle_fails_elsewhere, (self.pid,))

    def process(self, x):
        yield x


@pipeline
def error_before_data(p, workdir):
    p | beam.Create([1]) | beam.ParDo(FailsWhereUnpickled())


def stall_forever(marker_dir):
    """Leaves a marker (so the test knows a task is running) and sleeps for good."""

    def stall(x):
        open(os.path.join(marker_dir, f"stalled-{os.getpid()}-{x}"), "w").close()
        time.sleep(3600)
        return x

    return stall


@pipeline
def stall(p, workdir):
    p | beam.Create([1]) | beam.Map(stall_forever(workdir))


@pipeline
def fail_while_another_task_stalls(p, workdir):
    """One task stalls; another raises once the first is running, so the job fails while the first runs."""

    def fail_after_stall(x):
        deadline = time.time() + 60
        while not any(f.startswith("stalled-") for f in os.listdir(workdir)) and time.time() < deadline:
            time.sleep(0.1)
        raise ValueError("boom: failing while another task stalls")

    p | "Stalls" >> beam.Create([1]) | beam.Map(stall_forever(workdir))
    p | "Fails" >> beam.Create([2]) | beam.Map(fail_after_stall)


@pipeline
def small(p, workdir):
    p | beam.Create(range(10)) | beam.Map(lambda x: x * 2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("name", choices=sorted(PIPELINES))
    parser.add_argument("--job_endpoint", required=True)
    parser.add_argument("--workdir", required=True)
    args, flags = parser.parse_known_args()
    options = PipelineOptions(["--runner=PortableRunner", f"--job_endpoint={args.job_endpoint}", f"--job_name={args.name}", *flags])
    error = None
    try:
        p = beam.Pipeline(options=options)
        PIPELINES[args.name](p, args.workdir)
        p.run().wait_until_finish()
    except Exception as e:  # noqa: BLE001 - the error text is the result
        error = f"{type(e).__name__}: {e}"
    print(json.dumps({"error": error}), flush=True)


if __name__ == "__main__":
    main()
