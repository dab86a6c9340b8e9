// Task attempts on executor actors (src/actors): long-lived processes serving the worker handler
// over HTTP (src/worker/executor-server.ts), started on demand through an ActorHost, locally or
// as Fargate tasks. For stages over Lambda's limits; RoutingBackend sends them here.
import type { Actor, ActorHost } from "../actors/actor.js";
import { freePort } from "../common/net.js";
import type { TaskResult, WorkerTask } from "../common/task-spec.js";
import type { Backend } from "./backend.js";

export interface ExecutorBackendOptions {
  host: ActorHost;
  /** Executors at most (each runs one task at a time). */
  executors: number;
  /** The executor's environment (BEAM_LAMBDA_STORE, BEAM_LAMBDA_PYTHON, AWS settings). */
  env: Record<string, string>;
  /** The port executors listen on; 0 picks a free local port per executor (local hosts). */
  port?: number;
}

interface Executor {
  actor: Promise<Actor>;
  busy: boolean;
}

export class ExecutorBackend implements Backend {
  private readonly executors: Executor[] = [];
  private readonly queue: { spec: WorkerTask; resolve(r: TaskResult): void }[] = [];
  readonly stats = { tasks: 0, executorsStarted: 0 };
  private closed = false;

  constructor(private readonly options: ExecutorBackendOptions) {}

  get concurrency(): number {
    return this.options.executors;
  }

  /** The running executors, for tests and operators. */
  async actors(): Promise<Actor[]> {
    return Promise.all(this.executors.map((e) => e.actor));
  }

  invoke(spec: WorkerTask): Promise<TaskResult> {
    if (this.closed) return Promise.resolve({ ok: false, retryable: false, workerPid: 0, error: "the executor backend is shut down" });
    return new Promise((resolve) => {
      this.queue.push({ spec, resolve });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let executor = this.executors.find((e) => !e.busy);
      if (!executor && this.executors.length < this.options.executors) executor = this.startExecutor();
      if (!executor) return;
      const { spec, resolve } = this.queue.shift()!;
      executor.busy = true;
      void this.run(executor, spec).then((result) => {
        executor.busy = false;
        resolve(result);
        this.dispatch();
      });
    }
  }

  private startExecutor(): Executor {
    const executor: Executor = {
      busy: false,
      actor: (async () => {
        const port = this.options.port || (await freePort());
        this.stats.executorsStarted++;
        return this.options.host.start({ command: "executor", port, env: this.options.env });
      })(),
    };
    executor.actor.catch(() => undefined);
    this.executors.push(executor);
    return executor;
  }

  private async run(executor: Executor, spec: WorkerTask): Promise<TaskResult> {
    try {
      const actor = await executor.actor;
      const address = await actor.address();
      const response = await fetch(`http://${address}/invoke`, { method: "POST", body: JSON.stringify(spec), headers: { "Content-Type": "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.stats.tasks++;
      return (await response.json()) as TaskResult;
    } catch (e) {
      // The executor is gone or unreachable: forget it (a retry starts a fresh one).
      this.executors.splice(this.executors.indexOf(executor), 1);
      void executor.actor.then((a) => a.stop(), () => undefined);
      return { ok: false, retryable: true, workerPid: 0, error: `the executor failed: ${(e as Error).message}` };
    }
  }

  cancelJob(jobId: string): void {
    const cancelled: TaskResult = { ok: false, retryable: false, workerPid: 0, error: `job ${jobId} was cancelled` };
    for (const q of this.queue.filter((q) => q.spec.jobId === jobId)) q.resolve(cancelled);
    this.queue.splice(0, this.queue.length, ...this.queue.filter((q) => q.spec.jobId !== jobId));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.splice(0)) q.resolve({ ok: false, retryable: false, workerPid: 0, error: "the executor backend is shut down" });
    await Promise.all(this.executors.map((e) => e.actor.then((a) => a.stop(), () => undefined)));
  }
}
