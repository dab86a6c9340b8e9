// Admission control: at most `maxRunningJobs` jobs run at once, and at most `maxQueuedJobs` more
// wait for a slot, in the order they were run, STARTING, with a job message saying so. Run beyond
// both answers RESOURCE_EXHAUSTED. A job that ends by any path (done, failed, cancelled) frees
// its slot; a waiting job that is cancelled leaves the line.
// Why a limit at all, when the backend's queue already shares workers between jobs: each
// running job holds memory in the job server (its plan, messages, the scheduler's state) and
// makes every running job slower, as workers are shared by more of them; a job that waits costs
// almost nothing and, once it runs, finishes sooner. Running jobs one by one would be best for
// the median job time but would let one long job hold up every short one.
import * as grpc from "@grpc/grpc-js";
import { JobMessage_MessageImportance } from "apache-beam/proto/beam_job_api";
import type { Job } from "../job.js";

export interface JobAdmissionOptions {
  /** Jobs running at once (default: DEFAULT_MAX_RUNNING_JOBS). */
  maxRunningJobs?: number;
  /** Jobs waiting for a slot at once; Run beyond it answers RESOURCE_EXHAUSTED (default 1000). */
  maxQueuedJobs?: number;
}

/** Jobs running at once by default: enough for each of `concurrency` workers to find work from two jobs, at least 4. */
export function defaultMaxRunningJobs(concurrency: number): number {
  return Math.max(4, 2 * concurrency);
}

export const DEFAULT_MAX_QUEUED_JOBS = 1000;

interface Waiting {
  job: Job;
  start(): void;
}

export class JobAdmission {
  private running = 0;
  private readonly waiting: Waiting[] = [];

  constructor(
    readonly maxRunningJobs: number,
    readonly maxQueuedJobs: number = DEFAULT_MAX_QUEUED_JOBS,
  ) {
    if (!(maxRunningJobs >= 1)) throw new Error(`maxRunningJobs must be at least 1, not ${maxRunningJobs}`);
    if (!(maxQueuedJobs >= 0)) throw new Error(`maxQueuedJobs must be at least 0, not ${maxQueuedJobs}`);
  }

  get runningJobs(): number {
    return this.running;
  }

  get queuedJobs(): number {
    return this.waiting.length;
  }

  /** Throws RESOURCE_EXHAUSTED when a job could neither run nor wait now; Run calls it before changing the job. */
  checkRoom(): void {
    if (this.running < this.maxRunningJobs || this.waiting.length < this.maxQueuedJobs) return;
    throw Object.assign(
      new Error(
        `${this.running} jobs are running and ${this.waiting.length} are waiting to run, the most this job server takes (maxRunningJobs ${this.maxRunningJobs}, maxQueuedJobs ${this.maxQueuedJobs}); run the job again when one has finished`,
      ),
      { code: grpc.status.RESOURCE_EXHAUSTED },
    );
  }

  /**
   * Runs `execute` now or once a slot frees, settling as it does; rejects with the job's abort
   * reason if the job is cancelled while it waits.
   */
  run(job: Job, execute: () => Promise<void>): Promise<void> {
    if (this.running < this.maxRunningJobs) return this.runNow(execute);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        const reason: unknown = job.abort.signal.reason;
        reject(reason instanceof Error ? reason : new Error(`job ${job.id} was cancelled`));
      };
      const waiter: Waiting = {
        job,
        start: () => {
          job.abort.signal.removeEventListener("abort", onAbort);
          job.log(JobMessage_MessageImportance.JOB_MESSAGE_BASIC, `job ${job.id} starts: a running job has finished`);
          this.runNow(execute).then(resolve, reject);
        },
      };
      this.waiting.push(waiter);
      job.abort.signal.addEventListener("abort", onAbort, { once: true });
      job.log(
        JobMessage_MessageImportance.JOB_MESSAGE_BASIC,
        `job ${job.id} waits to run: ${this.running} jobs are running, the most this job server runs at once (maxRunningJobs); it is number ${this.waiting.length} in line`,
      );
    });
  }

  private runNow(execute: () => Promise<void>): Promise<void> {
    this.running++;
    return Promise.resolve()
      .then(execute)
      .finally(() => {
        this.running--;
        while (this.running < this.maxRunningJobs && this.waiting.length > 0) this.waiting.shift()!.start();
      });
  }
}
