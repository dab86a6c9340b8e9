// How a worker starts a Python SDK harness: bound to the worker's life, and able to start before
// it is needed.
// - A worker that is SIGKILLed (a lost Lambda environment, the OOM killer, a cancelled job's
//   attempt) cannot stop its harnesses, and the Python harness does not exit when its control
//   stream breaks: it lived on, reparented to init, for as long as the machine ran. So the few
//   lines of Python below ask Linux to SIGKILL the interpreter when its parent dies
//   (PR_SET_PDEATHSIG) before anything else. Elsewhere (no prctl) they go on without it.
// - Most of a harness's start is Python importing Beam. The interpreter does that first, then
//   waits for one line on its stdin: the harness's environment as JSON (its control endpoint,
//   worker id, pipeline options). So a worker can start one ahead of need (spare-interpreters.ts)
//   and hand it a job's harness later. Its stdin closed without a line, it exits quietly.
// sdk_worker_main itself is imported only when run, as __main__ (as `python -m` would): what it
// imports is loaded ahead.

const BOOT = `
import ctypes, json, os, runpy, signal, sys
parent = int(sys.argv[1]) if len(sys.argv) > 1 else 0  # the worker's pid
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
if parent and os.getppid() != parent:
    os._exit(1)  # the worker died before the request took effect
import apache_beam.internal.pickler, apache_beam.io.filesystems, apache_beam.options.pipeline_options
import apache_beam.runners.worker.data_sampler, apache_beam.runners.worker.log_handler
import apache_beam.runners.worker.sdk_worker, apache_beam.utils.profiler
line = sys.stdin.readline()
if not line.strip():
    os._exit(0)  # never needed
os.environ.update(json.loads(line))
sys.argv = ["sdk_worker_main"]
runpy.run_module("apache_beam.runners.worker.sdk_worker_main", run_name="__main__", alter_sys=True)
`;

/** The interpreter's arguments that start a harness bound to this process's life; it waits for `harnessEnvironmentLine`. */
export function harnessArgs(): string[] {
  return ["-c", BOOT, String(process.pid)];
}

/** What a booting interpreter reads on its stdin to become a harness: its environment variables. */
export function harnessEnvironmentLine(env: Record<string, string>): string {
  return `${JSON.stringify(env)}\n`;
}
