// How a worker starts a Python SDK harness so that the harness dies with it. A worker that is
// SIGKILLed (a lost Lambda environment, the OOM killer, a cancelled job's attempt) cannot stop
// its harnesses, and the Python harness does not exit when its control stream breaks: it lived
// on, reparented to init, for as long as the machine ran. So the harness is started through a
// few lines of Python that ask Linux to SIGKILL it when its parent dies (PR_SET_PDEATHSIG) and
// then run sdk_worker_main in the same process. Elsewhere (no prctl) it starts as before.

const BOOT = `
import ctypes, os, runpy, signal, sys
parent = int(sys.argv[1]) if len(sys.argv) > 1 else 0  # the worker's pid
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
if parent and os.getppid() != parent:
    os._exit(1)  # the worker died before the request took effect
sys.argv = ["sdk_worker_main"]
runpy.run_module("apache_beam.runners.worker.sdk_worker_main", run_name="__main__", alter_sys=True)
`;

/** The interpreter's arguments that start a harness bound to this process's life. */
export function harnessArgs(): string[] {
  return ["-c", BOOT, String(process.pid)];
}
