// An in-memory run: the records of a segment, read in the order the segment put them in.
import { KeyedRecordView } from "./keyed-record.js";
import type { RecordSegment } from "./record-segment.js";
import type { RunCursor } from "./run-cursor.js";

export class MemoryRun implements RunCursor {
  readonly view = new KeyedRecordView();
  private i = -1;
  constructor(
    private readonly segment: RecordSegment,
    private readonly order: Uint32Array,
  ) {}

  advance(): boolean {
    if (++this.i >= this.order.length) return false;
    this.segment.view(this.order[this.i]!, this.view);
    return true;
  }

  /** Holds nothing but memory, which goes with the run. */
  close(): void {
    this.i = this.order.length;
  }
}
