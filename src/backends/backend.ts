import type { TaskResult, WorkerTask } from "../common/task-spec.js";

/** Runs task attempts somewhere: worker processes on this host, or Lambda. */
export interface Backend {
  /** How many tasks the backend runs at once; the scheduler keeps it busy up to this. */
  readonly concurrency: number;
  /** Runs one attempt. Resolves with its result; a lost worker is a failed, retryable result. */
  invoke(spec: WorkerTask): Promise<TaskResult>;
  /** Drops a cancelled job's queued attempts and stops its running ones where the backend can. */
  cancelJob(jobId: string): void;
  close(): Promise<void>;
}
