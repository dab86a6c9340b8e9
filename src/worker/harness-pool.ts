// The warm SDK harnesses of one worker. Starting a harness (a Python process importing Beam, its
// staged artifacts copied in) takes a second or more, so a harness is kept between tasks, and
// may serve several jobs when nothing it reads at start differs between them:
// - the driver allows it (`TaskSpec.harnessSharing`: the jobs of one caller, never of two);
// - the environment: a process harness with the same command (an SDK worker pool, LOOPBACK or
//   EXTERNAL, belongs to its client's process and is never shared);
// - the staged artifacts (the pickled main session, requirements), by a SHA-256 of their names
//   and bytes as the store holds them, not by the digests the SDK claims;
// - the pipeline options, all of them but the job's name: sdk_worker_main reads them once at
//   start (log levels, pickler, experiments, state cache, RuntimeValueProvider's values).
// A harness keeps per-process state (module globals user code set, bundle descriptors it was
// registered, cached bundle processors), so a shared one serves at most MAX_JOBS_PER_HARNESS jobs
// and is stopped once every job it served has ended and no new one came for HARNESS_IDLE_MS (the
// next of several queued jobs often comes a moment after the last one ended). Jobs on one harness cannot collide: a
// descriptor's id is its key under `jobs/<job>/`, and instruction ids are numbered per harness.
import { createHash } from "node:crypto";
import type { TaskSpec } from "../common/task-spec.js";
import type { ObjectStore } from "../store/index.js";
import type { SdkHarness } from "./sdk-harness.js";

/** Harnesses kept warm per worker; the least recently used one is stopped when another is needed. */
const MAX_WARM_HARNESSES = 2;
/** Jobs one harness serves before a new job gets a fresh one: bounds what user code leaves behind. */
export const MAX_JOBS_PER_HARNESS = 32;
/** A harness whose jobs have all ended is stopped after this long without a new one. */
export const HARNESS_IDLE_MS = 5_000;
/** Options that name the job rather than configure the harness. */
const JOB_IDENTITY_OPTIONS = new Set(["beam:option:job_name:v1", "job_name"]);

interface WarmHarness {
  harness: Promise<SdkHarness>;
  started?: SdkHarness;
  /** Jobs given this harness that have not ended. */
  activeJobs: Set<string>;
  jobsServed: number;
  idle?: NodeJS.Timeout;
}

export class HarnessPool {
  /** By sharing key, least recently used first. */
  private readonly warm = new Map<string, WarmHarness>();
  private readonly artifactDigests = new Map<string, Promise<string>>();
  /** Harnesses this pool has started (for tests and load reports). */
  starts = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly start: (spec: TaskSpec) => Promise<SdkHarness>,
    private readonly idleMs = HARNESS_IDLE_MS,
  ) {}

  /** A warm harness for the task: one its job may share, else a new one. */
  async acquire(spec: TaskSpec): Promise<SdkHarness> {
    const key = await this.sharingKey(spec);
    let entry = this.warm.get(key);
    if (entry && !entry.activeJobs.has(spec.jobId) && entry.jobsServed >= MAX_JOBS_PER_HARNESS) {
      void this.retire(key);
      entry = undefined;
    }
    if (entry) {
      clearTimeout(entry.idle);
      this.warm.delete(key);
    } else {
      while (this.warm.size >= MAX_WARM_HARNESSES) void this.retire(this.warm.keys().next().value!);
      const harness = this.start(spec);
      this.starts++;
      const created: WarmHarness = { harness, activeJobs: new Set(), jobsServed: 0 };
      void harness.then(
        (h) => (created.started = h),
        () => this.warm.get(key) === created && this.warm.delete(key),
      );
      entry = created;
    }
    this.warm.set(key, entry);
    if (!entry.activeJobs.has(spec.jobId)) {
      entry.activeJobs.add(spec.jobId);
      entry.jobsServed++;
    }
    return entry.harness;
  }

  /** Stops a harness that failed or was lost: the next task starts a new one. */
  drop(harness: SdkHarness): void {
    for (const [key, entry] of this.warm) if (entry.started === harness) void this.retire(key);
  }

  /** The job has ended: harnesses no running job still uses are stopped (with their directories) unless reused soon. */
  endJob(jobId: string): void {
    this.artifactDigests.delete(jobId);
    for (const [key, entry] of this.warm) {
      if (!entry.activeJobs.delete(jobId) || entry.activeJobs.size > 0) continue;
      clearTimeout(entry.idle);
      entry.idle = setTimeout(() => {
        if (this.warm.get(key) === entry && entry.activeJobs.size === 0) void this.retire(key);
      }, this.idleMs);
      // An idle harness never keeps a stopping worker alive.
      entry.idle.unref();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.warm.keys()].map((key) => this.retire(key)));
  }

  private retire(key: string): Promise<void> {
    const entry = this.warm.get(key);
    this.warm.delete(key);
    clearTimeout(entry?.idle);
    return entry ? entry.harness.then((h) => h.stop(), () => undefined) : Promise.resolve();
  }

  /** Tasks with the same key may run on the same harness. */
  private async sharingKey(spec: TaskSpec): Promise<string> {
    const env = spec.environment;
    if (env.kind === "external" || spec.harnessSharing === undefined) return JSON.stringify(["job", spec.jobId, env.id]);
    const facts = [spec.harnessSharing, env.kind, env.command ?? null, harnessOptions(spec.pipelineOptionsJson), await this.artifactsDigest(spec)];
    return createHash("sha256").update(JSON.stringify(facts)).digest("hex");
  }

  private artifactsDigest(spec: TaskSpec): Promise<string> {
    let digest = this.artifactDigests.get(spec.jobId);
    if (!digest) {
      digest = digestArtifacts(this.store, spec.artifactPrefix);
      digest.catch(() => this.artifactDigests.delete(spec.jobId));
      this.artifactDigests.set(spec.jobId, digest);
    }
    return digest;
  }
}

/** SHA-256 over every staged artifact's name, length and bytes, in name order. */
export async function digestArtifacts(store: ObjectStore, prefix: string): Promise<string> {
  const hash = createHash("sha256");
  for (const key of (await store.list(prefix)).sort()) {
    const bytes = await store.get(key);
    hash.update(`${key.slice(prefix.length)}\0${bytes.length}\0`).update(bytes);
  }
  return hash.digest("hex");
}

/** The pipeline options as the harness reads them, without the job's name, keys sorted: equal options, equal text. */
export function harnessOptions(pipelineOptionsJson: string): string {
  const options = JSON.parse(pipelineOptionsJson) as Record<string, unknown>;
  for (const name of JOB_IDENTITY_OPTIONS) delete options[name];
  return canonicalJson(options);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
