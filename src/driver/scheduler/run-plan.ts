// The scheduler: turns the plan's stage DAG into task attempts on a Backend.
//
// A stage launches when every stage it reads has completed; independent stages run at once.
// Each task commits exactly one successful attempt: outputs are written under attempt-scoped
// keys, and only the committed attempt's keys are handed to downstream tasks.
//
// Two things overlap a shuffle's stages (see docs/shuffle.md):
// - Push-based merge: when a materialization's M × R passes a threshold, merge tasks combine
//   groups of F committed map outputs while the map stage is still running; readers then get
//   ⌈M/F⌉ merged objects instead of M map outputs.
// - Pipelining: once a stage's producers have launched all their tasks, some of its tasks start
//   early and read their input from feeds (objects the driver rewrites as outputs commit), so
//   they fetch committed map outputs while the last maps still run. Early tasks never take the
//   backend's last slot (last two, with speculation): a waiting task must not keep a map retry
//   or a straggler's speculative copy from running.
import { ProcessBundleDescriptor } from "apache-beam/proto/beam_fn_api";
import type { Backend } from "../../backends/backend.js";
import {
  type FeedContent,
  type InputFeed,
  type ObjectRange,
  TASK_SPEC_VERSION,
  type TaskInput,
  type TaskOutputResult,
  rangeOf,
} from "../../common/task-spec.js";
import type { ObjectStore } from "../../shuffle/index.js";
import type { Edge, ExecutionPlan, Stage } from "../planner/index.js";
import { AttemptRunner } from "./attempts.js";
import { JobKeys } from "./job-keys.js";
import { DEFAULT_SMALL_INPUT, type Materialization, Materializations, type SmallInputOptions } from "./materializations.js";
import type { SpeculationOptions } from "./speculation.js";
import { type StageRun, StageRuns } from "./stage-state.js";
import { type BundleSettings, type BundleTemplate, type MergeTemplate, bundleTemplate } from "./task-template.js";

export interface MergeOptions {
  /** Merge a materialization when (map tasks × partitions) reaches this. */
  threshold: number;
  /** Map outputs per merge task. */
  factor: number;
}

export const DEFAULT_MERGE: MergeOptions = { threshold: 4096, factor: 16 };

export interface RunOptions {
  jobId: string;
  pipelineOptionsJson: string;
  artifactPrefix: string;
  /** Partitions per materialized PCollection, i.e. tasks per non-root stage. */
  partitions: number;
  maxAttempts: number;
  signal?: AbortSignal;
  merge?: MergeOptions;
  /** Start consumer tasks before their input is complete (default on). */
  pipelining?: boolean;
  /** Inputs that run as one task (default DEFAULT_SMALL_INPUT). */
  smallInput?: SmallInputOptions;
  /** gzip every shuffle partition (see the measurement in docs/shuffle.md). */
  compressShuffle?: boolean;
  /** Launch a second attempt of straggling bundle tasks (off when absent); see speculation.ts. */
  speculation?: SpeculationOptions;
  onTaskCommitted?(stage: Stage, taskIndex: number, result: { monitoringInfos: string[]; workerPid: number }): void;
  onStageStarted?(stage: Stage, tasks: number): void;
  onMergeCommitted?(materializationId: string, inputs: number): void;
  /** A task of `stage` started before its input was complete. */
  onEarlyStart?(stage: Stage, taskIndex: number): void;
  /** A second attempt of a straggling task was launched. */
  onSpeculativeStart?(stage: Stage, taskIndex: number): void;
}

/**
 * Early tasks running per backend, across jobs: together they leave one slot free, two with
 * speculation on. Early tasks wait on their producers; if they held every slot but the one a
 * straggler is in, its speculative copy would wait for the straggler it is meant to overtake.
 */
const earlyRunning = new WeakMap<Backend, number>();

export async function runPlan(plan: ExecutionPlan, backend: Backend, store: ObjectStore, options: RunOptions): Promise<void> {
  const keys = new JobKeys(options.jobId);
  await Promise.all(
    plan.stages.flatMap((s) => [
      store.put(keys.descriptor(s), ProcessBundleDescriptor.toBinary(s.descriptor)),
      ...(s.windowMergeDescriptor ? [store.put(keys.windowMergeDescriptor(s), ProcessBundleDescriptor.toBinary(s.windowMergeDescriptor))] : []),
    ]),
  );
  await new JobScheduler(plan, backend, store, options, keys).run();
}

class JobScheduler {
  private readonly materializations: Materializations;
  private readonly stages: StageRuns;
  /** Merge groups launched per merged materialization. */
  private readonly mergesLaunched = new Map<Materialization, number>();
  private readonly feeds = new Map<Materialization, { key: string; writes: Promise<void> }>();
  private failure: unknown;
  private wake!: () => void;
  private wakeup = this.nextWakeup();
  private readonly merge: MergeOptions;
  private readonly attempts: AttemptRunner;
  private readonly bundleSettings: BundleSettings;

  constructor(
    plan: ExecutionPlan,
    private readonly backend: Backend,
    private readonly store: ObjectStore,
    private readonly options: RunOptions,
    private readonly keys: JobKeys,
  ) {
    this.merge = options.merge ?? DEFAULT_MERGE;
    this.attempts = new AttemptRunner({
      backend,
      maxAttempts: options.maxAttempts,
      speculation: options.speculation,
      signal: options.signal,
      jobFailed: () => this.failure !== undefined,
      onSpeculativeStart: options.onSpeculativeStart,
    });
    this.bundleSettings = {
      jobId: options.jobId,
      keys,
      environments: plan.environments,
      pipelineOptionsJson: options.pipelineOptionsJson,
      artifactPrefix: options.artifactPrefix,
      partitions: options.partitions,
      compressShuffle: options.compressShuffle,
    };
    this.stages = new StageRuns(plan.stages);
    this.materializations = new Materializations(plan.stages, options.smallInput ?? DEFAULT_SMALL_INPUT);
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
    const aborted = new Promise<never>((_, reject) => {
      if (this.options.signal?.aborted) reject(this.options.signal.reason);
      this.options.signal?.addEventListener("abort", () => reject(this.options.signal!.reason), { once: true });
    });
    aborted.catch(() => undefined);
    try {
      for (;;) {
        if (this.options.signal?.aborted) throw this.options.signal.reason;
        if (this.failure !== undefined) throw this.failure;
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
      await this.closeFeeds(e);
      throw e;
    }
  }

  private sources(stage: Stage): { main: string[]; side: string[] } {
    return {
      main: stage.main.kind === "edge" ? stage.main.edge.sources : [],
      side: stage.sideInputs.flatMap((si) => si.edge.sources),
    };
  }

  /** Starts some of a stage's tasks on feeds, when its producers have launched all their tasks. */
  private launchEarly(run: StageRun): boolean {
    const { stage } = run;
    if (stage.main.kind !== "edge" || stage.timers.length > 0) return false;
    const { main, side } = this.sources(stage);
    if (!this.materializations.allComplete(side)) return false;
    if (!main.every((id) => this.stages.producerOf(id).launched)) return false;
    if (this.materializations.allComplete(main)) return false;
    // Until what has committed shows the input is not small, it may yet run as one task.
    if (this.materializations.isSmall(stage.main.edge)) return false;
    // Only the main input's producers may be unfinished; any other upstream must be done.
    const mainProducers = new Set(main.map((id) => this.stages.producerOf(id).stage.id));
    if (!stage.upstream.every((u) => mainProducers.has(u) || this.stages.get(u).state.kind === "done")) return false;
    let started = false;
    for (let partition = 0; partition < this.options.partitions; partition++) {
      if (run.early.has(partition)) continue;
      const running = earlyRunning.get(this.backend) ?? 0;
      if (running >= this.backend.concurrency - (this.options.speculation ? 2 : 1)) break;
      earlyRunning.set(this.backend, running + 1);
      run.startEarly(partition);
      const input = this.feedInput(stage.main.edge, partition);
      this.options.onEarlyStart?.(stage, partition);
      if (run.early.size === 1) this.options.onStageStarted?.(stage, this.options.partitions);
      const task = this.runTask(this.bundleTemplate(stage, partition, input)).finally(() =>
        earlyRunning.set(this.backend, (earlyRunning.get(this.backend) ?? 1) - 1),
      );
      this.track(run, task);
      started = true;
    }
    return started;
  }

  private launch(run: StageRun): void {
    const { stage, early } = run;
    const specs: BundleTemplate[] = [];
    const whole = stage.main.kind === "edge" && early.size === 0 && this.materializations.isSmall(stage.main.edge);
    const taskCount = stage.main.kind === "impulse" || whole ? 1 : this.options.partitions;
    for (let partition = 0; partition < taskCount; partition++) {
      if (early.has(partition)) continue;
      const main = stage.main.kind === "impulse" ? undefined : this.materializations.staticInput(stage.main.edge, whole ? "all" : partition);
      // An empty partition makes an empty bundle: skip it, as Beam's runners do.
      if (main && main.ranges.every((r) => r.end <= r.start) && stage.timers.length === 0) continue;
      specs.push(this.bundleTemplate(stage, partition, main));
    }
    const startedEarly = early.size;
    const tasks = specs.length + startedEarly;
    run.launch(tasks);
    for (const m of this.materializations.of(stage)) {
      m.expectedTasks = tasks;
      if (tasks >= 2 && tasks * this.options.partitions >= this.merge.threshold) m.factor = this.merge.factor;
    }
    if (startedEarly === 0) this.options.onStageStarted?.(stage, specs.length);
    for (const spec of specs) this.track(run, this.runTask(spec));
    // Early tasks may already have committed every output.
    this.afterCommit(run);
    this.notify();
  }

  /** Runs a task to its committed attempt, then records its outputs. */
  private track(run: StageRun, task: Promise<TaskOutputResult[]>): void {
    void task
      .then(
        (outputs) => {
          if (!run.recordCommit()) return;
          this.materializations.addCommitted(outputs);
          this.afterCommit(run);
          this.notify();
        },
        (e: unknown) => this.fail(run, e),
      )
      .catch((e: unknown) => this.fail(undefined, e));
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

  /** Launches merges that are due, refreshes feeds, and completes the stage when all is in. */
  private afterCommit(run: StageRun): void {
    if (run.state.kind !== "running") return;
    for (const m of this.materializations.of(run.stage)) {
      for (let group = this.nextMergeGroup(m); group; group = this.nextMergeGroup(m)) this.launchMerge(run, m, group.index, group.inputs);
      this.writeFeed(m);
    }
    this.checkDone(run);
  }

  private checkDone(run: StageRun): void {
    if (!run.allCommitted) return;
    if (!this.materializations.of(run.stage).every((m) => m.complete)) return;
    run.finish();
    this.notify();
  }

  /** The next group of committed outputs to merge: a full group, or the rest once all are in. */
  private nextMergeGroup(m: Materialization): { index: number; inputs: TaskOutputResult[] } | undefined {
    if (!m.factor) return undefined;
    const launched = this.mergesLaunched.get(m) ?? 0;
    const from = launched * m.factor;
    const available = m.committed.length - from;
    const last = m.committed.length === m.expectedTasks;
    if (available >= m.factor || (last && available > 0)) {
      this.mergesLaunched.set(m, launched + 1);
      return { index: launched, inputs: m.committed.slice(from, from + m.factor) };
    }
    return undefined;
  }

  private launchMerge(run: StageRun, m: Materialization, index: number, inputs: TaskOutputResult[]): void {
    const template: MergeTemplate = {
      version: TASK_SPEC_VERSION,
      kind: "merge",
      jobId: this.options.jobId,
      stageId: run.stage.id,
      stageName: `merge of ${m.id}`,
      taskIndex: index,
      materializationId: m.id,
      inputs,
    };
    void this.attempts.run({ template, attemptsPrefix: this.keys.mergeAttempts(m.ordinal, index), stage: run.stage }).then(
      (result) => {
        if (run.state.kind === "failed") return;
        m.merged.push(...result.outputs);
        this.options.onMergeCommitted?.(m.id, inputs.length);
        this.writeFeed(m);
        this.checkDone(run);
        this.notify();
      },
      (e: unknown) => this.fail(run, e),
    ).catch((e: unknown) => this.fail(undefined, e));
  }

  private bundleTemplate(stage: Stage, taskIndex: number, main: TaskInput | undefined): BundleTemplate {
    return bundleTemplate(this.bundleSettings, stage, taskIndex, main, this.materializations.sideInputs(stage));
  }

  /** An input whose incomplete sources are read through feeds. */
  private feedInput(edge: Edge, partition: number): TaskInput {
    const ranges: ObjectRange[] = [];
    const feeds: InputFeed[] = [];
    for (const source of edge.sources) {
      const m = this.materializations.get(source);
      if (m.complete) {
        for (const out of m.outputs) ranges.push(rangeOf(out, partition));
        continue;
      }
      let feed = this.feeds.get(m);
      if (!feed) this.feeds.set(m, (feed = { key: this.keys.feed(m.ordinal), writes: Promise.resolve() }));
      feeds.push({ key: feed.key, expected: m.expectedOutputs, partition });
      this.writeFeed(m);
    }
    return { read: edge.read, wireCoderId: edge.wireCoderId, ranges, feeds };
  }

  /** Rewrites a watched feed with every output readers may take so far; writes stay in order. */
  private writeFeed(m: Materialization, failed?: string): void {
    const feed = this.feeds.get(m);
    if (!feed) return;
    const content: FeedContent = { outputs: [...m.outputs], failed };
    feed.writes = feed.writes.then(() => this.store.put(feed.key, Buffer.from(JSON.stringify(content)))).catch((e: unknown) => this.fail(undefined, e));
  }

  /** Tells tasks waiting on feeds that the job failed, so none waits for outputs that never come. */
  private async closeFeeds(e: unknown): Promise<void> {
    const message = e instanceof Error ? e.message : String(e);
    for (const m of this.materializations.all()) this.writeFeed(m, message);
    await Promise.all([...this.feeds.values()].map((feed) => feed.writes));
  }

  private async runTask(template: BundleTemplate): Promise<TaskOutputResult[]> {
    const run = this.stages.get(template.stageId);
    const { stage } = run;
    const attemptsPrefix = this.keys.taskAttempts(stage, template.taskIndex);
    const result = await this.attempts.run({ template, attemptsPrefix, stage, stageTasks: () => run.tasks || this.options.partitions });
    this.options.onTaskCommitted?.(stage, template.taskIndex, result);
    return result.outputs;
  }
}
