// Attempts of one task until one commits: retries of failed attempts, and a speculative copy of
// a straggling one (speculation.ts decides who straggles).
//
// Each attempt writes under keys of its own, so the scheduler hands readers the outputs of
// exactly the attempt returned here: a failed, retried or losing attempt can neither lose nor
// duplicate records, and its result is simply not waited for.
import type { Backend } from "../../backends/backend.js";
import type { TaskResult } from "../../common/task-spec.js";
import { attemptKey } from "../../store/index.js";
import type { Stage } from "../planner/index.js";
import { StageFailedError } from "./errors.js";
import { SPECULATION_CHECK_MS, type SpeculationOptions, StageDurations } from "./speculation.js";
import { type TaskTemplate, attemptSpec } from "./task-template.js";

export interface AttemptOptions {
  backend: Backend;
  /** Attempts per task, counting failures only (a copy that loses is not a failure). */
  maxAttempts: number;
  /** Copies of straggling bundle tasks (off when absent). */
  speculation?: SpeculationOptions;
  signal?: AbortSignal;
  /** Whether the job has failed: its tasks then start no further attempt. */
  jobFailed(): boolean;
  onSpeculativeStart?: (stage: Stage, taskIndex: number) => void;
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
  startedAt: number;
  done: Promise<{ attempt: number; result: TaskResult }>;
}

/** Runs the attempts of one job's tasks; it keeps each stage's committed durations. */
export class AttemptRunner {
  private readonly durations = new Map<string, StageDurations>();

  constructor(private readonly options: AttemptOptions) {}

  /**
   * Runs attempts until one succeeds, a failure is final, or attempts run out (StageFailedError).
   * With speculation on, a straggling bundle attempt gets one copy beside it; the first to
   * succeed is returned and the other's result is ignored.
   */
  async run({ template, attemptsPrefix, stage, stageTasks }: PlannedTask): Promise<CommittedResult> {
    const { backend, maxAttempts, signal } = this.options;
    const durations = this.durationsOf(stage);
    const speculation = stageTasks ? this.options.speculation : undefined;
    const running = new Map<number, RunningAttempt>();
    let nextAttempt = 0;
    let failures = 0;
    let speculated = false;
    let lastError = "";
    const launch = () => {
      const attempt = nextAttempt++;
      const spec = attemptSpec(template, attempt, attemptKey(attemptsPrefix, attempt));
      running.set(attempt, { startedAt: Date.now(), done: backend.invoke(spec).then((result) => ({ attempt, result })) });
    };
    const fail = () =>
      new StageFailedError(stage.id, template.kind === "merge" ? `${stage.name} (${template.stageName})` : stage.name, template.taskIndex, lastError);
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      if (this.options.jobFailed()) throw new Error("the job already failed");
      if (running.size === 0) launch();
      let check: NodeJS.Timeout | undefined;
      const waits: Promise<{ attempt: number; result: TaskResult } | "check">[] = [...running.values()].map((r) => r.done);
      if (speculation && !speculated) waits.push(new Promise((resolve) => (check = setTimeout(() => resolve("check"), SPECULATION_CHECK_MS))));
      const next = await Promise.race(waits);
      clearTimeout(check);
      if (next === "check") {
        const [only] = running.values();
        if (only && durations.isStraggler(only.startedAt, stageTasks!(), speculation!)) {
          speculated = true;
          launch();
          this.options.onSpeculativeStart?.(stage, template.taskIndex);
        }
        continue;
      }
      const { startedAt } = running.get(next.attempt)!;
      running.delete(next.attempt);
      if (next.result.ok) {
        if (stageTasks) durations.record(Date.now() - startedAt);
        return next.result;
      }
      lastError = next.result.error;
      failures++;
      if (!next.result.retryable) throw fail();
      // Out of attempts: fail, unless a copy is still running and may yet succeed.
      if (failures >= maxAttempts && running.size === 0) throw fail();
    }
  }

  private durationsOf(stage: Stage): StageDurations {
    let durations = this.durations.get(stage.id);
    if (!durations) this.durations.set(stage.id, (durations = new StageDurations()));
    return durations;
  }
}
