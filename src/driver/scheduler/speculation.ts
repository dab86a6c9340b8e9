// Speculative execution: when most of a stage's tasks have committed, a task still running much
// longer than the typical one gets a second attempt, and whichever commits first wins (outputs
// are attempt-scoped, so the loser's are never read). On Lambda a straggler is usually a slow or
// stuck execution environment, not slow data, so a copy elsewhere finishes sooner.
import { RunningMedian } from "./running-median.js";

export interface SpeculationOptions {
  /** Fraction of a stage's tasks that must have committed before any copy is launched. */
  quantile: number;
  /** A task is a straggler once it has run this many times the stage's median task time... */
  multiplier: number;
  /** ...and at least this long. */
  minRuntimeMs: number;
}

/** Spark's defaults for quantile and multiplier; a floor that ignores sub-second noise. */
export const DEFAULT_SPECULATION: SpeculationOptions = { quantile: 0.75, multiplier: 1.5, minRuntimeMs: 5000 };

/** How often a running attempt is checked against its stage's durations. */
export const SPECULATION_CHECK_MS = 250;

/** Durations of committed attempts of one stage. */
export class StageDurations {
  private readonly durations = new RunningMedian();

  record(ms: number): void {
    this.durations.add(ms);
  }

  /** Whether an attempt that started at `startedAt` is a straggler, given `tasks` in the stage. */
  isStraggler(startedAt: number, tasks: number, options: SpeculationOptions, now = Date.now()): boolean {
    if (tasks < 2 || this.durations.count < Math.max(1, Math.ceil(options.quantile * tasks))) return false;
    return now - startedAt > Math.max(options.minRuntimeMs, options.multiplier * this.durations.median!);
  }
}
