// Task attempts on executor actors (src/actors): long-lived processes serving the worker handler
// over HTTP (src/worker/executor-server.ts), started on demand through an ActorHost, locally or
// as Fargate tasks. For stages over Lambda's limits; RoutingBackend sends them here.
import type { Actor, ActorHost } from "../actors/actor.js";
import { freePort } from "../common/net.js";
import type { TaskResult, WorkerTask } from "../common/task-spec.js";
import { AttemptQueue, failedAttempt } from "./attempt-queue.js";
import type { Backend } from "./backend.js";

export interface ExecutorBackendOptions {
  host: ActorHost;
  /** Executors at most (each runs one task at a time). */
  executors: number;
  /** The executor's environment: common/worker-env.ts's workerEnv (BEAM_LAMBDA_STORE, BEAM_LAMBDA_PYTHON), and any AWS settings. */
  env: Record<string, string>;
  /** The port executors listen on; 0 picks a free local port per executor (local hosts). */
  port?: number;
}

interface Executor {
  actor: Promise<Actor>;
  /** The attempt it runs: its job, and the request that carries it. */
  busy?: { jobId: string; request: AbortController };
  /** Stopped and forgotten: a cancelled job's attempt ran on it, or it failed. */
  retired: boolean;
}

export class ExecutorBackend implements Backend {
  private readonly executors: Executor[] = [];
  private readonly attempts: AttemptQueue;
  readonly stats = { tasks: 0, executorsStarted: 0 };

  constructor(private readonly options: ExecutorBackendOptions) {
    this.attempts = new AttemptQueue({
      owner: "the executor backend",
      limit: options.executors,
      start: (spec) => this.startOnExecutor(spec),
      // The executor's handler may be stuck in user code: the executor goes, a fresh one replaces it.
      stopJob: (jobId) => {
        for (const executor of [...this.executors]) if (executor.busy?.jobId === jobId) this.retire(executor);
      },
    });
  }

  get concurrency(): number {
    return this.options.executors;
  }

  /** The running executors, for tests and operators. */
  async actors(): Promise<Actor[]> {
    return Promise.all(this.executors.map((e) => e.actor));
  }

  invoke(spec: WorkerTask, started?: () => void): Promise<TaskResult> {
    return this.attempts.submit(spec, started);
  }

  cancelJob(jobId: string): void {
    this.attempts.cancelJob(jobId);
  }

  async close(): Promise<void> {
    await this.attempts.close(async () => {
      await Promise.all(this.executors.map((e) => e.actor.then((a) => a.stop(), () => undefined)));
    });
  }

  /** An idle executor runs the attempt, or a new one while there are fewer than the maximum. */
  private startOnExecutor(spec: WorkerTask): Promise<TaskResult> | undefined {
    let executor = this.executors.find((e) => !e.busy);
    if (!executor && this.executors.length < this.options.executors) executor = this.startExecutor();
    if (!executor) return undefined;
    const request = new AbortController();
    executor.busy = { jobId: spec.jobId, request };
    return this.run(executor, spec, request.signal).finally(() => (executor.busy = undefined));
  }

  private startExecutor(): Executor {
    const executor: Executor = {
      retired: false,
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

  private async run(executor: Executor, spec: WorkerTask, signal: AbortSignal): Promise<TaskResult> {
    try {
      const actor = await executor.actor;
      const address = await actor.address();
      const response = await fetch(`http://${address}/invoke`, {
        method: "POST",
        body: JSON.stringify(spec),
        headers: { "Content-Type": "application/json" },
        signal,
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.stats.tasks++;
      return (await response.json()) as TaskResult;
    } catch (e) {
      // The executor is gone or unreachable: forget it (a retry starts a fresh one).
      this.retire(executor);
      return failedAttempt(`the executor failed: ${(e as Error).message}`, { retryable: true, cause: "infrastructure" });
    }
  }

  /** Forgets the executor, abandons its request and stops it, once. */
  private retire(executor: Executor): void {
    if (executor.retired) return;
    executor.retired = true;
    const index = this.executors.indexOf(executor);
    if (index >= 0) this.executors.splice(index, 1);
    executor.busy?.request.abort();
    void executor.actor.then((a) => a.stop(), () => undefined);
  }
}
