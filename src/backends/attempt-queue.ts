// The WorkQueue of task attempts each Backend here runs through, and the one shape of a failed
// attempt that the queue and the backends answer with.
import type { FailureCause, TaskResult, WorkerTask } from "../common/task-spec.js";
import { WorkQueue, type WorkQueueOptions } from "./work-queue.js";

/** A failed attempt: not retryable, of no known cause and from no worker process unless said otherwise. */
export function failedAttempt(error: string, options: { retryable?: boolean; workerPid?: number; cause?: FailureCause } = {}): TaskResult {
  return { ok: false, retryable: options.retryable ?? false, workerPid: options.workerPid ?? 0, error, ...(options.cause && { cause: options.cause }) };
}

export type AttemptQueueOptions = Omit<WorkQueueOptions<WorkerTask, TaskResult>, "jobOf" | "failure">;

/** Attempts grouped by their job, failing with `failedAttempt` when cancelled or shut down. */
export class AttemptQueue extends WorkQueue<WorkerTask, TaskResult> {
  constructor(options: AttemptQueueOptions) {
    super({ ...options, jobOf: (spec) => spec.jobId, failure: (error) => failedAttempt(error) });
  }
}
