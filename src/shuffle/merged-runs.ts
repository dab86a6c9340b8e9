// The k-way merge of sorted runs (spilled and in memory) into one sorted stream, with a binary
// heap keyed by each run's current record.
import { type KeyedRecordView, compareKeyed } from "./keyed-record.js";
import type { RunCursor } from "./run-cursor.js";

/** A run on the heap, with its place in the input order to break ties. */
interface RankedRun {
  run: RunCursor;
  rank: number;
}

/** Merges sorted runs; ties go to the earlier run, so arrival order within a group holds. */
export class MergedRuns implements RunCursor {
  view!: KeyedRecordView;
  private heap: RankedRun[] = [];
  private started = false;
  private current?: RankedRun;

  constructor(private readonly runs: RunCursor[]) {}

  private less(a: RankedRun, b: RankedRun): boolean {
    const c = compareKeyed(a.run.view, b.run.view);
    return c < 0 || (c === 0 && a.rank < b.rank);
  }

  private push(entry: RankedRun): void {
    const h = this.heap;
    h.push(entry);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): RankedRun | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  advance(): boolean {
    if (!this.started) {
      this.started = true;
      this.runs.forEach((run, rank) => {
        if (run.advance()) this.push({ run, rank });
      });
    } else if (this.current?.run.advance()) {
      this.push(this.current);
    }
    this.current = this.pop();
    if (!this.current) return false;
    this.view = this.current.run.view;
    return true;
  }

  close(): void {
    for (const run of this.runs) run.close();
    this.heap = [];
    this.current = undefined;
    this.started = true;
  }
}
