// The reduce side of a grouped shuffle: takes the keyed records of one partition (from every map
// output), sorts them by (key hash, key, window), and writes one GroupByKey output element per
// key and window straight into chunks ready for the SDK's data channel.
//
// Memory stays bounded: input is held up to a budget, then sorted and spilled to local disk as a
// run; at the end the runs are merged. A group whose values pass a size limit continues in
// OverflowValues, which the SDK reads lazily through the State API. Sorting uses the engine's
// native typed-array sort on (hash << 32 | index), so it allocates nothing per record; records
// of different keys with equal hashes are then ordered by their bytes.
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { encodeTimestampMillis } from "../codec/byte-io.js";
import { groupedPane, mergeIntervalWindows, windowMaxTimestamp } from "../codec/windows.js";
import { GrowableBuffer, varintSize } from "./growable-buffer.js";
import { MemoryRun } from "./memory-run.js";
import { MergedRuns } from "./merged-runs.js";
import type { OverflowValues } from "./overflow-values.js";
import { RecordSegment } from "./record-segment.js";
import type { RunCursor } from "./run-cursor.js";
import { SpilledRun, writeSpilledRun } from "./spilled-run.js";
import { groupWithKernel, groupingKernel } from "./wasm-grouping.js";

export interface GroupingOptions {
  mergeWindows: boolean;
  timestampCombiner: "endOfWindow" | "earliest" | "latest";
  /** Input bytes held in memory before a sorted run is spilled to `spillDir`. */
  memoryBudgetBytes: number;
  spillDir: string;
  /** Where a group's values past `inlineValueBytes` go; without it every value is inline. */
  overflow?: OverflowValues;
  inlineValueBytes?: number;
  /** Output chunk size: a chunk closes after the element that takes it past this. */
  chunkBytes?: number;
  /** Group in the WebAssembly kernel when the input fits in memory (default: when it is built). */
  useKernel?: boolean;
}

/**
 * How one key's windows merge: a window's encoding (as a latin1 string) to the encoding of the
 * window it merges into. A window the map does not hold stays as it is.
 */
export type WindowMapping = ReadonlyMap<string, Buffer>;

/** Merges one key's windows (distinct encodings). */
export type MergeWindowsFn = (key: Buffer, windows: Buffer[]) => WindowMapping;

/** One key's distinct windows, as a WindowFn merges them. */
export interface KeyWindows {
  key: Buffer;
  windows: Buffer[];
}

/** Sessions: overlapping interval windows merge, whatever the key. */
export const mergeSessionWindows: MergeWindowsFn = (_key, windows) => mergeIntervalWindows(windows);

/** Whole encoded elements back to back; element i ends at ends[i]. */
export interface ElementChunk {
  bytes: Buffer;
  ends: number[];
}

/** -1 as a signed 64-bit varint: the state-backed iterable's "rest is behind a token" marker. */
const MINUS_ONE_VARINT = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
const DEFAULT_CHUNK_BYTES = 1 << 20;
const DEFAULT_INLINE_VALUE_BYTES = 1 << 20;

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
    else if (this.segment.count >= 1 << 26) this.closeRecordSegment();
  }

  /** Gives up on the kernel: indexes the held blocks for the JavaScript path. */
  private indexPending(): void {
    for (const b of this.pending ?? []) this.segment.addBlock(b);
    this.pending = undefined;
  }

  private closeRecordSegment(): void {
    if (this.segment.count === 0) return;
    this.memoryRuns.push({ segment: this.segment, order: this.segment.sortedOrder() });
    this.segment = new RecordSegment();
  }

  /** Sorts what is held and writes it to disk as runs, releasing the memory. */
  private spill(): void {
    this.closeRecordSegment();
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
    if (this.pending) {
      const inKernel = groupWithKernel(this.pending, {
        timestampCombiner: this.options.timestampCombiner,
        chunkBytes: this.options.chunkBytes ?? DEFAULT_CHUNK_BYTES,
        inlineValueBytes: this.options.overflow ? (this.options.inlineValueBytes ?? DEFAULT_INLINE_VALUE_BYTES) : Infinity,
      });
      if (inKernel) {
        yield* inKernel;
        return;
      }
      this.indexPending();
    }
    const stream = this.records();
    const emitter = new GroupEmitter(this.options);
    if (this.options.mergeWindows) yield* emitter.mergingWindows(stream, merge);
    else yield* emitter.byKeyAndWindow(stream);
  }

  /**
   * Each key's distinct windows, keys in sorted order: what a WindowFn needs to merge them. A
   * pass over the input of its own (spilled runs are read again); `chunks` may follow it.
   */
  *keyWindows(): Generator<KeyWindows> {
    if (!this.options.mergeWindows) throw new Error("a key's windows are only collected for a grouping whose windows merge");
    const stream = this.records();
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
  }

  /**
   * Every record held or spilled, each group's records together, read from the start on every
   * call: in (hash, key, window) order, except that input grouped in memory by hash table keeps
   * a key's groups apart (only when windows do not merge).
   */
  private records(): RunCursor {
    if (this.spilled.length === 0 && this.memoryRuns.length === 0 && this.segment.count > 0 && !this.options.mergeWindows) {
      // Everything is in one in-memory segment: group by hash table, no run to merge with. The
      // table keeps each (key, window) group together but not a key's groups: merging windows
      // needs all of a key's windows adjacent, which only the sorted order gives.
      this.memoryRuns.push({ segment: this.segment, order: this.segment.groupedOrder() });
      this.segment = new RecordSegment();
    }
    this.closeRecordSegment();
    const runs: RunCursor[] = [...this.spilled.map((p) => new SpilledRun(p)), ...this.memoryRuns.map(({ segment, order }) => new MemoryRun(segment, order))];
    return runs.length === 1 ? runs[0]! : new MergedRuns(runs);
  }

  /** Deletes spill files. */
  close(): void {
    if (this.spillDir) rmSync(this.spillDir, { recursive: true, force: true });
  }
}

/** Writes GroupByKey output elements: WindowedValue(KV(key, Iterable(values))), one ON_TIME pane (see groupedPane). */
class GroupEmitter {
  private readonly out: GrowableBuffer;
  private ends: number[] = [];
  private readonly chunkBytes: number;
  private readonly inlineLimit: number;
  private readonly endOfWindow = new Map<string, Buffer>();
  private lastWindow = Buffer.alloc(0);
  private lastEndOfWindow?: Buffer;
  private readonly groupId = new GrowableBuffer(256);

  constructor(private readonly options: GroupingOptions) {
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.inlineLimit = options.overflow ? (options.inlineValueBytes ?? DEFAULT_INLINE_VALUE_BYTES) : Infinity;
    this.out = new GrowableBuffer(this.chunkBytes + (1 << 16));
  }

  /** Ends an element; true when the chunk is full and must be handed out with `take`. */
  private closeElement(): boolean {
    this.ends.push(this.out.length);
    return this.out.length >= this.chunkBytes;
  }

  private take(): ElementChunk {
    const chunk = { bytes: this.out.take(), ends: this.ends };
    this.ends = [];
    return chunk;
  }

  /** Writes everything up to the values; returns where the int32 value count goes. */
  private header(key: Buffer, keyStart: number, keyEnd: number, window: Buffer, windowStart: number, windowEnd: number): number {
    const out = this.out;
    out.ensure(8 + 4 + (windowEnd - windowStart) + 1 + (keyEnd - keyStart) + 4);
    out.length += 8; // the timestamp, written when the group is complete
    out.int32(1);
    out.range(window, windowStart, windowEnd);
    out.byte(groupedPane(windowEnd - windowStart));
    out.range(key, keyStart, keyEnd);
    const countAt = out.length;
    out.length += 4;
    return countAt;
  }

  private writeTimestamp(at: number, window: Buffer, windowStart: number, windowEnd: number, ts: TimestampRange): void {
    const buf = this.out.buf;
    if (this.options.timestampCombiner === "earliest") {
      buf.writeUInt32BE(ts.minHi, at);
      buf.writeUInt32BE(ts.minLo, at + 4);
    } else if (this.options.timestampCombiner === "latest") {
      buf.writeUInt32BE(ts.maxHi, at);
      buf.writeUInt32BE(ts.maxLo, at + 4);
    } else {
      // Most groups share few windows (one, for the global window): look the last one up first.
      let end = this.lastEndOfWindow;
      if (!end || !equalRanges(window, windowStart, windowEnd, this.lastWindow, 0, this.lastWindow.length)) {
        const id = window.toString("latin1", windowStart, windowEnd);
        end = this.endOfWindow.get(id);
        if (!end) this.endOfWindow.set(id, (end = encodeTimestampMillis(windowMaxTimestamp(window.subarray(windowStart, windowEnd)))));
        this.lastWindow = Buffer.from(window.subarray(windowStart, windowEnd));
        this.lastEndOfWindow = end;
      }
      for (let i = 0; i < 8; i++) buf[at + i] = end[i]!;
    }
  }

  *byKeyAndWindow(stream: RunCursor): Generator<ElementChunk> {
    const out = this.out;
    const id = this.groupId;
    const ts = new TimestampRange();
    let more = stream.advance();
    while (more) {
      const first = stream.view;
      const hash = first.hash;
      // The group's key and window, copied: a spilled run may move its buffer under us.
      id.length = 0;
      id.range(first.buf, first.keyStart, first.keyEnd);
      const keyLength = id.length;
      id.range(first.buf, first.windowStart, first.windowEnd);
      const elementStart = out.length;
      const countAt = this.header(id.buf, 0, keyLength, id.buf, keyLength, id.length);
      const valuesStart = out.length;
      let count = 0;
      let overflowing = false;
      ts.reset();
      for (;;) {
        const v = stream.view;
        ts.add(v.buf, v.timestampStart);
        if (overflowing) {
          this.options.overflow!.append(v.buf, v.valueStart, v.valueEnd);
        } else {
          out.range(v.buf, v.valueStart, v.valueEnd);
          count++;
          if (out.length - valuesStart > this.inlineLimit) {
            overflowing = true;
            this.options.overflow!.begin();
          }
        }
        more = stream.advance();
        if (!more) break;
        const n = stream.view;
        if (
          n.hash !== hash ||
          !equalRanges(n.buf, n.keyStart, n.keyEnd, id.buf, 0, keyLength) ||
          !equalRanges(n.buf, n.windowStart, n.windowEnd, id.buf, keyLength, id.length)
        ) {
          break;
        }
      }
      this.writeTimestamp(elementStart, id.buf, keyLength, id.length, ts);
      if (!overflowing) {
        out.buf.writeInt32BE(count, countAt);
      } else {
        // Beam's state-backed iterable: -1, then (count, values) blocks, then varint -1 and a token.
        const token = this.options.overflow!.finish();
        const shift = varintSize(count);
        out.ensure(shift + MINUS_ONE_VARINT.length + 10 + token.length);
        out.buf.copy(out.buf, valuesStart + shift, valuesStart, out.length);
        out.length += shift;
        out.buf.writeInt32BE(-1, countAt);
        const end = out.length;
        out.length = valuesStart;
        out.varint(count);
        out.length = end;
        out.bytes(MINUS_ONE_VARINT);
        out.varint(token.length);
        out.bytes(token);
      }
      if (this.closeElement()) yield this.take();
    }
    if (out.length > 0) yield this.take();
  }

  /**
   * Merging windows merge per key, so one key's entries are collected (in memory) before any of
   * its groups can be written; their values are always inline.
   */
  *mergingWindows(stream: RunCursor, merge: MergeWindowsFn): Generator<ElementChunk> {
    const out = this.out;
    let more = stream.advance();
    while (more) {
      const first = stream.view;
      const hash = first.hash;
      const key = Buffer.from(first.buf.subarray(first.keyStart, first.keyEnd));
      const entries: { window: Buffer; ts: Buffer; value: Buffer }[] = [];
      do {
        const v = stream.view;
        entries.push({
          window: Buffer.from(v.buf.subarray(v.windowStart, v.windowEnd)),
          ts: Buffer.from(v.buf.subarray(v.timestampStart, v.timestampEnd)),
          value: Buffer.from(v.buf.subarray(v.valueStart, v.valueEnd)),
        });
        more = stream.advance();
      } while (more && stream.view.hash === hash && stream.view.buf.compare(key, 0, key.length, stream.view.keyStart, stream.view.keyEnd) === 0);
      const merged = merge(key, distinctWindows(entries.map((e) => e.window)));
      const groups = new Map<string, { window: Buffer; entries: typeof entries }>();
      for (const e of entries) {
        const window = merged.get(e.window.toString("latin1")) ?? e.window;
        const id = window.toString("latin1");
        let g = groups.get(id);
        if (!g) groups.set(id, (g = { window, entries: [] }));
        g.entries.push(e);
      }
      const ts = new TimestampRange();
      for (const g of groups.values()) {
        const elementStart = out.length;
        const countAt = this.header(key, 0, key.length, g.window, 0, g.window.length);
        ts.reset();
        for (const e of g.entries) {
          ts.add(e.ts, 0);
          out.bytes(e.value);
        }
        this.writeTimestamp(elementStart, g.window, 0, g.window.length, ts);
        out.buf.writeInt32BE(g.entries.length, countAt);
        if (this.closeElement()) yield this.take();
      }
    }
    if (out.length > 0) yield this.take();
  }
}

/** The windows without repeats (a key's entries arrive sorted by window, so repeats are adjacent). */
function distinctWindows(windows: Buffer[]): Buffer[] {
  return windows.filter((w, i) => i === 0 || !w.equals(windows[i - 1]!));
}

/** Whether a[as, ae) and b[bs, be) hold the same bytes (a loop: these are short keys and windows). */
function equalRanges(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): boolean {
  if (ae - as !== be - bs) return false;
  for (let i = as, j = bs; i < ae; i++, j++) if (a[i] !== b[j]) return false;
  return true;
}

/** Earliest and latest of encoded timestamps, compared as two unsigned 32-bit halves. */
class TimestampRange {
  minHi = 0;
  minLo = 0;
  maxHi = 0;
  maxLo = 0;
  private empty = true;

  reset(): void {
    this.empty = true;
  }

  add(buf: Buffer, at: number): void {
    const hi = buf.readUInt32BE(at);
    const lo = buf.readUInt32BE(at + 4);
    if (this.empty || hi < this.minHi || (hi === this.minHi && lo < this.minLo)) {
      this.minHi = hi;
      this.minLo = lo;
    }
    if (this.empty || hi > this.maxHi || (hi === this.maxHi && lo > this.maxLo)) {
      this.maxHi = hi;
      this.maxLo = lo;
    }
    this.empty = false;
  }
}
