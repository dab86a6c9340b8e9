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
import type { SpeculationOptions } from "./speculation.js";
import { type BundleSettings, type BundleTemplate, type MergeTemplate, bundleTemplate } from "./task-template.js";

export interface MergeOptions {
  /** Merge a materialization when (map tasks × partitions) reaches this. */
  threshold: number;
  /** Map outputs per merge task. */
  factor: number;
}

export const DEFAULT_MERGE: MergeOptions = { threshold: 4096, factor: 16 };

/**
 * An input under both limits runs as one task instead of one per partition. Each task costs a
 * bundle round trip (on Lambda an invocation, seconds if its environment is cold) and a
 * bundle-level DoFn (BatchElements, finish_bundle, a per-bundle connection) sees its input in
 * pieces: below about a thousand small elements that costs more than the parallelism saves, and
 * Beam's own runners run such inputs as one bundle. `elements: 0` always splits.
 */
export interface SmallInputOptions {
  elements: number;
  bytes: number;
}

export const DEFAULT_SMALL_INPUT: SmallInputOptions = { elements: 1000, bytes: 1 << 20 };

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

/** One materialized PCollection (in one encoding) as its producer's tasks commit. */
class Materialization {
  /** Committed task outputs, in commit order. */
  readonly committed: TaskOutputResult[] = [];
  readonly merged: TaskOutputResult[] = [];
  /** Map tasks that will commit (known once the producer launched). */
  expectedTasks?: number;
  /** Merge factor, when this materialization is merged. */
  factor?: number;
  private mergesLaunched = 0;
  feed?: { key: string; writes: Promise<void> };

  /** `ordinal` names its objects: ids are long, and file names are not. */
  constructor(
    readonly id: string,
    readonly ordinal: number,
  ) {}

  /** What readers consume: merged objects when merging, else the map outputs. */
  get outputs(): TaskOutputResult[] {
    return this.factor ? this.merged : this.committed;
  }

  /** How many `outputs` there will be. */
  get expectedOutputs(): number {
    return this.factor ? Math.ceil(this.expectedTasks! / this.factor) : this.expectedTasks!;
  }

  get complete(): boolean {
    return this.expectedTasks !== undefined && this.outputs.length === this.expectedOutputs;
  }

  /** The next group of committed outputs to merge: a full group, or the rest once all are in. */
  nextMergeGroup(): { index: number; inputs: TaskOutputResult[] } | undefined {
    if (!this.factor) return undefined;
    const from = this.mergesLaunched * this.factor;
    const available = this.committed.length - from;
    const last = this.committed.length === this.expectedTasks;
    if (available >= this.factor || (last && available > 0)) {
      return { index: this.mergesLaunched++, inputs: this.committed.slice(from, from + this.factor) };
    }
    return undefined;
  }
}

interface StageRun {
  stage: Stage;
  launched: boolean;
  /** Partitions whose task started early (from feeds). */
  early: Set<number>;
  tasks: number;
  committedTasks: number;
  done: boolean;
}

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
  private readonly materializations = new Map<string, Materialization>();
  private readonly stages: StageRun[];
  private readonly producerOf = new Map<string, StageRun>();
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
    this.stages = plan.stages.map((stage) => ({ stage, launched: false, early: new Set(), tasks: 0, committedTasks: 0, done: false }));
    for (const run of this.stages) {
      for (const o of run.stage.outputs) {
        this.materializations.set(o.id, new Materialization(o.id, this.materializations.size));
        this.producerOf.set(o.id, run);
      }
    }
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
        if (this.stages.every((s) => s.done)) return;
        let progress = false;
        for (const run of this.stages) {
          if (run.launched) continue;
          if (this.upstreamDone(run.stage)) {
            this.launch(run);
            progress = true;
          } else if (this.options.pipelining !== false) {
            progress = this.launchEarly(run) || progress;
          }
        }
        const waiting = this.stages.some((s) => s.launched && !s.done);
        if (!waiting && !progress) throw new Error("the stage graph cannot make progress (a stage waits on itself)");
        const wakeup = this.wakeup;
        await Promise.race([wakeup, aborted]);
        this.wakeup = this.nextWakeup();
      }
    } catch (e) {
      await this.closeFeeds(e);
      throw e;
    }
  }

  private upstreamDone(stage: Stage): boolean {
    return stage.upstream.every((u) => this.stages.find((s) => s.stage.id === u)!.done);
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
    if (!side.every((id) => this.materializations.get(id)!.complete)) return false;
    if (!main.every((id) => this.producerOf.get(id)!.launched)) return false;
    if (main.every((id) => this.materializations.get(id)!.complete)) return false;
    // Until what has committed shows the input is not small, it may yet run as one task.
    if (this.isSmall(stage.main.edge)) return false;
    // Only the main input's producers may be unfinished; any other upstream must be done.
    const mainProducers = new Set(main.map((id) => this.producerOf.get(id)!.stage.id));
    if (!stage.upstream.every((u) => mainProducers.has(u) || this.stages.find((s) => s.stage.id === u)!.done)) return false;
    let started = false;
    for (let partition = 0; partition < this.options.partitions; partition++) {
      if (run.early.has(partition)) continue;
      const running = earlyRunning.get(this.backend) ?? 0;
      if (running >= this.backend.concurrency - (this.options.speculation ? 2 : 1)) break;
      earlyRunning.set(this.backend, running + 1);
      run.early.add(partition);
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
    const { stage } = run;
    run.launched = true;
    const specs: BundleTemplate[] = [];
    const whole = stage.main.kind === "edge" && run.early.size === 0 && this.isSmall(stage.main.edge);
    const taskCount = stage.main.kind === "impulse" || whole ? 1 : this.options.partitions;
    for (let partition = 0; partition < taskCount; partition++) {
      if (run.early.has(partition)) continue;
      const main = stage.main.kind === "impulse" ? undefined : this.staticInput(stage.main.edge, whole ? "all" : partition);
      // An empty partition makes an empty bundle: skip it, as Beam's runners do.
      if (main && main.ranges.every((r) => r.end <= r.start) && stage.timers.length === 0) continue;
      specs.push(this.bundleTemplate(stage, partition, main));
    }
    run.tasks = specs.length + run.early.size;
    for (const o of stage.outputs) {
      const m = this.materializations.get(o.id)!;
      m.expectedTasks = run.tasks;
      if (run.tasks >= 2 && run.tasks * this.options.partitions >= this.merge.threshold) m.factor = this.merge.factor;
    }
    if (run.early.size === 0) this.options.onStageStarted?.(stage, specs.length);
    for (const spec of specs) this.track(run, this.runTask(spec));
    // Early tasks may already have committed every output.
    this.afterCommit(run);
    this.notify();
  }

  /** Runs a task to its committed attempt, then records its outputs. */
  private track(run: StageRun, task: Promise<TaskOutputResult[]>): void {
    void task.then(
      (outputs) => {
        run.committedTasks++;
        for (const out of outputs) this.materializations.get(out.id)!.committed.push(out);
        this.afterCommit(run);
        this.notify();
      },
      (e: unknown) => {
        this.failure ??= e;
        this.notify();
      },
    );
  }

  /** Launches merges that are due, refreshes feeds, and completes the stage when all is in. */
  private afterCommit(run: StageRun): void {
    if (!run.launched) return;
    for (const o of run.stage.outputs) {
      const m = this.materializations.get(o.id)!;
      for (let group = m.nextMergeGroup(); group; group = m.nextMergeGroup()) this.launchMerge(run, m, group.index, group.inputs);
      this.writeFeed(m);
    }
    this.checkDone(run);
  }

  private checkDone(run: StageRun): void {
    if (run.done || !run.launched || run.committedTasks < run.tasks) return;
    if (!run.stage.outputs.every((o) => this.materializations.get(o.id)!.complete)) return;
    run.done = true;
    this.notify();
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
        m.merged.push(...result.outputs);
        this.options.onMergeCommitted?.(m.id, inputs.length);
        this.writeFeed(m);
        this.checkDone(run);
        this.notify();
      },
      (e: unknown) => {
        this.failure ??= e;
        this.notify();
      },
    );
  }

  private bundleTemplate(stage: Stage, taskIndex: number, main: TaskInput | undefined): BundleTemplate {
    const sideInputs = stage.sideInputs.map((si) => ({
      transformId: si.transformId,
      tag: si.tag,
      accessPattern: si.accessPattern,
      input: this.staticInput(si.edge, "all"),
    }));
    return bundleTemplate(this.bundleSettings, stage, taskIndex, main, sideInputs);
  }

  /**
   * Whether the outputs committed so far for `edge` are under the small-input limits. Every
   * partition of a key-partitioned edge in one task still keeps each key in one task.
   */
  private isSmall(edge: Edge): boolean {
    const limits = this.options.smallInput ?? DEFAULT_SMALL_INPUT;
    let elements = 0;
    let bytes = 0;
    for (const source of edge.sources) {
      for (const out of this.materializations.get(source)!.outputs) {
        elements += out.elements;
        bytes += out.offsets[out.offsets.length - 1]! - out.offsets[0]!;
      }
    }
    return elements < limits.elements && bytes < limits.bytes;
  }

  /** The byte ranges a task reads from complete inputs: one partition of every source, or all. */
  private staticInput(edge: Edge, partition: number | "all"): TaskInput {
    const ranges: ObjectRange[] = [];
    for (const source of edge.sources) {
      for (const out of this.materializations.get(source)!.outputs) ranges.push(rangeOf(out, partition));
    }
    return { read: edge.read, wireCoderId: edge.wireCoderId, ranges };
  }

  /** An input whose incomplete sources are read through feeds. */
  private feedInput(edge: Edge, partition: number): TaskInput {
    const ranges: ObjectRange[] = [];
    const feeds: InputFeed[] = [];
    for (const source of edge.sources) {
      const m = this.materializations.get(source)!;
      if (m.complete) {
        for (const out of m.outputs) ranges.push(rangeOf(out, partition));
        continue;
      }
      m.feed ??= { key: this.keys.feed(m.ordinal), writes: Promise.resolve() };
      feeds.push({ key: m.feed.key, expected: m.expectedOutputs, partition });
      this.writeFeed(m);
    }
    return { read: edge.read, wireCoderId: edge.wireCoderId, ranges, feeds };
  }

  /** Rewrites a watched feed with every output readers may take so far; writes stay in order. */
  private writeFeed(m: Materialization, failed?: string): void {
    const feed = m.feed;
    if (!feed) return;
    const content: FeedContent = { outputs: [...m.outputs], failed };
    feed.writes = feed.writes.then(() => this.store.put(feed.key, Buffer.from(JSON.stringify(content)))).catch((e: unknown) => {
      this.failure ??= e;
      this.notify();
    });
  }

  /** Tells tasks waiting on feeds that the job failed, so none waits for outputs that never come. */
  private async closeFeeds(e: unknown): Promise<void> {
    const message = e instanceof Error ? e.message : String(e);
    for (const m of this.materializations.values()) this.writeFeed(m, message);
    await Promise.all([...this.materializations.values()].map((m) => m.feed?.writes));
  }

  private async runTask(template: BundleTemplate): Promise<TaskOutputResult[]> {
    const run = this.stages.find((s) => s.stage.id === template.stageId)!;
    const { stage } = run;
    const attemptsPrefix = this.keys.taskAttempts(stage, template.taskIndex);
    const result = await this.attempts.run({ template, attemptsPrefix, stage, stageTasks: () => run.tasks || this.options.partitions });
    this.options.onTaskCommitted?.(stage, template.taskIndex, result);
    return result.outputs;
  }
}
