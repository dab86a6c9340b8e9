// Worker processes on this host, one task at a time each, like Lambda execution environments.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { TaskResult, WorkerTask } from "../common/task-spec.js";
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
  private readonly queue: { spec: WorkerTask; resolve(r: TaskResult): void }[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: LocalBackendOptions) {
    for (let i = 0; i < options.workers; i++) this.workers.push(this.spawn());
  }

  get concurrency(): number {
    return this.options.workers;
  }

  invoke(spec: WorkerTask): Promise<TaskResult> {
    if (this.closed) return Promise.resolve({ ok: false, retryable: false, workerPid: 0, error: "the local backend is shut down" });
    return new Promise((resolve) => {
      this.queue.push({ spec, resolve });
      this.dispatch();
    });
  }

  cancelJob(jobId: string): void {
    const cancelled: TaskResult = { ok: false, retryable: false, workerPid: 0, error: `job ${jobId} was cancelled` };
    for (const queued of this.queue.filter((q) => q.spec.jobId === jobId)) queued.resolve(cancelled);
    this.queue.splice(0, this.queue.length, ...this.queue.filter((q) => q.spec.jobId !== jobId));
    // A worker busy with the job is killed (and replaced): its harness may be stuck in user code.
    for (const worker of this.workers) if (worker.busy?.jobId === jobId) worker.child.kill("SIGKILL");
  }

  async close(): Promise<void> {
    this.closed = true;
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
  }

  private spawn(): WorkerProcess {
    const child = fork(WORKER_ENTRY, [], {
      execArgv: ["--import", "tsx"],
      env: { ...process.env, BEAM_LAMBDA_STORE: this.options.storeUrl, BEAM_LAMBDA_PYTHON: this.options.python },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const worker: WorkerProcess = { child, ready: false };
    child.on("message", (m: { ready?: boolean; id?: number; result?: TaskResult }) => {
      if (m.ready) {
        worker.ready = true;
        this.dispatch();
        return;
      }
      if (worker.busy && m.id === worker.busy.id) {
        const { resolve } = worker.busy;
        worker.busy = undefined;
        resolve(m.result!);
        this.dispatch();
      }
    });
    child.on("exit", (code, signal) => {
      const index = this.workers.indexOf(worker);
      if (worker.busy) {
        worker.busy.resolve({ ok: false, retryable: true, workerPid: child.pid ?? 0, error: `worker process ${child.pid} died (code ${code}, signal ${signal})` });
        worker.busy = undefined;
      }
      if (index >= 0 && !this.closed) {
        this.workers[index] = this.spawn();
      }
    });
    return worker;
  }

  private dispatch(): void {
    for (const worker of this.workers) {
      if (this.queue.length === 0) return;
      if (worker.busy || !worker.ready) continue;
      const { spec, resolve } = this.queue.shift()!;
      const id = ++this.nextId;
      worker.busy = { id, jobId: spec.jobId, resolve };
      worker.child.send({ id, spec });
    }
  }
}
