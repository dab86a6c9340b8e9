// Worker processes on this host, one task at a time each, like Lambda execution environments.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { TaskResult, WorkerTask } from "../common/task-spec.js";
import { userCodeEnv, workerEnv } from "../common/worker-env.js";
import { removeHarnessDirectories } from "../worker/harness-directories.js";
import { AttemptQueue, failedAttempt } from "./attempt-queue.js";
import type { Backend } from "./backend.js";

const WORKER_ENTRY = fileURLToPath(new URL("./local-worker-process.ts", import.meta.url));

export interface LocalBackendOptions {
  workers: number;
  /** The object store URL workers open (BEAM_LAMBDA_STORE). */
  storeUrl: string;
  /** Python interpreter for process harnesses (BEAM_LAMBDA_PYTHON). */
  python: string;
}

interface WorkerProcess {
  child: ChildProcess;
  /** Set once the process has loaded the handler and said so. */
  ready: boolean;
  busy?: { id: number; jobId: string; resolve(r: TaskResult): void };
}

export class LocalBackend implements Backend {
  private readonly workers: WorkerProcess[] = [];
  private readonly attempts: AttemptQueue;
  private nextId = 0;

  constructor(private readonly options: LocalBackendOptions) {
    this.attempts = new AttemptQueue({
      owner: "the local backend",
      limit: options.workers,
      start: (spec) => this.startOnIdleWorker(spec),
      // A worker busy with the job is killed (and replaced): its harness may be stuck in user code.
      stopJob: (jobId) => {
        for (const worker of this.workers) if (worker.busy?.jobId === jobId) worker.child.kill("SIGKILL");
      },
    });
    for (let i = 0; i < options.workers; i++) this.workers.push(this.spawn());
  }

  get concurrency(): number {
    return this.options.workers;
  }

  /** Attempts running now, and worker processes still busy with one (a killed one until it has exited). */
  get load(): { running: number; busyWorkers: number } {
    return { running: this.attempts.runningCount, busyWorkers: this.workers.filter((w) => w.busy).length };
  }

  invoke(spec: WorkerTask, started?: () => void): Promise<TaskResult> {
    return this.attempts.submit(spec, started);
  }

  cancelJob(jobId: string): void {
    this.attempts.cancelJob(jobId);
    // Idle workers may keep the job's harnesses warm: they stop them (and remove their directories).
    for (const worker of this.workers) if (worker.ready) sendToWorker(worker, { endJob: jobId });
  }

  async close(): Promise<void> {
    await this.attempts.close(async () => {
      await Promise.all(
        this.workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
              w.child.once("exit", () => resolve());
              w.child.disconnect?.();
              setTimeout(() => w.child.kill("SIGKILL"), 5000).unref();
            }),
        ),
      );
    });
  }

  private spawn(): WorkerProcess {
    const child = fork(WORKER_ENTRY, [], {
      execArgv: ["--import", "tsx"],
      // A worker runs user code's harnesses: it gets the job server's environment without its secrets.
      env: { ...userCodeEnv(process.env), ...workerEnv({ storeUrl: this.options.storeUrl, python: this.options.python }) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const worker: WorkerProcess = { child, ready: false };
    // An 'error' event left unheard would take the job server down (a failed send is one: see
    // sendToWorker). A worker in error is killed; its exit settles its attempt.
    child.on("error", () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    child.on("message", (m: { ready?: boolean; id?: number; result?: TaskResult }) => {
      if (m.ready) {
        worker.ready = true;
        this.attempts.pump();
        return;
      }
      if (worker.busy && m.id === worker.busy.id) {
        const busy = worker.busy;
        worker.busy = undefined;
        busy.resolve(m.result!);
      }
    });
    child.on("exit", (code, signal) => {
      // A killed worker could not remove its harnesses' directories (staged artifacts included).
      if (child.pid !== undefined) void removeHarnessDirectories(child.pid).catch(() => undefined);
      const index = this.workers.indexOf(worker);
      if (worker.busy) {
        worker.busy.resolve(failedAttempt(`worker process ${child.pid} died (code ${code}, signal ${signal})`, { retryable: true, workerPid: child.pid ?? 0, cause: "infrastructure" }));
        worker.busy = undefined;
      }
      if (index >= 0 && !this.attempts.closed) {
        this.workers[index] = this.spawn();
      }
    });
    return worker;
  }

  /** The first ready worker with nothing to do runs the attempt. */
  private startOnIdleWorker(spec: WorkerTask): Promise<TaskResult> | undefined {
    const worker = this.workers.find((w) => w.ready && !w.busy);
    if (!worker) return undefined;
    const id = ++this.nextId;
    return new Promise((resolve) => {
      worker.busy = { id, jobId: spec.jobId, resolve };
      sendToWorker(worker, { id, spec });
    });
  }
}

/**
 * Sends a message to a worker. One that died can look connected for a moment, and the send then
 * fails (EPIPE): such a worker is killed to be sure, and its exit settles its attempt.
 */
function sendToWorker(worker: WorkerProcess, message: object): void {
  if (!worker.child.connected) return;
  worker.child.send(message, (e) => {
    if (e && worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill("SIGKILL");
  });
}
