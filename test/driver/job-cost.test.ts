// The job cost estimate against figures worked out by hand from AWS's published prices
// (src/common/aws-cost.ts AWS_PRICES: us-east-1, recorded 2026-11-30).
import { describe, expect, it } from "vitest";
import type { AttemptRecord, ProgressSnapshot, StageProgress } from "../../src/driver/progress/job-progress.js";
import { estimateJobCost, jobUsage } from "../../src/driver/progress/job-cost.js";

const T0 = 1_700_000_000_000;

function attempt(task: "bundle" | "merge", startMs: number, durationMs: number | undefined, reads: number, writes: number): AttemptRecord {
  return {
    stageId: "s1",
    task,
    taskIndex: 0,
    attempt: 0,
    speculative: false,
    launchedAt: T0 + startMs - 5,
    startedAt: T0 + startMs,
    ...(durationMs !== undefined && { endedAt: T0 + startMs + durationMs }),
    reads,
    writes,
  };
}

function snapshot(attempts: AttemptRecord[], bytesOut: number): ProgressSnapshot {
  const stage = { id: "s1", name: "s1", state: "done", bytesOut } as StageProgress;
  return { stages: [stage], attempts, totals: { stages: 1, stagesDone: 1, tasks: 3, tasksDone: 3, running: 0, failed: 0, lost: 0 } };
}

describe("estimateJobCost", () => {
  // Three task attempts of 1000, 2000 and 1500.4 ms (billed 1000 + 2000 + 1501 = 4501 ms), one
  // merge of 500 ms, 1 GiB written, the last attempt ending 10 s after the first started.
  const attempts = [attempt("bundle", 0, 1000, 3, 1), attempt("bundle", 1000, 2000, 3, 1), attempt("bundle", 8000, 1500.4, 4, 2), attempt("merge", 9500, 500, 2, 1)];
  const snap = snapshot(attempts, 2 ** 30);

  it("bills each attempt that ran as an invocation of its duration, rounded up to the millisecond", () => {
    const usage = jobUsage(snap, { memoryMb: 2048, architecture: "x86_64" });
    expect(usage.lambda).toEqual([
      { label: "tasks", architecture: "x86_64", memoryMb: 2048, invocations: 3, secondsEach: expect.closeTo(4.501 / 3, 9) as number },
      { label: "merge tasks", architecture: "x86_64", memoryMb: 2048, invocations: 1, secondsEach: 0.5 },
    ]);
    expect(usage.s3).toEqual({ writeRequests: 5, readRequests: 12, byteSeconds: 2 ** 30 * 10 });
    expect(usage.sqsRequests).toBe(12);
  });

  it("prices it by hand: 2048 MB x86_64", () => {
    const cost = estimateJobCost(snap, { memoryMb: 2048, architecture: "x86_64" });
    // Lambda: (4.501 + 0.5) s × 2 GB = 10.002 GB-s × $0.0000166667 = $0.000166700333;
    // 4 invocations × $0.20 / 1M = $0.0000008.
    expect(cost.lambdaUsd).toBeCloseTo(0.000166700333 + 0.0000008, 12);
    // S3: 5 PUTs × $0.005 / 1000 = $0.000025; 12 GETs × $0.0004 / 1000 = $0.0000048;
    // 1 GiB for 10 s = 10 / (730 × 3600) GB-months = 0.0000038051750 × $0.023 = $0.0000000875190.
    expect(cost.s3Usd).toBeCloseTo(0.000025 + 0.0000048 + 0.000000087519, 12);
    // SQS: 12 requests × $0.40 / 1M = $0.0000048.
    expect(cost.sqsUsd).toBeCloseTo(0.0000048, 12);
    expect(cost.totalUsd).toBeCloseTo(0.000166700333 + 0.0000008 + 0.000025 + 0.0000048 + 0.000000087519 + 0.0000048, 12);
  });

  it("prices it by hand: 1024 MB arm64", () => {
    const cost = estimateJobCost(snap, { memoryMb: 1024, architecture: "arm64" });
    // 5.001 GB-s × $0.0000133334 = $0.0000666803334; 4 invocations $0.0000008.
    expect(cost.lambdaUsd).toBeCloseTo(0.0000666803334 + 0.0000008, 12);
  });

  it("counts an attempt still running up to now, and none that never started", () => {
    const running = attempt("bundle", 0, undefined, 1, 1);
    const queued: AttemptRecord = { ...attempt("bundle", 0, undefined, 1, 1), startedAt: undefined };
    const usage = jobUsage(snapshot([running, queued], 0), { memoryMb: 1024, architecture: "x86_64" }, T0 + 2500);
    expect(usage.lambda).toEqual([{ label: "tasks", architecture: "x86_64", memoryMb: 1024, invocations: 1, secondsEach: 2.5 }]);
    expect(usage.sqsRequests).toBe(3);
  });
});
