// The jobs a job server knows, by id, and how long it keeps them. Each job costs memory (its
// pipeline, plan, messages and metrics) and store space (its staged artifacts), so the registry is
// bounded: at most `maxPreparedJobs` prepared jobs wait for Run at once (Prepare beyond that
// answers RESOURCE_EXHAUSTED), a prepared job not run within `preparedJobTimeoutMs` is released,
// and a finished job is kept for `finishedJobRetentionMs`, the oldest going first once more than
// `maxFinishedJobs` have finished. A released job is gone (NOT_FOUND) and `onRelease` deletes
// what it left in the store.
import * as grpc from "@grpc/grpc-js";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import type { Job } from "../job.js";

export interface JobRegistryOptions {
  /** Prepared jobs waiting for Run at once (default 1000). */
  maxPreparedJobs?: number;
  /** A prepared job not run within this is released (default 1 h). */
  preparedJobTimeoutMs?: number;
  /** A finished job's record is kept this long for GetState, GetJobs and metrics (default 1 h). */
  finishedJobRetentionMs?: number;
  /** Finished jobs kept at once; the oldest are released early beyond it (default 1000). */
  maxFinishedJobs?: number;
}

export const DEFAULT_JOB_REGISTRY_OPTIONS: Required<JobRegistryOptions> = {
  maxPreparedJobs: 1000,
  preparedJobTimeoutMs: 60 * 60_000,
  finishedJobRetentionMs: 60 * 60_000,
  maxFinishedJobs: 1000,
};

interface Entry {
  job: Job;
  timer?: NodeJS.Timeout;
  unsubscribe: () => void;
}

/** An error carrying the gRPC status the job service answers with. */
function statusError(code: grpc.status, message: string): Error & { code: grpc.status } {
  return Object.assign(new Error(message), { code });
}

export class JobRegistry {
  private readonly entries = new Map<string, Entry>();
  /** Ids of prepared jobs not yet run, cancelled or released. */
  private readonly prepared = new Set<string>();
  /** Ids of finished jobs, oldest first (a Set keeps insertion order). */
  private readonly finished = new Set<string>();
  private readonly options: Required<JobRegistryOptions>;

  constructor(
    options: JobRegistryOptions = {},
    /** Called once per released job, after it has left the registry (e.g. to delete its artifacts). */
    private readonly onRelease: (job: Job) => void = () => undefined,
  ) {
    this.options = { ...DEFAULT_JOB_REGISTRY_OPTIONS, ...options };
  }

  /** The jobs known now, by id (read only: `add` and the registry's timers change it). */
  get jobs(): ReadonlyMap<string, Job> {
    return new Map([...this.entries].map(([id, e]) => [id, e.job]));
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): Job {
    const entry = this.entries.get(id);
    if (!entry) throw statusError(grpc.status.NOT_FOUND, `no job with id '${id}'`);
    return entry.job;
  }

  /** Throws RESOURCE_EXHAUSTED when no more prepared jobs may wait; call before the work of preparing. */
  checkCapacity(): void {
    if (this.prepared.size >= this.options.maxPreparedJobs) {
      throw statusError(
        grpc.status.RESOURCE_EXHAUSTED,
        `${this.prepared.size} prepared jobs are waiting to be run, the most this job server keeps (maxPreparedJobs); run or cancel one, or wait ${Math.round(this.options.preparedJobTimeoutMs / 1000)} s for unrun ones to be released`,
      );
    }
  }

  /** Registers a prepared (STOPPED) job. */
  add(job: Job): void {
    this.checkCapacity();
    const entry: Entry = { job, unsubscribe: () => undefined };
    this.entries.set(job.id, entry);
    this.prepared.add(job.id);
    entry.timer = this.releaseAfter(job.id, this.options.preparedJobTimeoutMs);
    entry.unsubscribe = job.subscribe((e) => {
      if (e.kind === "state") this.onStateChange(entry);
    });
  }

  /** Stops the timers (the server is stopping); the jobs' store data stays, as the server's store does. */
  close(): void {
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
  }

  private onStateChange(entry: Entry): void {
    const { job } = entry;
    if (job.state !== JobState_Enum.STOPPED && this.prepared.delete(job.id)) clearTimeout(entry.timer);
    if (job.terminal && !this.finished.has(job.id)) {
      this.finished.add(job.id);
      entry.timer = this.releaseAfter(job.id, this.options.finishedJobRetentionMs);
      while (this.finished.size > this.options.maxFinishedJobs) this.release(this.finished.values().next().value!);
    }
  }

  private releaseAfter(id: string, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.release(id), ms);
    // The registry's timers never keep a stopping process alive.
    timer.unref();
    return timer;
  }

  private release(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.unsubscribe();
    this.entries.delete(id);
    this.prepared.delete(id);
    this.finished.delete(id);
    this.onRelease(entry.job);
  }
}
