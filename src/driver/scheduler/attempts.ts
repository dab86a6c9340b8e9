// Attempts of one task until one commits: retries of failed attempts, and a speculative copy of
// a straggling one (speculation.ts decides who straggles).
//
// Failures come out of two budgets, by their cause (TaskResult.cause). A user failure (the SDK
// reported an error) will likely repeat: `maxAttempts` of them fail the task, as on Dataflow. A
// lost worker, harness or Lambda environment says nothing about the task (Spark does not count
// executor loss against a task either): such a loss is retried after a backoff that doubles, and
// only `infrastructure.maxLosses` of them fail the task. A failure of unknown cause counts as a
// user failure, so that a deterministic one is not retried for minutes.
//
// Each attempt writes under keys of its own, so the scheduler hands readers the outputs of
// exactly the attempt returned here: a failed, retried or losing attempt can neither lose nor
// duplicate records, and its result is simply not waited for.
import type { Backend } from "../../backends/backend.js";
import type { FailureCause, TaskResult } from "../../common/task-spec.js";
import { attemptKey } from "../../store/index.js";
import type { Stage } from "../planner/index.js";
import { StageFailedError, WorkerLostError } from "./errors.js";
import { WorkerPoolLiveness } from "./worker-pool-liveness.js";
import { SPECULATION_CHECK_MS, type SpeculationOptions, StageDurations } from "./speculation.js";
import { type TaskTemplate, attemptSpec } from "./task-template.js";

/** How a task's infrastructure losses are retried. */
export interface InfrastructureRetryOptions {
  /** Losses of one task that fail it (and the job). */
  maxLosses: number;
  /** Wait before the attempt after the first loss; it doubles with each further loss... */
  backoffMs: number;
  /** ...up to this. */
  maxBackoffMs: number;
  /**
   * A LOOPBACK / EXTERNAL environment's SDK worker pool that no attempt of the job could reach
   * for this long fails the job (default DEFAULT_WORKER_POOL_TIMEOUT_MS): see worker-pool-liveness.ts.
   */
  workerPoolTimeoutMs?: number;
}

export const DEFAULT_INFRASTRUCTURE_RETRY: InfrastructureRetryOptions = { maxLosses: 20, backoffMs: 500, maxBackoffMs: 10_000 };

/** The default of `InfrastructureRetryOptions.workerPoolTimeoutMs`. */
export const DEFAULT_WORKER_POOL_TIMEOUT_MS = 60_000;

/** The wait before relaunching a task that has lost its worker `losses` times (≥ 1). */
export function lossBackoffMs(losses: number, options: InfrastructureRetryOptions): number {
  return Math.min(options.maxBackoffMs, options.backoffMs * 2 ** Math.min(losses - 1, 30));
}

export interface AttemptOptions {
  backend: Backend;
  /** User failures per task that fail it (a copy that loses is not a failure; nor is a lost worker). */
  maxAttempts: number;
  /** Retries of infrastructure losses (default DEFAULT_INFRASTRUCTURE_RETRY). */
  infrastructure?: InfrastructureRetryOptions;
  /** Copies of straggling bundle tasks (off when absent). */
  speculation?: SpeculationOptions;
  signal?: AbortSignal;
  /** The number of each task's first attempt (default 0; a resumed job's run starts past its earlier runs'). */
  firstAttempt?: number;
  /** Whether the job has failed: its tasks then start no further attempt. */
  jobFailed(): boolean;
  onSpeculativeStart?: (stage: Stage, taskIndex: number) => void;
  /** An attempt failed; what the task has used of each budget so far (the attempt included). */
  onAttemptFailed?: (stage: Stage, taskIndex: number, failure: AttemptFailure) => void;
  /** Every attempt as it is launched, started by the backend, and ended (progress and timelines). */
  onAttemptEvent?: (event: AttemptEvent) => void;
}

/** One step of one attempt's life; `at` is Date.now(). */
export interface AttemptEvent {
  phase: "launched" | "started" | "ended";
  stage: Stage;
  template: TaskTemplate;
  attempt: number;
  /** A copy of a straggling attempt. */
  speculative: boolean;
  at: number;
  /** With `ended`: how it ended. A result that arrives after its task committed through another attempt is reported too. */
  result?: TaskResult;
}

export interface AttemptFailure {
  error: string;
  cause?: FailureCause;
  retryable: boolean;
  userFailures: number;
  losses: number;
}

/** A task to run: what its attempts share, where they write, and the stage it belongs to. */
export interface PlannedTask {
  template: TaskTemplate;
  /** Attempt `a` writes at `attemptKey(attemptsPrefix, a)`. */
  attemptsPrefix: string;
  stage: Stage;
  /**
   * For bundle tasks: how many tasks the stage has now. A task with it may get a speculative
   * copy; merge tasks are short and have none.
   */
  stageTasks?: () => number;
}

export type CommittedResult = Extract<TaskResult, { ok: true }>;

interface RunningAttempt {
  launchedAt: number;
  /** When the backend started it (it may queue it first): only a started attempt can straggle. */
  startedAt?: number;
}

/** Runs the attempts of one job's tasks; it keeps each stage's committed durations. */
export class AttemptRunner {
  private readonly durations = new Map<string, StageDurations>();
  private readonly workerPools: WorkerPoolLiveness;

  constructor(private readonly options: AttemptOptions) {
    this.workerPools = new WorkerPoolLiveness(options.infrastructure?.workerPoolTimeoutMs ?? DEFAULT_WORKER_POOL_TIMEOUT_MS);
  }

  /**
   * Runs attempts until one succeeds, a failure is final, or attempts run out (StageFailedError).
   * With speculation on, a straggling bundle attempt gets one copy beside it; the first to
   * succeed is returned and the other's result is ignored.
   */
  async run({ template, attemptsPrefix, stage, stageTasks }: PlannedTask): Promise<CommittedResult> {
    const { backend, maxAttempts, signal } = this.options;
    const infrastructure = this.options.infrastructure ?? DEFAULT_INFRASTRUCTURE_RETRY;
    const durations = this.durationsOf(stage);
    const speculation = stageTasks ? this.options.speculation : undefined;
    const running = new Map<number, RunningAttempt>();
    let nextAttempt = this.options.firstAttempt ?? 0;
    let userFailures = 0;
    let losses = 0;
    /** When the next attempt may start, after a loss. */
    let notBefore = 0;
    let speculated = false;
    let lastError = "";
    // Attempts report here as they start and end. One reaction per attempt, and the loop sleeps on
    // a fresh promise each time: racing every attempt's promise at each straggler check left a
    // reaction behind per check, a thousand attempts in flight piling up a gigabyte (bench/fanout.ts).
    const finished: { attempt: number; result: TaskResult }[] = [];
    /** A backend's rejection (its own error, not a failed attempt) fails the task as it is. */
    let rejected: { error: unknown } | undefined;
    let wake = () => {};
    const launch = (speculative = false) => {
      const attempt = nextAttempt++;
      const spec = attemptSpec(template, attempt, attemptKey(attemptsPrefix, attempt));
      const timing: RunningAttempt = { launchedAt: Date.now() };
      running.set(attempt, timing);
      const report = (phase: AttemptEvent["phase"], result?: TaskResult) =>
        this.options.onAttemptEvent?.({ phase, stage, template, attempt, speculative, at: Date.now(), ...(result && { result }) });
      report("launched");
      void backend
        .invoke(spec, () => {
          if (timing.startedAt === undefined) report("started");
          timing.startedAt ??= Date.now();
          wake();
        })
        .then(
          (result) => {
            report("ended", result);
            finished.push({ attempt, result });
          },
          (error: unknown) => {
            report("ended", { ok: false, error: String(error), retryable: false, workerPid: 0 });
            rejected ??= { error };
          },
        )
        .finally(() => wake());
    };
    const stageName = template.kind === "merge" ? `${stage.name} (${template.stageName})` : stage.name;
    const fail = () => new StageFailedError(stage.id, stageName, template.taskIndex, lastError);
    const lost = () => new WorkerLostError(stage.id, stageName, template.taskIndex, losses, lastError);
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      if (this.options.jobFailed()) throw new Error("the job already failed");
      if (running.size === 0) {
        const wait = notBefore - Date.now();
        if (wait > 0) {
          await sleep(wait, signal);
          continue;
        }
        launch();
      }
      if (finished.length === 0 && !rejected) {
        // A started attempt is checked for straggling every SPECULATION_CHECK_MS, from the floor under which none straggles.
        const [only] = running.values();
        const checkInMs =
          speculation && !speculated && only?.startedAt !== undefined
            ? Math.max(SPECULATION_CHECK_MS, only.startedAt + speculation.minRuntimeMs - Date.now())
            : undefined;
        let check: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (checkInMs !== undefined) check = setTimeout(resolve, checkInMs);
        });
        wake = () => {};
        clearTimeout(check);
      }
      if (rejected) throw rejected.error;
      const next = finished.shift();
      if (!next) {
        // Woken by a start, or to check for a straggler.
        const [only] = running.values();
        if (speculation && !speculated && only?.startedAt !== undefined && durations.isStraggler(only.startedAt, stageTasks!(), speculation)) {
          speculated = true;
          launch(true);
          this.options.onSpeculativeStart?.(stage, template.taskIndex);
        }
        continue;
      }
      const { launchedAt, startedAt = launchedAt } = running.get(next.attempt)!;
      running.delete(next.attempt);
      const poolAddress = template.kind === "bundle" && template.environment.kind === "external" ? template.environment.address : undefined;
      if (next.result.ok) {
        if (stageTasks) durations.record(Date.now() - startedAt);
        if (poolAddress) this.workerPools.reached(poolAddress);
        return next.result;
      }
      const { error, cause, retryable, workerPoolUnreachable } = next.result;
      lastError = error;
      if (retryable && cause === "infrastructure") {
        losses++;
        notBefore = Date.now() + lossBackoffMs(losses, infrastructure);
      } else if (retryable) {
        userFailures++;
      }
      this.options.onAttemptFailed?.(stage, template.taskIndex, { error, cause, retryable, userFailures, losses });
      if (!retryable) throw fail();
      const poolGone = workerPoolUnreachable === undefined ? undefined : this.workerPools.unreachable(workerPoolUnreachable);
      if (poolGone) throw poolGone;
      // Out of either budget: fail, unless a copy is still running and may yet succeed.
      if (running.size > 0) continue;
      if (userFailures >= maxAttempts) throw fail();
      if (losses >= infrastructure.maxLosses) throw lost();
    }
  }

  private durationsOf(stage: Stage): StageDurations {
    let durations = this.durations.get(stage.id);
    if (!durations) this.durations.set(stage.id, (durations = new StageDurations()));
    return durations;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (the caller checks it). */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
