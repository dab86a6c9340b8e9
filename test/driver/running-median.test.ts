import { describe, expect, it } from "vitest";
import { RunningMedian } from "../../src/driver/scheduler/running-median.js";

describe("RunningMedian", () => {
  it("is undefined when empty", () => {
    expect(new RunningMedian().median).toBeUndefined();
  });

  it("answers sorted[floor(n / 2)] after every number, as sorting all of them would", () => {
    // A fixed pseudo-random sequence with repeats, ascending and descending runs.
    let seed = 7;
    const next = () => (seed = (seed * 48271) % 2147483647) % 1000;
    const numbers = [...Array.from({ length: 300 }, next), ...Array.from({ length: 50 }, (_, i) => i), ...Array.from({ length: 50 }, (_, i) => 2000 - i), 5, 5, 5];
    const median = new RunningMedian();
    const seen: number[] = [];
    for (const x of numbers) {
      median.add(x);
      seen.push(x);
      const sorted = [...seen].sort((a, b) => a - b);
      expect(median.median).toBe(sorted[Math.floor(sorted.length / 2)]);
      expect(median.count).toBe(seen.length);
    }
  });
});
