// The scheduler: turns the plan's stage DAG into task attempts on a Backend.
//
// A stage launches when every stage it reads is done; independent stages run at once. Each task
// commits exactly one successful attempt: outputs are written under attempt-scoped keys, and
// only the committed attempt's keys are handed to downstream tasks.
//
// This file orchestrates; each policy has a module of its own:
// - stage-state.ts       where each stage is (waiting | running | done | failed), readiness
// - materializations.ts  committed outputs, and the inputs tasks are handed (small ones whole)
// - attempts.ts          retries, and speculative copies of stragglers (speculation.ts)
// - push-merge.ts        merging map outputs while the map stage still runs
// - pipelined-feeds.ts   starting tasks early, on feeds of their incomplete inputs
// - resume.ts            skipping the tasks an earlier run of the job committed
// A JobScheduler's state is its job's alone, but for the early-task slots, which are the
// backend's (early-task-slots.ts).
import { ProcessBundleDescriptor } from "apache-beam/proto/beam_fn_api";
import type { Backend } from "../../backends/backend.js";
import type { TaskInput, TaskOutputResult } from "../../common/task-spec.js";
import { JobKeys, type ObjectStore } from "../../store/index.js";
import type { ExecutionPlan, Stage } from "../planner/index.js";
import { type AttemptOptions, AttemptRunner, type InfrastructureRetryOptions } from "./attempts.js";
import type { EarlyTaskSlots } from "./early-task-slots.js";
import { asError } from "./errors.js";
import { DEFAULT_SMALL_INPUT, type Materialization, Materializations, type SmallInputOptions } from "./materializations.js";
import { Feeds, Pipelining } from "./pipelined-feeds.js";
import { DEFAULT_MERGE, type MergeOptions, type PendingMerge, PushMerge } from "./push-merge.js";
import { type CommitLog, type ResumeOptions, type Seeded, seedCommitted } from "./resume.js";
import type { SpeculationOptions } from "./speculation.js";
import { type StageRun, StageRuns } from "./stage-state.js";
import { type BundleSettings, type BundleTemplate, bundleTemplate } from "./task-template.js";

/** Partitions per shuffle when none are given: two per attempt the backend runs at once. */
export function defaultPartitions(attemptsAtOnce: number): number {
  return Math.max(2, attemptsAtOnce * 2);
}

export interface RunOptions {
  jobId: string;
  pipelineOptionsJson: string;
  artifactPrefix: string;
  /** Who may share warm harnesses with this job (TaskSpec.harnessSharing). */
  harnessSharing?: string;
  /** Partitions per materialized PCollection, i.e. tasks per non-root stage. */
  partitions: number;
  /** User failures (and failures of unknown cause) per task that fail the job. */
  maxAttempts: number;
  /** Retries of tasks whose worker was lost (default DEFAULT_INFRASTRUCTURE_RETRY); see attempts.ts. */
  infrastructureRetry?: InfrastructureRetryOptions;
  signal?: AbortSignal;
  merge?: MergeOptions;
  /** Start consumer tasks before their input is complete (default on). */
  pipelining?: boolean;
  /** The backend's early-task slots, shared by every job on it (see early-task-slots.ts). */
  earlySlots: EarlyTaskSlots;
  /** Inputs that run as one task (default DEFAULT_SMALL_INPUT). */
  smallInput?: SmallInputOptions;
  /** gzip every shuffle partition (see the measurement in docs/shuffle.md). */
  compressShuffle?: boolean;
  /** Launch a second attempt of straggling bundle tasks (off when absent); see speculation.ts. */
  speculation?: SpeculationOptions;
  onTaskCommitted?(stage: Stage, taskIndex: number, result: { monitoringInfos: string[]; workerPid: number; outputs: TaskOutputResult[] }): void;
  onStageStarted?(stage: Stage, tasks: number): void;
  /** All of `stage`'s tasks are launched: how many it has (fewer than partitions when inputs are small or empty). */
  onStageTasks?(stage: Stage, tasks: number): void;
  onMergeCommitted?(materializationId: string, inputs: number): void;
  /** A task of `stage` started before its input was complete. */
  onEarlyStart?(stage: Stage, taskIndex: number): void;
  /** A second attempt of a straggling task was launched. */
  onSpeculativeStart?: (stage: Stage, taskIndex: number) => void;
  /** An attempt failed (it may be retried); see attempts.ts. */
  onAttemptFailed?: AttemptOptions["onAttemptFailed"];
  /** Every attempt's launch, start and end; see attempts.ts. */
  onAttemptEvent?: AttemptOptions["onAttemptEvent"];
  /** Every task of `stage` has committed, and so have its merges. */
  onStageDone?(stage: Stage): void;
  /** The tasks an earlier run of this job committed (resume.ts). */
  resume?: ResumeOptions;
  /** Where each commit is recorded before downstream tasks get its outputs (the job's journal). */
  commitLog?: CommitLog;
}

export async function runPlan(plan: ExecutionPlan, backend: Backend, store: ObjectStore, options: RunOptions): Promise<void> {
  const keys = new JobKeys(options.jobId);
  await Promise.all(
    plan.stages.flatMap((s) => [
      store.put(keys.descriptor(s.id), ProcessBundleDescriptor.toBinary(s.descriptor)),
      ...(s.windowMergeDescriptor ? [store.put(keys.windowMergeDescriptor(s.id), ProcessBundleDescriptor.toBinary(s.windowMergeDescriptor))] : []),
    ]),
  );
  await new JobScheduler(plan, backend, store, options, keys).run();
}

class JobScheduler {
  private readonly stages: StageRuns;
  private readonly materializations: Materializations;
  private readonly attempts: AttemptRunner;
  private readonly merges: PushMerge;
  private readonly feeds: Feeds;
  private readonly pipelining: Pipelining;
  private readonly bundleSettings: BundleSettings;
  /** Stages an earlier run committed tasks of, and stages run as one task over their whole input. */
  private readonly seeded: Seeded;
  /** The job's first error: it fails with it. */
  private failure: unknown;
  private wake!: () => void;
  private wakeup = this.nextWakeup();

  constructor(
    plan: ExecutionPlan,
    backend: Backend,
    store: ObjectStore,
    private readonly options: RunOptions,
    private readonly keys: JobKeys,
  ) {
    this.stages = new StageRuns(plan.stages);
    this.materializations = new Materializations(plan.stages, options.smallInput ?? DEFAULT_SMALL_INPUT);
    this.attempts = new AttemptRunner({
      backend,
      maxAttempts: options.maxAttempts,
      infrastructure: options.infrastructureRetry,
      speculation: options.speculation,
      signal: options.signal,
      firstAttempt: options.resume?.firstAttempt,
      jobFailed: () => this.failure !== undefined,
      onSpeculativeStart: options.onSpeculativeStart,
      onAttemptFailed: options.onAttemptFailed,
      onAttemptEvent: options.onAttemptEvent,
    });
    this.seeded = seedCommitted(this.stages, this.materializations, options.resume?.committed ?? []);
    this.merges = new PushMerge(options.merge ?? DEFAULT_MERGE, options.partitions, options.jobId, keys, this.attempts);
    this.feeds = new Feeds(store, keys, this.materializations, (e) => this.fail(undefined, e));
    this.pipelining = new Pipelining(
      this.stages,
      this.materializations,
      this.feeds,
      options.earlySlots,
      backend,
      options.partitions,
      options.speculation !== undefined,
    );
    this.bundleSettings = {
      jobId: options.jobId,
      keys,
      environments: plan.environments,
      pipelineOptionsJson: options.pipelineOptionsJson,
      artifactPrefix: options.artifactPrefix,
      harnessSharing: options.harnessSharing,
      partitions: options.partitions,
      compressShuffle: options.compressShuffle,
    };
  }

  private nextWakeup(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  private notify(): void {
    this.wake();
  }

  async run(): Promise<void> {
    // Cancelling stops scheduling at once. Attempts already running are the backend's to stop
    // (the local backend kills them; a Lambda invocation cannot be stopped): their results are dropped.
    const { signal } = this.options;
    const aborted = new Promise<never>((_, reject) => {
      if (signal?.aborted) reject(asError(signal.reason));
      signal?.addEventListener("abort", () => reject(asError(signal.reason)), { once: true });
    });
    aborted.catch(() => undefined);
    try {
      for (;;) {
        if (signal?.aborted) throw asError(signal.reason);
        if (this.failure !== undefined) throw asError(this.failure);
        if (this.stages.allDone) return;
        let progress = false;
        for (const run of this.stages) {
          if (run.launched) continue;
          if (this.stages.upstreamDone(run.stage)) {
            this.launch(run);
            progress = true;
          } else if (this.options.pipelining !== false) {
            progress = this.launchEarly(run) || progress;
          }
        }
        if (!this.stages.anyRunning && !progress) throw new Error("the stage graph cannot make progress (a stage waits on itself)");
        const wakeup = this.wakeup;
        await Promise.race([wakeup, aborted]);
        this.wakeup = this.nextWakeup();
      }
    } catch (e) {
      // A cancelled job ends here too: attempts still running then commit nothing more.
      this.failure ??= e;
      await this.feeds.close(e);
      throw e;
    }
  }

  /** Starts the tasks of a waiting stage that may start early; whether any did. */
  private launchEarly(run: StageRun): boolean {
    const { stage } = run;
    let started = false;
    for (const { partition, input, release } of this.pipelining.earlyStarts(run)) {
      this.options.onEarlyStart?.(stage, partition);
      if (run.early.size === 1) this.options.onStageStarted?.(stage, this.options.partitions);
      this.track(run, this.runTask(this.bundleTemplate(stage, partition, input)).finally(release));
      started = true;
    }
    return started;
  }

  /** Launches every task of a stage whose upstream stages are done, but those started early. */
  private launch(run: StageRun): void {
    const { stage, early } = run;
    const templates: BundleTemplate[] = [];
    const whole =
      stage.main.kind === "edge" &&
      (this.seeded.whole.has(stage.id) || (early.size === 0 && !stage.splitsRestrictions && this.materializations.isSmall(stage.main.edge)));
    if (whole) this.seeded.whole.add(stage.id);
    const taskCount = stage.main.kind === "impulse" || whole ? 1 : this.options.partitions;
    for (let partition = 0; partition < taskCount; partition++) {
      if (early.has(partition)) continue;
      const main = stage.main.kind === "impulse" ? undefined : this.materializations.staticInput(stage.main.edge, whole ? "all" : partition);
      // An empty partition makes an empty bundle: skip it, as Beam's runners do.
      if (main && main.ranges.every((r) => r.end <= r.start) && stage.timers.length === 0) continue;
      templates.push(this.bundleTemplate(stage, partition, main));
    }
    const startedEarly = early.size;
    const tasks = templates.length + startedEarly;
    run.launch(tasks);
    for (const m of this.materializations.of(stage)) {
      m.expectedTasks = tasks;
      if (!this.seeded.restored.has(stage.id)) this.merges.decide(m, tasks);
    }
    if (startedEarly === 0) this.options.onStageStarted?.(stage, templates.length);
    this.options.onStageTasks?.(stage, tasks);
    for (const template of templates) this.track(run, this.runTask(template));
    // Early tasks may already have committed every output.
    this.afterCommit(run);
    this.notify();
  }

  /** Records a task's outputs once it has committed. */
  private track(run: StageRun, task: Promise<TaskOutputResult[]>): void {
    void task
      .then(
        (outputs) => {
          // Once the job has failed or been cancelled, a late commit starts no merge and feeds no one.
          if (this.failure !== undefined || !run.recordCommit()) return;
          this.materializations.addCommitted(outputs);
          this.afterCommit(run);
          this.notify();
        },
        (e: unknown) => this.fail(run, e),
      )
      .catch((e: unknown) => this.fail(undefined, e));
  }

  /** Launches merges that are due, refreshes feeds, and completes the stage when all is in. */
  private afterCommit(run: StageRun): void {
    if (run.state.kind !== "running") return;
    for (const m of this.materializations.of(run.stage)) {
      for (const merge of this.merges.launchDue(run.stage, m)) this.trackMerge(run, m, merge);
      this.feeds.write(m);
    }
    this.checkDone(run);
  }

  private trackMerge(run: StageRun, m: Materialization, merge: PendingMerge): void {
    void merge.outputs
      .then(
        (outputs) => {
          // A failed stage failed the job (fail() sets both): a merge ending after that changes nothing.
          if (this.failure !== undefined) return;
          m.merged.push(...outputs);
          this.options.onMergeCommitted?.(m.id, merge.inputs);
          this.feeds.write(m);
          this.checkDone(run);
          this.notify();
        },
        (e: unknown) => this.fail(run, e),
      )
      .catch((e: unknown) => this.fail(undefined, e));
  }

  private checkDone(run: StageRun): void {
    if (!run.allCommitted) return;
    if (!this.materializations.of(run.stage).every((m) => m.complete)) return;
    run.finish();
    this.options.onStageDone?.(run.stage);
    this.notify();
  }

  /**
   * The job fails with its first error; `run`, when given, is the stage whose task or merge
   * failed. An error in handling a result fails the job too, rather than the process.
   */
  private fail(run: StageRun | undefined, e: unknown): void {
    run?.fail(e);
    this.failure ??= e;
    this.notify();
  }

  private bundleTemplate(stage: Stage, taskIndex: number, main: TaskInput | undefined): BundleTemplate {
    return bundleTemplate(this.bundleSettings, stage, taskIndex, main, this.materializations.sideInputs(stage));
  }

  /** Runs a bundle task to its committed attempt. */
  private async runTask(template: BundleTemplate): Promise<TaskOutputResult[]> {
    const run = this.stages.get(template.stageId);
    const { stage } = run;
    const attemptsPrefix = this.keys.taskAttempts(stage.id, template.taskIndex);
    // Before the stage has launched all its tasks, count one per partition.
    const stageTasks = () => run.tasks || this.options.partitions;
    const result = await this.attempts.run({ template, attemptsPrefix, stage, stageTasks });
    const committed = { stageId: stage.id, taskIndex: template.taskIndex, whole: this.seeded.whole.has(stage.id), outputs: result.outputs };
    await this.options.commitLog?.(stage, committed, result.monitoringInfos);
    this.options.onTaskCommitted?.(stage, template.taskIndex, result);
    return result.outputs;
  }
}
