// A model of what sorting N bytes costs on Lambda + S3 with this runner: how the scheduler
// splits the job (defaultPartitions, push-merge's defaults), the requests the shuffle makes
// (docs/shuffle.md: one object per map task, one ranged GET per (object, partition), merges
// reading their inputs whole), and Lambda time from a per-task throughput. docs/cost.md
// describes the assumptions; bench/cost-model.ts prints its tables.
import { type AwsCostEstimate, type AwsUsage, type LambdaArchitecture, estimateAwsCost } from "../../common/aws-cost.js";
import { CONFIG } from "../../common/config.js";
import { predictedRequests } from "../../shuffle/index.js";
import { DEFAULT_MERGE, type MergeOptions, defaultPartitions } from "../scheduler/index.js";

const MiB = 2 ** 20;

/**
 * The shuffle's throughput per task as measured by `npm run bench:shuffle` (docs/shuffle.md,
 * "Throughput", last row, 2026-11-26): 1 GB through 16 map then 16 reduce tasks on 2 worker
 * threads took 1.39–1.54 s (map) and 1.49–1.77 s (reduce); the slower ends, per thread. CPU
 * only: the objects stayed in the page cache.
 */
export const MEASURED_SHUFFLE_BYTES_PER_SECOND = { map: 1e9 / 1.54 / 2, reduce: 1e9 / 1.77 / 2 };

/**
 * A reduce task past its memory budget sorts, spills and merges runs instead: measured by
 * `npm run bench:shuffle -- --gigabytes 2 --maps 2 --reducers 2 --workers 1 --memory-mb 256`
 * (1 GB reduce tasks, the default budget) on 2026-12-01 at 28.4 MB/s (2 GB in 70.43 s), on the
 * 2-core development machine shared with other benchmarks (load average 7): likely pessimistic.
 * The same sitting's 500 MB tasks reduced at 223 MB/s with the budget above them, and at
 * 28.6–40.9 MB/s with a 64 MiB budget (docs/cost.md).
 */
export const MEASURED_SPILLING_REDUCE_BYTES_PER_SECOND = 2e9 / 70.43;

/** One Lambda worker's S3 bandwidth, assumed (docs/shuffle.md: "on the order of 100 MB/s"); not measured here. */
export const ASSUMED_S3_BYTES_PER_SECOND = 100e6;

/** A fresh environment's time to its first element (bench:cold-start, cdk/README.md: 1.2–1.4 s). */
export const MEASURED_TASK_START_SECONDS = 1.4;

export interface SortModelOptions {
  /** Bytes sorted (input = output = shuffled). */
  bytes: number;
  /** Largest input one task takes: past it the job gets more partitions than the default. */
  maxTaskInputBytes: number;
  /** Invocations at once (the CDK construct's reserved concurrency, 100); partitions default from it. */
  concurrency: number;
  architecture: LambdaArchitecture;
  memoryMb: number;
  ephemeralStorageMb: number;
  /** Push-based merge (DEFAULT_MERGE), or none. */
  merge: MergeOptions | false;
  /** Bytes per second one map task moves (read input, partition, write its object). */
  mapBytesPerSecond: number;
  /** Bytes per second one reduce task moves (fetch its ranges, group, write output) when its input fits its memory budget. */
  reduceBytesPerSecond: number;
  /** The same when it does not, and spills sorted runs to /tmp. */
  spillingReduceBytesPerSecond: number;
  /** A task's shuffle memory budget (BEAM_LAMBDA_SHUFFLE_MEMORY_MB). */
  shuffleMemoryBytes: number;
  /** Bytes per second one merge task copies (S3 in and out, no parsing). */
  mergeBytesPerSecond: number;
  /** Seconds each invocation spends before its first byte. */
  taskStartSeconds: number;
  /** Part size of the runner's multipart uploads (MULTIPART_THRESHOLD in s3-object-store.ts). */
  runnerPartBytes: number;
  /** Bytes per GET of the SDK's input reads (Beam Python's s3io read buffer). */
  inputReadBytes: number;
  /** Part size of the SDK's output writes (Beam Python's s3io uploads parts of at least 5 MiB). */
  outputPartBytes: number;
  /** Lambda's timeout (the CDK construct's 15 minutes). */
  timeoutSeconds: number;
  /** The job server's memory (the CDK construct's Fargate task: 4096 MiB). */
  driverMemoryMb: number;
}

/** The CDK construct's defaults, the measured shuffle bounded by the assumed S3 bandwidth. */
export const DEFAULT_SORT_MODEL: Omit<SortModelOptions, "bytes"> = {
  maxTaskInputBytes: 5e9,
  concurrency: 100,
  architecture: "x86_64",
  memoryMb: 3008,
  ephemeralStorageMb: 10240,
  merge: DEFAULT_MERGE,
  mapBytesPerSecond: Math.min(MEASURED_SHUFFLE_BYTES_PER_SECOND.map, ASSUMED_S3_BYTES_PER_SECOND),
  reduceBytesPerSecond: Math.min(MEASURED_SHUFFLE_BYTES_PER_SECOND.reduce, ASSUMED_S3_BYTES_PER_SECOND),
  spillingReduceBytesPerSecond: Math.min(MEASURED_SPILLING_REDUCE_BYTES_PER_SECOND, ASSUMED_S3_BYTES_PER_SECOND),
  shuffleMemoryBytes: CONFIG.shuffleMemoryMb.parse(undefined, CONFIG.shuffleMemoryMb.name) * MiB,
  mergeBytesPerSecond: ASSUMED_S3_BYTES_PER_SECOND,
  taskStartSeconds: MEASURED_TASK_START_SECONDS,
  runnerPartBytes: 16 * MiB,
  inputReadBytes: 16 * MiB,
  outputPartBytes: 5 * MiB,
  timeoutSeconds: 900,
  driverMemoryMb: 4096,
};

/** S3 requests of one kind of traffic. */
export interface RequestCounts {
  writes: number;
  reads: number;
}

export interface SortModel {
  options: SortModelOptions;
  /** Map tasks = reduce partitions = reduce tasks (the runner splits every stage in the same partitions). */
  partitions: number;
  taskInputBytes: number;
  /** Merge factor when the scheduler merges this shuffle, else undefined. */
  mergeFactor?: number;
  mergeTasks: number;
  invocations: number;
  /** Billed seconds of one map, reduce and (mean) merge task. */
  taskSeconds: { map: number; reduce: number; merge: number };
  /** Stages one after another, each in waves of `concurrency` tasks (merges overlap the map stage but the last). */
  wallSeconds: number;
  requests: { input: RequestCounts; shuffle: RequestCounts; output: RequestCounts; bookkeeping: RequestCounts };
  usage: AwsUsage;
  cost: AwsCostEstimate;
  usdPerTerabyte: number;
  /** Where the runner as built could not run this job as modelled. */
  warnings: string[];
}

/** PUT-class requests of one upload: one PUT, or start + parts + complete. */
export function uploadRequests(bytes: number, partBytes: number): number {
  return bytes <= partBytes ? 1 : Math.ceil(bytes / partBytes) + 2;
}

/** The model of sorting `options.bytes` bytes. */
export function modelSort(options: SortModelOptions): SortModel {
  const o = options;
  const partitions = Math.max(defaultPartitions(o.concurrency), Math.ceil(o.bytes / o.maxTaskInputBytes));
  const taskInputBytes = o.bytes / partitions;
  // push-merge.ts's decision: merged when maps × partitions reaches the threshold.
  const mergeFactor = o.merge && partitions >= 2 && partitions * partitions >= o.merge.threshold ? o.merge.factor : undefined;
  const mergeTasks = mergeFactor ? Math.ceil(partitions / mergeFactor) : 0;
  const mergedObjectBytes = mergeTasks ? o.bytes / mergeTasks : 0;

  const taskSeconds = {
    map: o.taskStartSeconds + taskInputBytes / o.mapBytesPerSecond,
    reduce: o.taskStartSeconds + taskInputBytes / (taskInputBytes > o.shuffleMemoryBytes ? o.spillingReduceBytesPerSecond : o.reduceBytesPerSecond),
    merge: mergeTasks ? o.taskStartSeconds + mergedObjectBytes / o.mergeBytesPerSecond : 0,
  };
  const waves = (tasks: number) => Math.ceil(tasks / o.concurrency);
  // The last merge starts when the last map commits.
  const wallSeconds = waves(partitions) * (taskSeconds.map + taskSeconds.reduce) + taskSeconds.merge;

  const shuffle = predictedRequests(partitions, partitions, mergeFactor);
  const requests = {
    // The SDK reads the input in buffer-sized GETs and writes each reduce task's output as a
    // multipart upload, then renames it from its temporary name (a COPY).
    input: { writes: 0, reads: partitions * Math.ceil(taskInputBytes / o.inputReadBytes) },
    shuffle: {
      writes:
        partitions * uploadRequests(taskInputBytes, o.runnerPartBytes) + mergeTasks * uploadRequests(mergedObjectBytes, o.runnerPartBytes),
      reads: shuffle.gets,
    },
    output: { writes: partitions * (uploadRequests(taskInputBytes, o.outputPartBytes) + 1), reads: 0 },
    // Each bundle task reads its stage's descriptor (at most once per warm environment) and
    // its commit is journaled (merges are not).
    bookkeeping: { writes: 2 * partitions, reads: 2 * partitions },
  };
  const counts = Object.values(requests);
  const lambda = (label: string, invocations: number, secondsEach: number) => ({
    label,
    architecture: o.architecture,
    memoryMb: o.memoryMb,
    ephemeralStorageMb: o.ephemeralStorageMb,
    invocations,
    secondsEach,
  });
  const invocations = 2 * partitions + mergeTasks;
  const usage: AwsUsage = {
    lambda: [
      lambda("map tasks", partitions, taskSeconds.map),
      lambda("reduce tasks", partitions, taskSeconds.reduce),
      ...(mergeTasks ? [lambda("merge tasks", mergeTasks, taskSeconds.merge)] : []),
    ],
    s3: {
      writeRequests: counts.reduce((n, c) => n + c.writes, 0),
      readRequests: counts.reduce((n, c) => n + c.reads, 0),
      // Map outputs (and merged copies) live until the job ends: an upper bound is all of them for the whole job.
      byteSeconds: (mergeTasks ? 2 : 1) * o.bytes * wallSeconds,
    },
    // Per attempt: the worker's completion, the driver's receive and delete (both batch up to
    // 10, so this is an upper bound; idle long polls are left out).
    sqsRequests: 3 * invocations,
  };
  const cost = estimateAwsCost(usage);
  return {
    options: o,
    partitions,
    taskInputBytes,
    ...(mergeFactor && { mergeFactor }),
    mergeTasks,
    invocations,
    taskSeconds,
    wallSeconds,
    requests,
    usage,
    cost,
    usdPerTerabyte: cost.totalUsd / (o.bytes / 1e12),
    warnings: warnings(o, partitions, mergeFactor, taskSeconds),
  };
}

function warnings(o: SortModelOptions, partitions: number, mergeFactor: number | undefined, taskSeconds: SortModel["taskSeconds"]): string[] {
  const found: string[] = [];
  const taskInputBytes = o.bytes / partitions;
  // merge.ts reads a group's inputs whole into memory before writing the merged object.
  if (mergeFactor && mergeFactor * taskInputBytes > o.memoryMb * MiB) {
    found.push(`a merge task holds ${mergeFactor} map outputs (${gb(mergeFactor * taskInputBytes)}) in memory, more than the function's ${o.memoryMb} MB`);
  }
  // A task past its memory budget spills its partitions (map) or sorted runs (reduce) to /tmp.
  if (taskInputBytes > o.ephemeralStorageMb * MiB) found.push(`a task's ${gb(taskInputBytes)} spill exceeds /tmp (${o.ephemeralStorageMb} MB)`);
  const longest = Math.max(taskSeconds.map, taskSeconds.reduce, taskSeconds.merge);
  if (longest > o.timeoutSeconds) found.push(`a task runs ${Math.round(longest)} s, past the ${o.timeoutSeconds} s timeout`);
  // The driver keeps every committed map output's R + 1 offsets (TaskOutputResult.offsets) until the job ends.
  const offsetBytes = partitions * (partitions + 1) * 8;
  if (offsetBytes > (o.driverMemoryMb * MiB) / 2) {
    found.push(`the job server would hold M × (R + 1) partition offsets, ${gb(offsetBytes)}, over half its ${o.driverMemoryMb} MB`);
  }
  return found;
}

function gb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(bytes < 1e9 ? 2 : 1)} GB`;
}
