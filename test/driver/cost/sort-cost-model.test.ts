// The sort model's counts and dollars against a case worked by hand (the working is in the
// comments), and its defaults against the code they describe.
import { describe, expect, it } from "vitest";
import { DEFAULT_SORT_MODEL, type SortModelOptions, modelSort, uploadRequests } from "../../../src/driver/cost/index.js";
import { DEFAULT_MERGE, defaultPartitions } from "../../../src/driver/scheduler/index.js";
import { predictedRequests } from "../../../src/shuffle/index.js";
import { MULTIPART_THRESHOLD } from "../../../src/store/s3-object-store.js";

// 100 GB; tasks of at most 1 GB; 10 invocations at once; 2,048 MB, no paid /tmp; round rates
// and part sizes so every figure below is checkable on paper.
const HAND: SortModelOptions = {
  bytes: 100e9,
  maxTaskInputBytes: 1e9,
  concurrency: 10,
  architecture: "x86_64",
  memoryMb: 2048,
  ephemeralStorageMb: 512,
  merge: { threshold: 4096, factor: 10 },
  mapBytesPerSecond: 100e6,
  reduceBytesPerSecond: 50e6,
  spillingReduceBytesPerSecond: 10e6,
  shuffleMemoryBytes: 2e9, // above the 1 GB tasks: no spill
  mergeBytesPerSecond: 200e6,
  taskStartSeconds: 1,
  runnerPartBytes: 100e6,
  inputReadBytes: 100e6,
  outputPartBytes: 100e6,
  timeoutSeconds: 900,
  driverMemoryMb: 4096,
};

describe("modelSort, worked by hand", () => {
  const model = modelSort(HAND);

  it("splits the job as the scheduler would", () => {
    // partitions = max(defaultPartitions(10) = 20, ⌈100 GB / 1 GB⌉ = 100) = 100, of 1 GB each.
    // 100 × 100 = 10,000 ≥ threshold 4,096: merged, F = 10, ⌈100 / 10⌉ = 10 merge tasks.
    expect(model.partitions).toBe(100);
    expect(model.taskInputBytes).toBe(1e9);
    expect(model.mergeFactor).toBe(10);
    expect(model.mergeTasks).toBe(10);
    expect(model.invocations).toBe(210);
  });

  it("times each task from its bytes and the throughput", () => {
    // map:    1 s + 1 GB / 100 MB/s = 11 s
    // reduce: 1 s + 1 GB / 50 MB/s  = 21 s
    // merge:  1 s + (100 GB / 10 = 10 GB) / 200 MB/s = 51 s
    // wall: ⌈100 / 10⌉ = 10 waves × (11 + 21) s + the last merge's 51 s = 371 s
    expect(model.taskSeconds).toEqual({ map: 11, reduce: 21, merge: 51 });
    expect(model.wallSeconds).toBe(371);
  });

  it("counts S3 requests from the shuffle's request pattern", () => {
    // input:   100 tasks × ⌈1 GB / 100 MB⌉ = 1,000 GETs
    // shuffle: map objects 100 × (10 parts + start + complete) = 1,200 PUTs,
    //          merged objects 10 × (100 parts + 2) = 1,020 PUTs: 2,220;
    //          GETs M + ⌈M/F⌉ × R = 100 + 10 × 100 = 1,100
    // output:  100 × (10 parts + 2 + 1 rename) = 1,300 PUTs
    // bookkeeping: 200 journaled commits (PUT), 200 descriptor reads (GET)
    expect(model.requests).toEqual({
      input: { writes: 0, reads: 1000 },
      shuffle: { writes: 2220, reads: 1100 },
      output: { writes: 1300, reads: 0 },
      bookkeeping: { writes: 200, reads: 200 },
    });
    expect(model.requests.shuffle.reads).toBe(predictedRequests(100, 100, 10).gets);
    expect(model.usage.s3.writeRequests).toBe(3720);
    expect(model.usage.s3.readRequests).toBe(2300);
    expect(model.usage.sqsRequests).toBe(630); // 3 per invocation
  });

  it("prices it", () => {
    // Lambda GB-s: 2 GB × (100 × 11 + 100 × 21 + 10 × 51) s = 2,200 + 4,200 + 1,020 = 7,420
    //   × $0.0000166667 = $0.123666914; invocations 210 × $0.0000002 = $0.000042
    // S3: 3,720 × $0.000005 = $0.0186; 2,300 × $0.0000004 = $0.00092;
    //   storage: map and merged copies, 2 × 100 GB for 371 s = 7.42e13 byte-s
    //   / 2^30 / (730 × 3,600 s) = 0.0262953 GB-month × $0.023 = $0.000604793
    // SQS: 630 × $0.0000004 = $0.000252
    // total $0.144085707, i.e. $1.44085707 per TB (0.1 TB sorted)
    expect(model.cost.lambdaUsd).toBeCloseTo(0.123666914 + 0.000042, 9);
    expect(model.cost.s3Usd).toBeCloseTo(0.0186 + 0.00092 + 0.000604793, 9);
    expect(model.cost.sqsUsd).toBeCloseTo(0.000252, 12);
    expect(model.cost.totalUsd).toBeCloseTo(0.144085707, 8);
    expect(model.usdPerTerabyte).toBeCloseTo(1.44085707, 7);
  });

  it("says what the runner as built could not run", () => {
    // A merge holds 10 × 1 GB in memory (> 2,048 MB); a 1 GB task's spill exceeds 512 MB of /tmp.
    expect(model.warnings).toHaveLength(2);
    expect(model.warnings[0]).toMatch(/merge task holds 10 map outputs/);
    expect(model.warnings[1]).toMatch(/exceeds \/tmp/);
    expect(modelSort({ ...HAND, ephemeralStorageMb: 10240, merge: false }).warnings).toEqual([]);
    expect(modelSort({ ...HAND, ephemeralStorageMb: 10240, merge: false, reduceBytesPerSecond: 1e6 }).warnings).toEqual([
      "a task runs 1001 s, past the 900 s timeout",
    ]);
    // The driver keeps 100 × 101 offsets × 8 bytes = 80,800 bytes: over half of 0.1 MB (52,429 bytes).
    expect(modelSort({ ...HAND, ephemeralStorageMb: 10240, merge: false, driverMemoryMb: 0.1 }).warnings).toEqual([
      "the job server would hold M × (R + 1) partition offsets, 0.00 GB, over half its 0.1 MB",
    ]);
  });

  it("without merge reads one range per map object and partition", () => {
    // GETs M × R = 10,000; PUTs 1,200 map objects' requests only; wall 10 × 32 s = 320 s.
    const unmerged = modelSort({ ...HAND, merge: false });
    expect(unmerged.mergeTasks).toBe(0);
    expect(unmerged.requests.shuffle).toEqual({ writes: 1200, reads: 10_000 });
    expect(unmerged.wallSeconds).toBe(320);
  });
});

describe("a reduce task past its memory budget", () => {
  it("runs at the spilling rate", () => {
    // reduce: 1 s + 1 GB / 10 MB/s = 101 s (the map side is unchanged: 11 s)
    const spilling = modelSort({ ...HAND, shuffleMemoryBytes: 256 * 2 ** 20 });
    expect(spilling.taskSeconds.reduce).toBe(101);
    expect(spilling.taskSeconds.map).toBe(11);
  });
});

describe("the model's defaults", () => {
  it("are the code's: the store's part size, push-merge's defaults, the job server's partitions", () => {
    expect(DEFAULT_SORT_MODEL.runnerPartBytes).toBe(MULTIPART_THRESHOLD);
    expect(DEFAULT_SORT_MODEL.merge).toBe(DEFAULT_MERGE);
    expect(DEFAULT_SORT_MODEL.shuffleMemoryBytes).toBe(256 * 2 ** 20); // BEAM_LAMBDA_SHUFFLE_MEMORY_MB's default
    // 1 TB at the CDK construct's 100 invocations: 200 partitions of 5 GB, merged (40,000 ≥ 4,096).
    const terabyte = modelSort({ ...DEFAULT_SORT_MODEL, bytes: 1e12 });
    expect(terabyte.partitions).toBe(defaultPartitions(100));
    expect(terabyte.partitions).toBe(200);
    expect(terabyte.mergeFactor).toBe(16);
    expect(terabyte.mergeTasks).toBe(13);
  });

  it("counts a multipart upload's start, parts and completion", () => {
    expect(uploadRequests(0, 16)).toBe(1);
    expect(uploadRequests(16, 16)).toBe(1);
    expect(uploadRequests(17, 16)).toBe(4);
    expect(uploadRequests(5e9, 16 * 2 ** 20)).toBe(301); // ⌈5e9 / 16 MiB⌉ = 299 parts + 2
  });
});
