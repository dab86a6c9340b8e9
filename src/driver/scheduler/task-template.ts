// A task as the scheduler plans it, before any attempt: what all its attempts share. An attempt
// adds its number and where it writes (`attemptSpec`), so a spec never carries placeholders.
import {
  type EnvironmentSpec,
  type MergeTaskSpec,
  type SideInputSpec,
  TASK_SPEC_VERSION,
  type TaskInput,
  type TaskSpec,
  type WorkerTask,
} from "../../common/task-spec.js";
import type { JobKeys } from "../../store/index.js";
import type { Stage } from "../planner/index.js";

export type BundleTemplate = Omit<TaskSpec, "attempt" | "outputPrefix">;
export type MergeTemplate = Omit<MergeTaskSpec, "attempt" | "outputKey">;
export type TaskTemplate = BundleTemplate | MergeTemplate;

/** The spec of attempt `attempt`, writing its output at `output` (a prefix, or a merge's key). */
export function attemptSpec(template: TaskTemplate, attempt: number, output: string): WorkerTask {
  return template.kind === "merge" ? { ...template, attempt, outputKey: output } : { ...template, attempt, outputPrefix: output };
}

/** What every bundle task of a job shares. */
export interface BundleSettings {
  jobId: string;
  keys: JobKeys;
  environments: Record<string, EnvironmentSpec>;
  pipelineOptionsJson: string;
  artifactPrefix: string;
  harnessSharing?: string;
  partitions: number;
  compressShuffle?: boolean;
}

/** Task `taskIndex` of `stage`: no main input for an Impulse-rooted stage. */
export function bundleTemplate(
  settings: BundleSettings,
  stage: Stage,
  taskIndex: number,
  main: TaskInput | undefined,
  sideInputs: SideInputSpec[],
): BundleTemplate {
  return {
    version: TASK_SPEC_VERSION,
    kind: "bundle",
    jobId: settings.jobId,
    stageId: stage.id,
    stageName: stage.name,
    taskIndex,
    descriptorKey: settings.keys.descriptor(stage.id),
    ...(stage.windowMergeDescriptor && { windowMergeDescriptorKey: settings.keys.windowMergeDescriptor(stage.id) }),
    environment: settings.environments[stage.environmentId]!,
    pipelineOptionsJson: settings.pipelineOptionsJson,
    artifactPrefix: settings.artifactPrefix,
    ...(settings.harnessSharing !== undefined && { harnessSharing: settings.harnessSharing }),
    mainConsumer: stage.mainConsumer,
    main: main ? { sourceTransformId: stage.sourceTransformId, kind: "edge", ...main } : { sourceTransformId: stage.sourceTransformId, kind: "impulse" },
    sideInputs,
    outputs: stage.outputs.map((o) => ({ ...o, partitions: settings.partitions, ...(settings.compressShuffle && { compression: "gzip" as const }) })),
    timers: stage.timers,
    ...(stage.passThrough && { passThrough: true as const }),
  };
}
