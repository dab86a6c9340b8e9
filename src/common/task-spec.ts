// The contract between the driver and a worker: one TaskSpec in, one TaskResult out.
// Both are plain JSON so they can travel as a Lambda payload, an IPC message or an S3 object.

// 2: a grouped read says how windows merge (`windowMerge`) instead of a Sessions flag, and a task
// may carry the descriptor of its WindowFn's merge (`windowMergeDescriptorKey`).
export const TASK_SPEC_VERSION = 2;

/** A byte range of one object in the object store; `end` is exclusive. */
export interface ObjectRange {
  key: string;
  start: number;
  end: number;
  /** How the records are framed (see src/shuffle/keyed-record.ts); absent means plain. */
  format?: "keyed" | "plain";
  /** `gzip`: the range is one or more gzip members (merging concatenates them). */
  compression?: "gzip";
}

/** How a worker must turn stored records into the elements of one PCollection. */
export type EdgeRead =
  /** Elements are forwarded as stored. */
  | { kind: "plain" }
  /** Elements are KVs grouped by encoded key and window (GroupByKey). */
  | { kind: "group"; inputWireCoderId: string; windowMerge: WindowMerge; timestampCombiner: "endOfWindow" | "earliest" | "latest" };

/**
 * How a grouping merges each key's windows: not at all (a non-merging WindowFn), as Sessions
 * (overlapping interval windows; the runner does it), or by the pipeline's own WindowFn, which
 * only the SDK can run: the worker runs the SDK's merge_windows transform through the task's
 * `windowMergeDescriptorKey`.
 */
export type WindowMerge = "none" | "sessions" | "sdk";

export interface TaskInput {
  read: EdgeRead;
  /** Coder of the elements handed to the SDK (a windowed-value coder in the descriptor). */
  wireCoderId: string;
  ranges: ObjectRange[];
  /**
   * Inputs still being produced when the task started (pipelining): the task reads each feed
   * until it lists `expected` outputs, taking its partition's range of each as it appears.
   */
  feeds?: InputFeed[];
}

export interface InputFeed {
  /** Object-store key of a JSON `FeedContent`, rewritten by the driver as outputs commit. */
  key: string;
  expected: number;
  partition: number;
}

/** What a feed object holds. */
export interface FeedContent {
  outputs: TaskOutputResult[];
  /** Set when the producing stage failed: the waiting task gives up with this message. */
  failed?: string;
}

export interface SideInputSpec {
  transformId: string;
  tag: string;
  accessPattern: "iterable" | "multimap";
  input: TaskInput;
}

export interface TaskOutputSpec {
  /** The materialization this output feeds (a PCollection in one encoding). */
  id: string;
  pcollection: string;
  sinkTransformId: string;
  wireCoderId: string;
  /** `key` sends all values of one key to the same partition; `spread` balances elements. */
  partitionBy: "key" | "spread";
  /** `keyed` when every reader groups it: the map side writes records reducers sort as bytes. */
  format: "keyed" | "plain";
  /** Compress each partition (pays when the network, not the CPU, is the bottleneck). */
  compression?: "gzip";
  partitions: number;
}

export interface EnvironmentSpec {
  id: string;
  /** The harness to run: a local Python process or an SDK worker pool (LOOPBACK / EXTERNAL). */
  kind: "python-process" | "external";
  /** For `external`: the worker pool's address. For `python-process`: an optional interpreter. */
  address?: string;
  command?: string;
  /** The environment's min_ram resource hint, in bytes. */
  minRamBytes?: number;
}

export interface TaskSpec {
  version: typeof TASK_SPEC_VERSION;
  kind: "bundle";
  jobId: string;
  stageId: string;
  stageName: string;
  taskIndex: number;
  attempt: number;
  /** Object-store key of the serialized ProcessBundleDescriptor (shared by all tasks of a stage). */
  descriptorKey: string;
  /**
   * When the main input's windows are merged by the SDK (`windowMerge: "sdk"`): the key of the
   * stage's second descriptor, data source -> beam:transform:merge_windows:v1 -> data sink.
   */
  windowMergeDescriptorKey?: string;
  environment: EnvironmentSpec;
  /** JSON of the job's pipeline options, as the SDK harness reads PIPELINE_OPTIONS. */
  pipelineOptionsJson: string;
  /** Object-store prefix holding the job's staged artifacts. */
  artifactPrefix: string;
  /**
   * Jobs with the same value (the job server sets its caller: jobs of one owner) may share a warm
   * SDK harness when its environment, staged artifacts and options match (worker/harness-pool.ts).
   * Absent: the job's harnesses are its own.
   */
  harnessSharing?: string;
  /**
   * The one transform reading the main input, when there is exactly one: a splittable DoFn's
   * checkpointed residuals for it are resumed by sending them through the source again.
   */
  mainConsumer?: string;
  main: { sourceTransformId: string } & ({ kind: "impulse" } | ({ kind: "edge" } & TaskInput));
  sideInputs: SideInputSpec[];
  outputs: TaskOutputSpec[];
  /** Object-store prefix the attempt writes under; unique per attempt so retries never collide. */
  outputPrefix: string;
  /** Timers (event- or processing-time): delivered once the main input is exhausted (batch semantics). */
  timers: { transformId: string; timerFamilyId: string; coderId: string }[];
  /**
   * The stage has no SDK transform: a runner transform's output feeding another runner transform
   * (GroupByKey into Flatten, Reshuffle or GroupByKey). The worker copies the main input to every
   * output without starting a harness; the descriptor serves only for its coders.
   */
  passThrough?: true;
}

/**
 * Push-based merge: concatenate, partition by partition, committed map outputs of one
 * materialization into one object, so reducers read one range instead of one per map output.
 */
export interface MergeTaskSpec {
  version: typeof TASK_SPEC_VERSION;
  kind: "merge";
  jobId: string;
  stageId: string;
  stageName: string;
  taskIndex: number;
  attempt: number;
  /** The materialization (TaskOutputSpec.id) the inputs belong to. */
  materializationId: string;
  inputs: TaskOutputResult[];
  /** Where the merged object goes; unique per attempt. */
  outputKey: string;
}

/** Anything a worker runs: a bundle of a stage, or a merge of map outputs. */
export type WorkerTask = TaskSpec | MergeTaskSpec;

export interface TaskOutputResult {
  /** TaskOutputSpec.id */
  id: string;
  key: string;
  /** Partition i is bytes [offsets[i], offsets[i+1]) of the object. */
  offsets: number[];
  format: "keyed" | "plain";
  compression?: "gzip";
  elements: number;
}

/**
 * Why an attempt failed, which decides the budget its retries come out of (scheduler/attempts.ts):
 * - `infrastructure`: the attempt lost where it ran — the worker process or SDK harness died,
 *   a Fn API stream closed, the Lambda environment crashed or timed out, the service throttled.
 *   Retrying elsewhere is expected to succeed, so these are retried many times, with backoff.
 * - `user`: the SDK reported an error running the bundle (an exception in the pipeline's code).
 *   It will likely happen again: a few attempts only.
 * Absent (workers of older versions, failures of the runner's own code) counts as `user`, so a
 * deterministic failure is never retried as often as a lost worker.
 */
export type FailureCause = "infrastructure" | "user";

export type TaskResult =
  | { ok: true; outputs: TaskOutputResult[]; /** Serialized MonitoringInfo protos, base64. */ monitoringInfos: string[]; workerPid: number }
  | {
      ok: false;
      error: string;
      retryable: boolean;
      workerPid: number;
      cause?: FailureCause;
      /** The SDK worker pool (LOOPBACK / EXTERNAL) at this address could not be reached: the driver bounds how long it waits for it. */
      workerPoolUnreachable?: string;
    };

/** The byte range of `out` a reader takes: one partition, or the whole object (side inputs). */
export function rangeOf(out: TaskOutputResult, partition: number | "all"): ObjectRange {
  const [start, end] = partition === "all" ? [0, out.offsets[out.offsets.length - 1]!] : [out.offsets[partition]!, out.offsets[partition + 1]!];
  return { key: out.key, start, end, format: out.format, ...(out.compression && { compression: out.compression }) };
}
