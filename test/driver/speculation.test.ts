import { describe, expect, it } from "vitest";
import { DEFAULT_SPECULATION, StageDurations } from "../../src/driver/scheduler/speculation.js";

describe("straggler detection", () => {
  const options = { quantile: 0.75, multiplier: 1.5, minRuntimeMs: 1000 };

  it("waits until the quantile of the stage's tasks has committed", () => {
    const d = new StageDurations();
    [2000, 2000].forEach((ms) => d.record(ms));
    // 2 of 4 committed: below 75%, however long the attempt has run.
    expect(d.isStraggler(0, 4, options, 1_000_000)).toBe(false);
    d.record(2000);
    expect(d.isStraggler(0, 4, options, 1_000_000)).toBe(true);
  });

  it("calls an attempt a straggler past multiplier × the median, and never below the floor", () => {
    const d = new StageDurations();
    [100, 200, 300].forEach((ms) => d.record(ms));
    // Median 200 ms: 1.5 × 200 = 300 ms is under the 1 s floor.
    expect(d.isStraggler(0, 4, options, 999)).toBe(false);
    expect(d.isStraggler(0, 4, options, 1001)).toBe(true);
    const slow = new StageDurations();
    [4000, 5000, 6000].forEach((ms) => slow.record(ms));
    expect(slow.isStraggler(0, 4, options, 7400)).toBe(false);
    expect(slow.isStraggler(0, 4, options, 7600)).toBe(true);
  });

  it("never speculates in a single-task stage", () => {
    const d = new StageDurations();
    d.record(10);
    expect(d.isStraggler(0, 1, DEFAULT_SPECULATION, 1_000_000)).toBe(false);
  });
});
