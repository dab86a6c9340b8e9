// The jobs a job server knows, by id, and how long it keeps them. Each job costs memory (its
// pipeline, plan, messages and metrics) and store space (its staged artifacts), so the registry is
// bounded: at most `maxPreparedJobs` prepared jobs wait for Run at once (Prepare beyond that
// answers RESOURCE_EXHAUSTED), a prepared job not run within `preparedJobTimeoutMs` is released,
// and a finished job is kept for `finishedJobRetentionMs`, the oldest going first once more than
// `maxFinishedJobs` have finished. A released job is gone (NOT_FOUND) and `onRelease` deletes
// what it left in the store.
// It also knows who prepared each job and the staging token each was given. A staging token is
// 256 random bits, not the job id (which GetJobs lists): only the preparing client has it, so no
// one else can stage, or overwrite, a job's artifacts.
import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import type { Job } from "../job.js";
import type { JobOwner } from "./caller-auth.js";

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
  owner: JobOwner;
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
  /** Staging token → job id, while the job can still be staged to (until Run). */
  private readonly stagingTokens = new Map<string, string>();
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

  /** The job, if `caller` may see it: another caller's job is as absent as a job that never was. */
  get(id: string, caller: JobOwner = undefined): Job {
    const entry = this.entries.get(id);
    if (!entry || entry.owner !== caller) throw statusError(grpc.status.NOT_FOUND, `no job with id '${id}'`);
    return entry.job;
  }

  /**
   * Who prepared the job: undefined when the server takes anonymous calls (or the job is unknown).
   * The journal records it, so that a restarted server shows the job to the same caller.
   */
  ownerOf(id: string): JobOwner {
    return this.entries.get(id)?.owner;
  }

  /** The jobs `caller` may see. */
  visibleTo(caller: JobOwner): Job[] {
    return [...this.entries.values()].filter((e) => e.owner === caller).map((e) => e.job);
  }

  /** The job a staging session is for; refuses a token this server did not issue, or whose job has run. */
  forStagingToken(token: string, caller: JobOwner = undefined): Job {
    const id = this.stagingTokens.get(token);
    const entry = id === undefined ? undefined : this.entries.get(id);
    if (!entry || entry.owner !== caller) {
      throw statusError(
        grpc.status.PERMISSION_DENIED,
        "the staging token is not one this job server issued to this caller (use Prepare's staging_session_token; a job id is not one)",
      );
    }
    if (entry.job.state !== JobState_Enum.STOPPED) {
      throw statusError(grpc.status.FAILED_PRECONDITION, `job '${entry.job.id}' has already been run: its artifacts can no longer be staged`);
    }
    return entry.job;
  }

  /** Retires a job's staging token (the job runs on what was staged). */
  closeStaging(job: Job): void {
    for (const [token, id] of this.stagingTokens) if (id === job.id) this.stagingTokens.delete(token);
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

  /** Registers a prepared (STOPPED) job for `owner`; returns its staging token. */
  add(job: Job, owner: JobOwner = undefined): string {
    this.checkCapacity();
    const entry: Entry = { job, owner, unsubscribe: () => undefined };
    this.entries.set(job.id, entry);
    const token = randomBytes(32).toString("base64url");
    this.stagingTokens.set(token, job.id);
    this.prepared.add(job.id);
    entry.timer = this.releaseAfter(job.id, this.options.preparedJobTimeoutMs);
    entry.unsubscribe = job.subscribe((e) => {
      if (e.kind === "state") this.onStateChange(entry);
    });
    return token;
  }

  /**
   * Registers a job an earlier job server ran, as its journal had it (src/driver/journal/): a
   * finished one is kept for the retention period again, a running one until it finishes.
   */
  restore(job: Job, owner: JobOwner): void {
    const entry: Entry = { job, owner, unsubscribe: () => undefined };
    this.entries.set(job.id, entry);
    entry.unsubscribe = job.subscribe((e) => {
      if (e.kind === "state") this.onStateChange(entry);
    });
    this.onStateChange(entry);
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
    this.closeStaging(entry.job);
    this.onRelease(entry.job);
  }
}
