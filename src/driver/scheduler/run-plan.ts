// The scheduler: turns the plan's stage DAG into task attempts on a Backend.
// A stage starts when every stage it reads has committed; independent stages run at once.
// Each task commits exactly one successful attempt: outputs are written under attempt-scoped
// keys, and only the committed attempt's keys are handed to downstream tasks.
import { ProcessBundleDescriptor } from "apache-beam/proto/beam_fn_api";
import type { Backend } from "../../backends/backend.js";
import {
  type EnvironmentSpec,
  type ObjectRange,
  TASK_SPEC_VERSION,
  type TaskInput,
  type TaskOutputResult,
  type TaskSpec,
} from "../../common/task-spec.js";
import type { ObjectStore } from "../../shuffle/index.js";
import type { Edge, ExecutionPlan, Stage } from "../planner/index.js";
import { StageFailedError } from "./errors.js";

export interface RunOptions {
  jobId: string;
  pipelineOptionsJson: string;
  artifactPrefix: string;
  /** Partitions per materialized PCollection, i.e. tasks per non-root stage. */
  partitions: number;
  maxAttempts: number;
  signal?: AbortSignal;
  onTaskCommitted?(stage: Stage, taskIndex: number, result: { monitoringInfos: string[]; workerPid: number }): void;
  onStageStarted?(stage: Stage, tasks: number): void;
}

/** Committed outputs by materialization id: one entry per task that produced any. */
type Materialized = Map<string, TaskOutputResult[]>;

export async function runPlan(plan: ExecutionPlan, backend: Backend, store: ObjectStore, options: RunOptions): Promise<void> {
  const jobPrefix = `jobs/${options.jobId}`;
  await Promise.all(
    plan.stages.map((s) => store.put(`${jobPrefix}/descriptors/${s.id}`, ProcessBundleDescriptor.toBinary(s.descriptor))),
  );
  const materialized: Materialized = new Map();
  const done = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const failures: unknown[] = [];
  // Cancelling stops scheduling at once. Attempts already running are the backend's to stop
  // (the local backend kills them; a Lambda invocation cannot be stopped): their results are dropped.
  const aborted = new Promise<never>((_, reject) => {
    if (options.signal?.aborted) reject(options.signal.reason);
    options.signal?.addEventListener("abort", () => reject(options.signal!.reason), { once: true });
  });
  aborted.catch(() => undefined);

  while (done.size < plan.stages.length && failures.length === 0) {
    if (options.signal?.aborted) throw options.signal.reason;
    for (const stage of plan.stages) {
      if (done.has(stage.id) || running.has(stage.id)) continue;
      if (!stage.upstream.every((u) => done.has(u))) continue;
      const run = runStage(stage, plan.environments[stage.environmentId]!, backend, store, materialized, options, jobPrefix)
        .then(() => {
          done.add(stage.id);
        })
        .catch((e: unknown) => {
          failures.push(e);
        })
        .finally(() => running.delete(stage.id));
      running.set(stage.id, run);
    }
    if (running.size === 0) {
      if (done.size < plan.stages.length && failures.length === 0) throw new Error("the stage graph cannot make progress (a stage waits on itself)");
      break;
    }
    await Promise.race([...running.values(), aborted]);
  }
  // A failure ends the job now; attempts still running are the caller's to cancel.
  if (failures.length > 0) throw failures[0];
}

async function runStage(
  stage: Stage,
  environment: EnvironmentSpec,
  backend: Backend,
  store: ObjectStore,
  materialized: Materialized,
  options: RunOptions,
  jobPrefix: string,
): Promise<void> {
  const taskCount = stage.main.kind === "impulse" ? 1 : options.partitions;
  const sideInputs = stage.sideInputs.map((si) => ({
    transformId: si.transformId,
    tag: si.tag,
    accessPattern: si.accessPattern,
    input: taskInput(si.edge, materialized, "all"),
  }));
  const specs: TaskSpec[] = [];
  for (let taskIndex = 0; taskIndex < taskCount; taskIndex++) {
    const main = stage.main.kind === "impulse" ? undefined : taskInput(stage.main.edge, materialized, taskIndex);
    // An empty partition makes an empty bundle: skip it, as Beam's runners do.
    if (main && main.ranges.every((r) => r.end <= r.start) && stage.timers.length === 0) continue;
    specs.push({
      version: TASK_SPEC_VERSION,
      jobId: options.jobId,
      stageId: stage.id,
      stageName: stage.name,
      taskIndex,
      attempt: 0,
      descriptorKey: `${jobPrefix}/descriptors/${stage.id}`,
      environment,
      pipelineOptionsJson: options.pipelineOptionsJson,
      artifactPrefix: options.artifactPrefix,
      mainConsumer: stage.mainConsumer,
      main: main ? { sourceTransformId: stage.sourceTransformId, kind: "edge", ...main } : { sourceTransformId: stage.sourceTransformId, kind: "impulse" },
      sideInputs,
      outputs: stage.outputs.map((o) => ({ ...o, partitions: options.partitions })),
      outputPrefix: "",
      timers: stage.timers,
    });
  }
  options.onStageStarted?.(stage, specs.length);
  const results = await Promise.all(specs.map((spec) => runTask(spec, stage, backend, options, jobPrefix)));
  for (const outputs of results) {
    for (const out of outputs) {
      const list = materialized.get(out.id) ?? [];
      list.push(out);
      materialized.set(out.id, list);
    }
  }
  for (const o of stage.outputs) if (!materialized.has(o.id)) materialized.set(o.id, []);
}

async function runTask(spec: TaskSpec, stage: Stage, backend: Backend, options: RunOptions, jobPrefix: string): Promise<TaskOutputResult[]> {
  let lastError = "";
  for (let attempt = 0; attempt < options.maxAttempts; attempt++) {
    if (options.signal?.aborted) throw options.signal.reason;
    const attemptSpec: TaskSpec = {
      ...spec,
      attempt,
      outputPrefix: `${jobPrefix}/stages/${stage.id}/task-${spec.taskIndex}/attempt-${attempt}`,
    };
    const result = await backend.invoke(attemptSpec);
    if (result.ok) {
      options.onTaskCommitted?.(stage, spec.taskIndex, result);
      return result.outputs;
    }
    lastError = result.error;
    if (!result.retryable) break;
  }
  throw new StageFailedError(stage.id, stage.name, spec.taskIndex, lastError);
}

/** The byte ranges a task reads: one partition of every source, or all of them (side inputs). */
function taskInput(edge: Edge, materialized: Materialized, partition: number | "all"): TaskInput {
  const ranges: ObjectRange[] = [];
  for (const source of edge.sources) {
    for (const out of materialized.get(source) ?? []) {
      if (partition === "all") ranges.push({ key: out.key, start: 0, end: out.offsets[out.offsets.length - 1]! });
      else ranges.push({ key: out.key, start: out.offsets[partition]!, end: out.offsets[partition + 1]! });
    }
  }
  return { read: edge.read, wireCoderId: edge.wireCoderId, ranges };
}
