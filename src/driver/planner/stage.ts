import type { ProcessBundleDescriptor } from "apache-beam/proto/beam_fn_api";
import type { EdgeRead } from "../../common/task-spec.js";

/**
 * Where the elements of a PCollection consumed by a stage come from. The runner materializes
 * every PCollection that crosses a stage boundary; an edge says which materialized PCollections
 * feed the consumer (several, after a Flatten) and how to read them (as they are, or grouped).
 */
export interface Edge {
  /** The PCollection as its consumers see it. */
  pcollection: string;
  read: EdgeRead;
  /** Ids of the materializations (stage outputs) whose elements make up this edge. */
  sources: string[];
  /** Windowed-value coder of the elements handed to the consuming stage. */
  wireCoderId: string;
}

export interface StageOutput {
  /**
   * Identifies this materialization: one PCollection in one encoding. A PCollection read by
   * consumers that expect different coders (a Flatten's inputs) is written once per coder.
   */
  id: string;
  pcollection: string;
  sinkTransformId: string;
  wireCoderId: string;
  partitionBy: "key" | "spread";
  /** `keyed` when every consumer groups it (see src/shuffle/keyed-record.ts). */
  format: "keyed" | "plain";
}

export interface StageSideInput {
  transformId: string;
  tag: string;
  accessPattern: "iterable" | "multimap";
  edge: Edge;
}

/** A fused stage: SDK transforms run together in one bundle, one task per input partition. */
export interface Stage {
  id: string;
  /** Unique names of the stage's user transforms, for messages. */
  name: string;
  environmentId: string;
  transformIds: string[];
  sourceTransformId: string;
  /**
   * Set when the main input is a splittable DoFn's restrictions (the Process step): a few of them
   * (a file each, say) may stand for most of the job's work, so they are spread over tasks
   * however few they are, never run as one small input.
   */
  splitsRestrictions?: boolean;
  /** The one transform reading the main input, if only one does (see TaskSpec.mainConsumer). */
  mainConsumer?: string;
  main: { kind: "impulse" } | { kind: "edge"; edge: Edge };
  sideInputs: StageSideInput[];
  outputs: StageOutput[];
  timers: { transformId: string; timerFamilyId: string; coderId: string }[];
  /** Stages whose outputs this stage reads; it starts only once they have committed. */
  upstream: string[];
  /**
   * Set on a stage with no SDK transform, which copies a runner transform's output (`pcollection`)
   * to the materializations another runner transform reads (GroupByKey → Flatten / Reshuffle /
   * GroupByKey): the worker runs it without a harness.
   */
  passThrough?: { pcollection: string };
  descriptor: ProcessBundleDescriptor;
  /**
   * When the main input is grouped with a merging WindowFn only the SDK can run: a second
   * descriptor, data source -> merge_windows -> data sink, run on the stage's harness.
   */
  windowMergeDescriptor?: ProcessBundleDescriptor;
}

export interface ExecutionPlan {
  stages: Stage[];
  /** Environments by id, resolved to how the worker runs them. */
  environments: Record<string, import("../../common/task-spec.js").EnvironmentSpec>;
}
