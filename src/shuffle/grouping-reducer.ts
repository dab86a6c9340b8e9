// The reduce side of a grouped shuffle: takes the keyed records of one partition (from every map
// output), sorts them by (key hash, key, window), and writes one GroupByKey output element per
// key and window straight into chunks ready for the SDK's data channel.
//
// Memory stays bounded: input is held up to a budget (RecordSegment), then sorted and spilled to
// local disk as a run (SpilledRun); at the end the runs are merged (MergedRuns) and encoded
// (GroupedOutputEncoder), where a group whose values pass a size limit continues in
// OverflowValues, which the SDK reads lazily through the State API. Input that fits in memory
// is grouped by the WebAssembly kernel when it is built (wasm-grouping.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type ElementChunk, GroupedOutputEncoder, type GroupedOutputOptions, outputLimits } from "./grouped-output-encoder.js";
import { equalRanges } from "./growable-buffer.js";
import { MemoryRun } from "./memory-run.js";
import { MergedRuns } from "./merged-runs.js";
import { RecordSegment } from "./record-segment.js";
import type { RunCursor } from "./run-cursor.js";
import { SpilledRun, writeSpilledRun } from "./spilled-run.js";
import { groupWithKernel, groupingKernel } from "./wasm-grouping.js";
import { type KeyWindows, type MergeWindowsFn, mergeSessionWindows } from "./window-merging.js";

export interface GroupingOptions extends GroupedOutputOptions {
  mergeWindows: boolean;
  /** Input bytes held in memory before a sorted run is spilled to `spillDir`. */
  memoryBudgetBytes: number;
  spillDir: string;
  /** Group in the WebAssembly kernel when the input fits in memory (default: when it is built). */
  useKernel?: boolean;
}

/** Records held in memory, in the order a run reads them. */
interface OrderedSegment {
  segment: RecordSegment;
  order: Uint32Array;
}

export class GroupingReducer {
  private segment = new RecordSegment();
  private readonly memoryRuns: OrderedSegment[] = [];
  private readonly spilled: string[] = [];
  private spillDir?: string;
  private heldBytes = 0;
  /** Blocks not indexed yet: while the input fits in memory, the kernel may take them whole. */
  private pending: Buffer[] | undefined;
  /** What a pass over the input holds open (runs being read, the kernel's output) until it ends or `close`. */
  private readonly open = new Set<{ close(): void }>();

  constructor(private readonly options: GroupingOptions) {
    if (!options.mergeWindows && options.useKernel !== false && groupingKernel()) this.pending = [];
  }

  /** Runs spilled to disk so far. */
  get spilledRuns(): number {
    return this.spilled.length;
  }

  /** Adds one partition's bytes from one map output: framed keyed records. */
  addBlock(block: Buffer): void {
    if (block.length === 0) return;
    this.heldBytes += block.length;
    if (this.pending) {
      this.pending.push(block);
      if (this.heldBytes <= this.options.memoryBudgetBytes) return;
      this.indexPending();
    } else {
      this.segment.addBlock(block);
    }
    // The sort packs an index into 32 bits; a segment also closes well before that.
    if (this.heldBytes > this.options.memoryBudgetBytes) this.spill();
    else if (this.segment.count >= 1 << 26) this.closeSegment();
  }

  /** Gives up on the kernel: indexes the held blocks for the JavaScript path. */
  private indexPending(): void {
    for (const b of this.pending ?? []) this.segment.addBlock(b);
    this.pending = undefined;
  }

  private closeSegment(): void {
    if (this.segment.count === 0) return;
    this.memoryRuns.push({ segment: this.segment, order: this.segment.sortedOrder() });
    this.segment = new RecordSegment();
  }

  /** Sorts what is held and writes it to disk as runs, releasing the memory. */
  private spill(): void {
    this.closeSegment();
    this.spillDir ??= mkdtempSync(join(this.options.spillDir, "blr-spill-"));
    for (const { segment, order } of this.memoryRuns.splice(0)) {
      const path = join(this.spillDir, `run-${this.spilled.length}`);
      writeSpilledRun(path, new MemoryRun(segment, order));
      this.spilled.push(path);
    }
    this.heldBytes = 0;
  }

  /**
   * The grouped elements, in chunks. Call once, after the last block. When windows merge,
   * `merge` says how each key's windows do (by default as Sessions).
   */
  *chunks(merge: MergeWindowsFn = mergeSessionWindows): Generator<ElementChunk> {
    // The last pass: however it ends (done, the consumer's break or error, a failure here), the
    // reducer lets go of everything, spill files included.
    try {
      if (this.pending) {
        const inKernel = groupWithKernel(this.pending, { timestampCombiner: this.options.timestampCombiner, ...outputLimits(this.options) });
        if (inKernel) {
          // Returning the kernel's output frees the kernel for the next reducer.
          this.open.add({ close: () => void inKernel.return(undefined) });
          yield* inKernel;
          return;
        }
        this.indexPending();
      }
      const stream = this.openRecords();
      const encoder = new GroupedOutputEncoder(this.options);
      if (this.options.mergeWindows) yield* encoder.mergingWindows(stream, merge);
      else yield* encoder.byKeyAndWindow(stream);
    } finally {
      this.close();
    }
  }

  /**
   * Each key's distinct windows, keys in sorted order: what a WindowFn needs to merge them. A
   * pass over the input of its own (spilled runs are read again); `chunks` may follow it.
   */
  *keyWindows(): Generator<KeyWindows> {
    if (!this.options.mergeWindows) throw new Error("a key's windows are only collected for a grouping whose windows merge");
    const stream = this.openRecords();
    try {
      let more = stream.advance();
      while (more) {
        const first = stream.view;
        const hash = first.hash;
        const key = Buffer.from(first.buf.subarray(first.keyStart, first.keyEnd));
        // A key's records are sorted by window, so equal windows are adjacent.
        const windows: Buffer[] = [];
        do {
          const v = stream.view;
          const last = windows[windows.length - 1];
          if (!last || !equalRanges(v.buf, v.windowStart, v.windowEnd, last, 0, last.length)) windows.push(Buffer.from(v.buf.subarray(v.windowStart, v.windowEnd)));
          more = stream.advance();
        } while (more && stream.view.hash === hash && equalRanges(stream.view.buf, stream.view.keyStart, stream.view.keyEnd, key, 0, key.length));
        yield { key, windows };
      }
    } finally {
      // Only this pass's runs: `chunks` reads the spill files again.
      stream.close();
      this.open.delete(stream);
    }
  }

  /**
   * Every record held or spilled, each group's records together, read from the start on every
   * call: in (hash, key, window) order, except that input grouped in memory by hash table keeps
   * a key's groups apart (only when windows do not merge).
   */
  private openRecords(): RunCursor {
    if (this.spilled.length === 0 && this.memoryRuns.length === 0 && this.segment.count > 0 && !this.options.mergeWindows) {
      // Everything is in one in-memory segment: group by hash table, no run to merge with. The
      // table keeps each (key, window) group together but not a key's groups: merging windows
      // needs all of a key's windows adjacent, which only the sorted order gives.
      this.memoryRuns.push({ segment: this.segment, order: this.segment.groupedOrder() });
      this.segment = new RecordSegment();
    }
    this.closeSegment();
    const runs: RunCursor[] = [...this.spilled.map((p) => new SpilledRun(p)), ...this.memoryRuns.map(({ segment, order }) => new MemoryRun(segment, order))];
    const records = runs.length === 1 ? runs[0]! : new MergedRuns(runs);
    this.open.add(records);
    return records;
  }

  /**
   * Closes every run still being read and deletes the spill files. `chunks` does it when it
   * ends; call it as well when the input may not have reached `chunks`, or was read only in part
   * (a failed window merge, an abandoned read). Harmless to repeat.
   */
  close(): void {
    for (const resource of this.open) resource.close();
    this.open.clear();
    if (this.spillDir) rmSync(this.spillDir, { recursive: true, force: true });
  }
}
