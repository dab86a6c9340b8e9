import type { TaskResult, WorkerTask } from "../common/task-spec.js";

/** Runs task attempts somewhere: worker processes on this host, or Lambda. */
export interface Backend {
  /** How many tasks the backend runs at once; the scheduler keeps it busy up to this. */
  readonly concurrency: number;
  /**
   * Runs one attempt. Resolves with its result; a lost worker is a failed, retryable result.
   * Calls `started` once the attempt leaves the backend's queue and begins to run: the scheduler
   * times attempts from then, so that time spent queued behind `concurrency` others does not
   * make an attempt look like a straggler.
   */
  invoke(spec: WorkerTask, started?: () => void): Promise<TaskResult>;
  /**
   * Fails a cancelled (or ended) job's queued and running attempts at once, and stops the running
   * ones where the backend can (a Lambda invocation cannot be stopped). See WorkQueue.
   */
  cancelJob(jobId: string): void;
  close(): Promise<void>;
}
