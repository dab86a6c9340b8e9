// The driver's composition root: a gRPC server with the Job and Artifact services, a planner
// bound to the local harness's SDK version, and the scheduler running jobs on a Backend.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { JobMessage_MessageImportance, JobState_Enum } from "apache-beam/proto/beam_job_api";
import type { Pipeline } from "apache-beam/proto/beam_runner_api";
import type { ActorHost } from "../actors/actor.js";
import { type Backend, type BackendConfigs, type BackendName, ExecutorBackend, RoutingBackend, backendDefinition } from "../backends/index.js";
import { CONFIG, readSetting } from "../common/config.js";
import { type Logger, log } from "../common/log.js";
import { shutdownServer } from "../common/grpc.js";
import { workerEnv } from "../common/worker-env.js";
import { sweepStaleHarnessDirectories } from "../worker/harness-directories.js";
import { LocalObjectStore, type ObjectStore, artifactPrefix, jobPrefix, journalPrefix, openObjectStore } from "../store/index.js";
import { DEFAULT_STAGING_IDLE_TIMEOUT_MS, addArtifactStagingService } from "./jobservice/artifact-staging.js";
import { CallerAuth } from "./jobservice/caller-auth.js";
import { type JobRegistryOptions, JobRegistry } from "./jobservice/job-registry.js";
import { JobAdmission, defaultMaxRunningJobs } from "./jobservice/job-admission.js";
import { addJobService, endpointFor } from "./jobservice/job-service.js";
import type { Job } from "./job.js";
import { JobJournal, type JournaledJob } from "./journal/job-journal.js";
import { restoreJournaledJobs } from "./journal/resume-jobs.js";
import { UiServer } from "./ui/ui-server.js";
import { logAttempt, logJob } from "./job-log.js";
import { planPipeline } from "./planner/index.js";
import { ATTEMPTS_PER_RUN, DEFAULT_INFRASTRUCTURE_RETRY, EarlyTaskSlots, type InfrastructureRetryOptions, type MergeOptions, type SmallInputOptions, defaultPartitions, runPlan } from "./scheduler/index.js";
import { DEFAULT_SPECULATION, type SpeculationOptions } from "./scheduler/speculation.js";

/** A job an earlier server ran on this store: its journal, and what it held at this server's start. */
interface Resumed {
  journal: JobJournal;
  journaled: JournaledJob;
}

/** The server's options; each backend's own settings sit under its name (`aws`). */
export interface JobServerOptions extends BackendConfigs {
  /**
   * Address to bind (default 127.0.0.1). Anything but a loopback address needs `authTokens`, or
   * `allowUnauthenticated` where the network itself admits only trusted clients.
   */
  host?: string;
  /**
   * Bearer tokens callers must send (`authorization: Bearer <token>` metadata); each caller sees
   * only the jobs prepared with its own token. Unset: every caller is anonymous and sees every job.
   */
  authTokens?: string[];
  /** Serve a non-loopback address without tokens (a private network, or a proxy that authenticates). */
  allowUnauthenticated?: boolean;
  /** PEM files of the server's certificate chain and key: TLS instead of plaintext. */
  tls?: { certFile: string; keyFile: string };
  /** 0 picks a free port. */
  port?: number;
  /** Worker processes (default: one per core). */
  workers?: number;
  /** Partitions per shuffle (default: 2 per worker). */
  partitions?: number;
  /**
   * Directory of the local object store (default: a fresh temporary directory). With it or
   * `storeUrl`, jobs are journaled in the store, and a server started on it later serves them
   * and resumes the unfinished ones (src/driver/journal/).
   */
  storeDir?: string;
  /**
   * An object store URL instead, e.g. `s3://bucket/prefix?spread=8` (AWS_ENDPOINT_URL and
   * AWS_S3_FORCE_PATH_STYLE=1 point it at LocalStack); workers open the same URL.
   */
  storeUrl?: string;
  /** Python interpreter with apache-beam for process harnesses (default: the project's .venv). */
  python?: string;
  /** Attempts per task that fail for its code (the SDK reported an error) before the job fails (default 4, as Dataflow). */
  maxAttempts?: number;
  /** Retries of tasks whose worker, harness or Lambda environment was lost (default DEFAULT_INFRASTRUCTURE_RETRY). */
  infrastructureRetry?: InfrastructureRetryOptions;
  /**
   * A LOOPBACK / EXTERNAL environment's SDK worker pool that no attempt could reach for this long
   * fails its job, saying the pool is gone (default DEFAULT_WORKER_POOL_TIMEOUT_MS, 60 s; it wins
   * over `infrastructureRetry.workerPoolTimeoutMs`).
   */
  workerPoolTimeoutMs?: number;
  /** Push-based merge of map outputs (default: DEFAULT_MERGE). */
  merge?: MergeOptions;
  /** Start consumer tasks before their input is complete (default on). */
  pipelining?: boolean;
  /** Inputs this small run as one task (default DEFAULT_SMALL_INPUT; see scheduler/run-plan.ts). */
  smallInput?: SmallInputOptions;
  /** gzip shuffle partitions (off by default: it pays only where the network is slow). */
  compressShuffle?: boolean;
  /**
   * Where tasks run, a name in src/backends/backend-registry.ts: `local` worker processes
   * (default), `lambda-emulator` (the bundled Lambda function in emulated execution environments,
   * scripts/setup-lambda.sh), or `aws` (asynchronous Lambda invocations; needs `aws`).
   */
  backend?: BackendName;
  /**
   * Speculative copies of straggling tasks (see scheduler/speculation.ts): on by default where
   * the backend's traits say so (aws, where a straggler is a slow environment); off elsewhere.
   * `false` turns it off.
   */
  speculation?: SpeculationOptions | false;
  /**
   * Executor actors for stages over Lambda's limits (min_ram resource hint above
   * `memoryLimitBytes`, default Lambda's 10,240 MB): up to `count` at once, started through
   * `host` (local child processes, or Fargate tasks). Without it such stages run on the backend.
   */
  executors?: { host: ActorHost; count: number; memoryLimitBytes?: number; port?: number };
  /**
   * A staging stream on which the SDK sends nothing for this long while the runner waits for it
   * ends with DEADLINE_EXCEEDED (default DEFAULT_STAGING_IDLE_TIMEOUT_MS, 60 s).
   */
  stagingIdleTimeoutMs?: number;
  /**
   * How many jobs the server keeps and for how long (src/driver/jobservice/job-registry.ts):
   * prepared jobs waiting for Run (default 1000; Prepare beyond it answers RESOURCE_EXHAUSTED),
   * released with their staged artifacts if not run within 1 h; finished jobs kept 1 h (at most
   * 1000), then released with their staged artifacts.
   */
  jobs?: JobRegistryOptions;
  /**
   * Jobs running at once (default: twice the backend's attempts at once, at least 4; see
   * jobservice/job-admission.ts); later jobs wait STARTING, in the order they were run.
   */
  maxRunningJobs?: number;
  /** Jobs waiting to run at once (default 1000); Run beyond it answers RESOURCE_EXHAUSTED. */
  maxQueuedJobs?: number;
  /**
   * The largest gRPC message the Job and Artifact services accept (default 64 MiB); a larger one
   * fails its call with RESOURCE_EXHAUSTED. SDKs send artifacts in chunks of about 1 MB.
   */
  maxReceiveMessageBytes?: number;
  /**
   * The job UI (src/driver/ui/) on this port of `host`; `optional`: a port already taken is
   * reported and the server runs without it. Absent: no UI.
   */
  ui?: { port: number; optional?: boolean };
}

/** Whether only this host can reach `host`: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** User failures of one task that fail its job: Dataflow's four attempts for batch work items. */
const DEFAULT_MAX_ATTEMPTS = 4;

/** The default of `JobServerOptions.maxReceiveMessageBytes`. */
export const DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 64 << 20;

/** What the scheduler did for a job, beyond running its stages' tasks. */
export interface JobShuffleStats {
  mergeTasks: number;
  earlyTasks: number;
  speculativeTasks: number;
  /** Attempts that lost their worker, harness or Lambda environment (retried from the infrastructure budget). */
  lostAttempts: number;
  /** The most losses of any one task. */
  mostLossesOfOneTask: number;
  /** Attempts that failed for any other cause. */
  failedAttempts: number;
}

/** BEAM_LAMBDA_PYTHON, else the project's .venv, else python3 (common/config.ts); workers default to it too. */
export function defaultPython(): string {
  return readSetting("python");
}

function pythonSdkVersion(python: string): string {
  try {
    return execFileSync(python, ["-c", "import importlib.metadata as m; print(m.version('apache-beam'))"], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

export class JobServer {
  readonly registry: JobRegistry;
  /** How many jobs run and wait at once. */
  readonly admission: JobAdmission;
  /** Merge tasks and pipelined tasks per job id, for operators and tests. */
  readonly shuffleStats = new Map<string, JobShuffleStats>();
  /** Pipelined tasks running on `backend`, counted across its jobs (see the scheduler's early-task-slots.ts). */
  private readonly earlySlots = new EarlyTaskSlots();
  /** The journals of the jobs this server runs, when its store outlives it. */
  private readonly journals = new Map<string, JobJournal>();
  /** The job UI, when it serves one. */
  private ui?: UiServer;

  /** The job UI's address (http://HOST:PORT), when it serves one. */
  get uiUrl(): string | undefined {
    return this.ui?.url;
  }

  private constructor(
    private readonly server: grpc.Server,
    readonly address: string,
    readonly store: ObjectStore,
    readonly backend: Backend,
    /** The store's directory was made by this server, and goes when it stops. */
    private readonly ownStore: boolean,
    private readonly options: JobServerOptions,
    /** The options' speculation, or the backend's default. */
    private readonly speculation: SpeculationOptions | false,
    admission: JobAdmission,
  ) {
    this.registry = new JobRegistry(options.jobs, (job) => this.release(job));
    this.admission = admission;
  }

  /** A job the registry let go: its staged artifacts, journal and stats go too (its scratch space went when it ended). */
  private release(job: Job): void {
    this.shuffleStats.delete(job.id);
    this.journals.delete(job.id);
    for (const prefix of [artifactPrefix(job.id), journalPrefix(job.id)]) {
      void this.store.deletePrefix(prefix).catch((e: unknown) => {
        log.warn(`could not delete ${prefix} of released job: ${(e as Error).message}`, { component: "driver", job: job.id });
      });
    }
  }

  /** A journal that records job `jobId` from event `events` on, and deletes its scratch space once its end is recorded. */
  private journalFor(jobId: string, events: number): JobJournal {
    const journal = new JobJournal(this.store, jobId, events, () => this.deleteScratch(jobId));
    this.journals.set(jobId, journal);
    return journal;
  }

  /** Shuffle data and descriptors are scratch space; staged artifacts and the journal stay until the registry releases the job. */
  private async deleteScratch(jobId: string): Promise<void> {
    await this.store.deletePrefix(jobPrefix(jobId)).catch(() => undefined);
  }

  static async start(options: JobServerOptions = {}): Promise<JobServer> {
    const host = options.host ?? "127.0.0.1";
    const auth = new CallerAuth(options.authTokens);
    if (!isLoopback(host) && !auth.required && !options.allowUnauthenticated) {
      throw new Error(
        `refusing to serve ${host} without authentication: anyone who reaches it could read every job's pipeline and run code. ` +
          `Give --auth-token-file FILE (or ${CONFIG.authTokenFile.name}), ideally with --tls-cert/--tls-key, or bind --host 127.0.0.1; ` +
          `--allow-unauthenticated serves it anyway, for a network that only trusted clients reach`,
      );
    }
    const credentials = options.tls
      ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(options.tls.certFile), private_key: readFileSync(options.tls.keyFile) }], false)
      : grpc.ServerCredentials.createInsecure();
    const definition = backendDefinition(options.backend ?? "local");
    const { concurrency: workers, storeUrl } = definition.place({ workers: options.workers, storeUrl: options.storeUrl, configs: options });
    const partitions = options.partitions ?? defaultPartitions(workers);
    // Before anything starts: bad limits are refused at once.
    const admission = new JobAdmission(options.maxRunningJobs ?? defaultMaxRunningJobs(workers), options.maxQueuedJobs);
    const python = options.python ?? defaultPython();
    const ownStore = options.storeDir === undefined && storeUrl === undefined;
    const store = storeUrl ? openObjectStore(storeUrl) : new LocalObjectStore(options.storeDir ?? mkdtempSync(join(tmpdir(), "beam-lambda-store-")));
    const primary = await definition.start({ concurrency: workers, storeUrl: store.url, python, configs: options });
    const executors = options.executors;
    const backend: Backend = executors
      ? new RoutingBackend(
          primary,
          new ExecutorBackend({
            host: executors.host,
            executors: executors.count,
            port: executors.port,
            env: workerEnv({ storeUrl: store.url, python }),
          }),
          executors.memoryLimitBytes,
        )
      : primary;
    // Harness directories left by worker processes that were killed before this server started.
    await sweepStaleHarnessDirectories().catch(() => undefined);
    const sdkVersion = pythonSdkVersion(python);
    // What the server sends is what it accepted or made (pipelines, metrics): only receiving is capped.
    const server = new grpc.Server({
      "grpc.max_receive_message_length": options.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
      "grpc.max_send_message_length": -1,
      ...(auth.required && { interceptors: [auth.interceptor()] }),
    });
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync(`${host}:${options.port ?? 8099}`, credentials, (e, p) => (e ? rej(e) : res(p))),
    ).catch(async (e: unknown) => {
      // The backend may already poll a queue or run environments: stop it with the failed start.
      await backend.close();
      throw e;
    });
    const address = `${host}:${port}`;
    const speculation = options.speculation ?? (definition.traits.speculatesByDefault ? DEFAULT_SPECULATION : false);
    const self = new JobServer(server, address, store, backend, ownStore, options, speculation, admission);
    const plan = (pipeline: Pipeline) => planPipeline(pipeline, { pythonSdkVersion: sdkVersion });
    const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!ownStore) {
      await restoreJournaledJobs({
        store,
        registry: self.registry,
        plan,
        journalFor: (id, events) => self.journalFor(id, events),
        // A resumed job takes a slot like any other.
        resume: (job, journal, journaled) => self.admission.run(job, () => self.execute(job, partitions, maxAttempts, { journal, journaled })),
      });
    }
    addJobService(server, self.registry, {
      plan,
      execute: (job) => self.execute(job, partitions, maxAttempts),
      ...(!ownStore && { record: (job: Job) => self.journalFor(job.id, 0).begin(job, self.registry.ownerOf(job.id), partitions) }),
      artifactEndpoint: (authority) => endpointFor(authority, { host, port }),
      auth,
      admission: self.admission,
    });
    addArtifactStagingService(server, self.registry, store, { idleTimeoutMs: options.stagingIdleTimeoutMs ?? DEFAULT_STAGING_IDLE_TIMEOUT_MS }, auth);
    if (options.ui) {
      try {
        self.ui = await UiServer.start({ host, port: options.ui.port, registry: self.registry, auth, backend: options.backend ?? "local", tls: options.tls });
      } catch (e) {
        if (!options.ui.optional) {
          await self.stop();
          throw new Error(`the job UI cannot serve ${host}:${options.ui.port}: ${(e as Error).message}`, { cause: e });
        }
        log.warn(`no job UI: ${host}:${options.ui.port} is not free (${(e as Error).message}); --ui-port picks another, --no-ui turns it off`, { component: "driver" });
      }
    }
    return self;
  }

  /** Runs a job to its end; `resumed` when an earlier server ran it on this store (journal/resume-jobs.ts). */
  private async execute(job: Job, partitions: number, maxAttempts: number, resumed?: Resumed): Promise<void> {
    const jobLog = logJob(job);
    // With a store that outlives the server, the job was journaled at Run (or is resumed from its journal).
    const journal = resumed?.journal ?? this.journals.get(job.id);
    job.abort.signal.addEventListener("abort", () => this.backend.cancelJob(job.id), { once: true });
    if (job.state === JobState_Enum.STARTING) job.transition(JobState_Enum.RUNNING);
    let ended = false;
    try {
      // A resumed job's committed outputs are split in the partitions it was first run with.
      await this.runJob(job, resumed?.journaled.partitions ?? partitions, maxAttempts, journal, resumed?.journaled, jobLog);
      ended = true;
    } finally {
      job.progress.jobEnded(ended ? "done" : job.abort.signal.aborted ? "cancelled" : "failed");
      // A failed job may leave attempts of other stages running: stop them first.
      this.backend.cancelJob(job.id);
      // A journaled job's scratch space goes once its end is recorded (a resumed run may need it until then).
      if (!journal) await this.deleteScratch(job.id);
    }
  }

  private async runJob(job: Job, partitions: number, maxAttempts: number, journal: JobJournal | undefined, journaled: JournaledJob | undefined, jobLog: Logger): Promise<void> {
    const started = Date.now();
    let tasks = 0;
    const stats: JobShuffleStats = { mergeTasks: 0, earlyTasks: 0, speculativeTasks: 0, lostAttempts: 0, mostLossesOfOneTask: 0, failedAttempts: 0 };
    this.shuffleStats.set(job.id, stats);
    const run = journal ? await journal.beginRun() : 0;
    // What an earlier run committed counts as done on the job's progress, as it does for the scheduler.
    for (const committed of journaled?.commits ?? []) {
      const stage = job.plan.stages.find((s) => s.id === committed.stageId);
      if (stage) job.progress.taskCommitted(stage, committed.outputs);
    }
    await runPlan(job.plan, this.backend, this.store, {
      jobId: job.id,
      pipelineOptionsJson: JSON.stringify(job.pipelineOptions),
      artifactPrefix: artifactPrefix(job.id),
      // User code of one caller's jobs may meet in a shared harness; of different callers', never.
      harnessSharing: `owner:${this.registry.ownerOf(job.id) ?? "anonymous"}`,
      partitions,
      maxAttempts,
      infrastructureRetry: this.infrastructureRetry(),
      signal: job.abort.signal,
      merge: this.options.merge,
      pipelining: this.options.pipelining,
      earlySlots: this.earlySlots,
      smallInput: this.options.smallInput,
      compressShuffle: this.options.compressShuffle,
      speculation: this.speculation || undefined,
      onMergeCommitted: (materializationId, inputs) => {
        stats.mergeTasks++;
        const stage = job.plan.stages.find((s) => s.outputs.some((o) => o.id === materializationId));
        if (stage) job.progress.mergeCommitted(stage, inputs);
      },
      onAttemptEvent: (event) => {
        job.progress.attemptEvent(event);
        logAttempt(jobLog, event);
      },
      onStageDone: (stage) => job.progress.stageDone(stage),
      onSpeculativeStart: (stage, task) => {
        stats.speculativeTasks++;
        job.log(JobMessage_MessageImportance.JOB_MESSAGE_BASIC, `task ${task} of stage ${stage.id} [${stage.name}] is straggling: launched a speculative copy`);
      },
      onEarlyStart: (stage) => {
        stats.earlyTasks++;
        job.progress.earlyStart(stage);
      },
      onAttemptFailed: (stage, task, failure) => {
        const lost = failure.retryable && failure.cause === "infrastructure";
        if (lost) {
          stats.lostAttempts++;
          stats.mostLossesOfOneTask = Math.max(stats.mostLossesOfOneTask, failure.losses);
        } else {
          stats.failedAttempts++;
        }
        const budget = lost ? `lost its worker (${failure.losses} of the task's losses)` : `failed (${failure.userFailures} of the task's failures)`;
        const first = failure.error.split("\n", 1)[0];
        job.log(JobMessage_MessageImportance.JOB_MESSAGE_WARNING, `task ${task} of stage ${stage.id} [${stage.name}]: an attempt ${budget}: ${first}`);
      },
      onStageTasks: (stage, taskCount) => job.progress.stageLaunched(stage, taskCount),
      onStageStarted: (stage, taskCount) => {
        job.log(JobMessage_MessageImportance.JOB_MESSAGE_DETAILED, `stage ${stage.id} [${stage.name}] started with ${taskCount} tasks`);
      },
      resume: { committed: journaled?.commits ?? [], firstAttempt: run * ATTEMPTS_PER_RUN },
      commitLog: journal && ((_stage, task, monitoringInfos) => journal.recordCommit({ ...task, monitoringInfos })),
      onTaskCommitted: (stage, _task, result) => {
        tasks++;
        job.progress.taskCommitted(stage, result.outputs);
        job.workerPids.add(result.workerPid);
        job.metrics.add(result.monitoringInfos);
      },
    });
    job.log(
      JobMessage_MessageImportance.JOB_MESSAGE_BASIC,
      `job ${job.id} ran ${job.plan.stages.length} stages as ${tasks} tasks (${stats.earlyTasks} started pipelined, ${stats.speculativeTasks} speculative copies) and ${stats.mergeTasks} merge tasks on ${job.workerPids.size} worker processes in ${Date.now() - started} ms`,
    );
  }

  private infrastructureRetry(): InfrastructureRetryOptions | undefined {
    const { infrastructureRetry, workerPoolTimeoutMs } = this.options;
    if (workerPoolTimeoutMs === undefined) return infrastructureRetry;
    return { ...(infrastructureRetry ?? DEFAULT_INFRASTRUCTURE_RETRY), workerPoolTimeoutMs };
  }

  async stop(): Promise<void> {
    await this.ui?.close();
    this.registry.close();
    // Stopping the server is not the end of its jobs: a server started on the same store resumes them.
    await Promise.all([...this.journals.values()].map((j) => j.detach()));
    await shutdownServer(this.server);
    await this.backend.close();
    if (this.ownStore && this.store instanceof LocalObjectStore) await rm(this.store.root, { recursive: true, force: true });
  }
}
