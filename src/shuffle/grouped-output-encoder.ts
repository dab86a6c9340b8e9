// Beam's GroupByKey output encoding, written straight from a stream of grouped keyed records:
// WindowedValue(KV(key, Iterable(values))) per key and window, in chunks of whole elements ready
// for the SDK's data channel. A group whose values pass the inline limit ends with Beam's
// state-backed iterable encoding and continues in OverflowValues. The WebAssembly kernel
// (wasm-grouping.ts) writes the same bytes for input it groups itself.
import { encodeTimestampMillis } from "../codec/byte-io.js";
import { groupedPane, windowMaxTimestamp } from "../codec/windows.js";
import { GrowableBuffer, equalRanges, varintSize } from "./growable-buffer.js";
import type { OverflowValues } from "./overflow-values.js";
import type { RunCursor } from "./run-cursor.js";
import type { MergeWindowsFn } from "./window-merging.js";

/** Whole encoded elements back to back; element i ends at ends[i]. */
export interface ElementChunk {
  bytes: Buffer;
  ends: number[];
}

export interface GroupedOutputOptions {
  timestampCombiner: "endOfWindow" | "earliest" | "latest";
  /** Where a group's values past `inlineValueBytes` go; without it every value is inline. */
  overflow?: OverflowValues;
  inlineValueBytes?: number;
  /** Output chunk size: a chunk closes after the element that takes it past this. */
  chunkBytes?: number;
}

/** -1 as a signed 64-bit varint: the state-backed iterable's "rest is behind a token" marker. */
const MINUS_ONE_VARINT = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
const DEFAULT_CHUNK_BYTES = 1 << 20;
const DEFAULT_INLINE_VALUE_BYTES = 1 << 20;

/** The chunk size and the inline limit of a group's values, defaults resolved. */
export function outputLimits(options: GroupedOutputOptions): { chunkBytes: number; inlineValueBytes: number } {
  return {
    chunkBytes: options.chunkBytes ?? DEFAULT_CHUNK_BYTES,
    inlineValueBytes: options.overflow ? (options.inlineValueBytes ?? DEFAULT_INLINE_VALUE_BYTES) : Infinity,
  };
}

/** Writes GroupByKey output elements: WindowedValue(KV(key, Iterable(values))), one ON_TIME pane (see groupedPane). */
export class GroupedOutputEncoder {
  private readonly out: GrowableBuffer;
  private ends: number[] = [];
  private readonly chunkBytes: number;
  private readonly inlineLimit: number;
  private readonly endOfWindow = new Map<string, Buffer>();
  private lastWindow = Buffer.alloc(0);
  private lastEndOfWindow?: Buffer;
  private readonly groupId = new GrowableBuffer(256);

  constructor(private readonly options: GroupedOutputOptions) {
    ({ chunkBytes: this.chunkBytes, inlineValueBytes: this.inlineLimit } = outputLimits(options));
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
