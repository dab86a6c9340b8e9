// Sends each task attempt to one of two backends: stages marked as over Lambda's limits (their
// environment's min_ram resource hint is more than a function has) go to executor actors;
// everything else to the primary backend (Lambda, or local worker processes).
import type { TaskResult, WorkerTask } from "../common/task-spec.js";
import type { Backend } from "./backend.js";

/** Lambda's largest memory setting. */
export const LAMBDA_MAX_MEMORY_BYTES = 10_240 * 1024 * 1024;

/** Whether a task must run on an executor: a bundle whose environment asks for more than `limitBytes`. */
export function needsExecutor(spec: WorkerTask, limitBytes = LAMBDA_MAX_MEMORY_BYTES): boolean {
  return spec.kind === "bundle" && (spec.environment.minRamBytes ?? 0) > limitBytes;
}

export class RoutingBackend implements Backend {
  constructor(
    readonly primary: Backend,
    readonly executors: Backend,
    private readonly limitBytes = LAMBDA_MAX_MEMORY_BYTES,
  ) {}

  get concurrency(): number {
    return this.primary.concurrency;
  }

  invoke(spec: WorkerTask, started?: () => void): Promise<TaskResult> {
    return needsExecutor(spec, this.limitBytes) ? this.executors.invoke(spec, started) : this.primary.invoke(spec, started);
  }

  cancelJob(jobId: string): void {
    this.primary.cancelJob(jobId);
    this.executors.cancelJob(jobId);
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.executors.close()]);
  }
}
