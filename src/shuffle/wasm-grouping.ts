// The reduce side's fast path: when a reducer's whole input fits in memory, its keyed records
// are copied into WebAssembly memory (one copy per fetched block) and indexed, grouped and
// written as GroupByKey output by src/shuffle/wasm/grouping.ts, compiled by
// scripts/build-wasm.sh. Same output as the JavaScript path (grouping-reducer.ts with
// grouped-output-encoder.ts), which serves everything else (spilled input, merging windows,
// huge groups, a kernel in use).
import { existsSync, readFileSync } from "node:fs";
import { encodeTimestampMillis } from "../codec/byte-io.js";
import { GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS, PANE_ON_TIME_NOT_LAST, PANE_ON_TIME_ONLY } from "../codec/windows.js";
import { readSetting } from "../common/config.js";
import type { ElementChunk } from "./grouped-output-encoder.js";

interface KernelExports {
  countRecords(ptr: number, len: number): number;
  indexRecords(ptr: number, len: number, meta: number, first: number): number;
  group(n: number, meta: number, table: number, mask: number, next: number, tail: number, bytes: number, order: number): void;
  emit(order: number, n: number, from: number, meta: number, out: number, capacity: number, ends: number, combiner: number, globalEnd: number, globalPane: number, windowedPane: number): number;
  largestGroupBytes: WebAssembly.Global;
  emittedBytes: WebAssembly.Global;
  emittedElements: WebAssembly.Global;
}

interface Kernel {
  exports: KernelExports;
  memory: WebAssembly.Memory;
  /** One reducer at a time uses the kernel's memory; others take the JavaScript path. */
  busy: boolean;
}

const META_BYTES = 32;
const COMBINERS = { endOfWindow: 0, earliest: 1, latest: 2 } as const;

let loaded: Kernel | null | undefined;

/** The compiled kernel (BEAM_LAMBDA_GROUPING_WASM, read on first use), or undefined (with one warning) when it has not been built. */
export function groupingKernel(): Kernel | undefined {
  if (loaded === undefined) {
    const path = readSetting("groupingWasm");
    if (!existsSync(path)) {
      loaded = null;
      process.emitWarning(`${path} is missing (scripts/build-wasm.sh builds it): grouping runs in JavaScript, more slowly`);
    } else {
      const memory = new WebAssembly.Memory({ initial: 16 });
      const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(path)), {
        env: {
          memory,
          abort: () => {
            throw new Error("the grouping kernel aborted");
          },
        },
      });
      loaded = { exports: instance.exports as unknown as KernelExports, memory, busy: false };
    }
  }
  return loaded ?? undefined;
}

/** Bump allocation in kernel memory, 8-byte aligned, growing the memory as needed. */
class Layout {
  next = 64;
  constructor(private readonly memory: WebAssembly.Memory) {}
  take(bytes: number): number {
    const at = this.next;
    this.next = (at + bytes + 7) & ~7;
    const have = this.memory.buffer.byteLength;
    if (this.next > have) this.memory.grow(Math.ceil((this.next - have) / 65536));
    return at;
  }
}

export interface KernelGroupingOptions {
  timestampCombiner: "endOfWindow" | "earliest" | "latest";
  chunkBytes: number;
  /** Groups with more value bytes than this must go to the overflow store: the kernel declines. */
  inlineValueBytes: number;
}

/**
 * Groups `blocks` (framed keyed records) in the kernel. Returns undefined, having written
 * nothing, when the kernel is not built or busy, or a group is too large to stay inline.
 */
export function groupWithKernel(blocks: Buffer[], options: KernelGroupingOptions): Generator<ElementChunk> | undefined {
  const kernel = groupingKernel();
  if (!kernel || kernel.busy) return undefined;
  kernel.busy = true;
  try {
    const k = kernel.exports;
    const layout = new Layout(kernel.memory);
    const total = blocks.reduce((n, b) => n + b.length, 0);
    const input = layout.take(total);
    const placed: { at: number; length: number }[] = [];
    let at = input;
    for (const b of blocks) {
      new Uint8Array(kernel.memory.buffer, at, b.length).set(b);
      placed.push({ at, length: b.length });
      at += b.length;
    }
    let n = 0;
    for (const p of placed) {
      const count = k.countRecords(p.at, p.length);
      if (count < 0) throw new Error("a shuffle block is truncated");
      n += count;
    }
    const meta = layout.take(n * META_BYTES);
    let indexed = 0;
    for (const p of placed) indexed = k.indexRecords(p.at, p.length, meta, indexed);
    if (indexed !== n) throw new Error("a keyed shuffle record is truncated");
    let slots = 1024;
    while (slots < n * 2) slots *= 2;
    const table = layout.take(slots * 8);
    const next = layout.take(n * 4);
    const tail = layout.take(n * 4);
    const sizes = layout.take(n * 4);
    const order = layout.take(n * 4);
    k.group(n, meta, table, slots - 1, next, tail, sizes, order);
    if ((k.largestGroupBytes.value as number) > options.inlineValueBytes) {
      kernel.busy = false;
      return undefined;
    }
    const globalEnd = layout.take(8);
    new Uint8Array(kernel.memory.buffer, globalEnd, 8).set(encodeTimestampMillis(GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS));
    return emitChunks(kernel, layout, { n, meta, order, globalEnd }, options);
  } catch (e) {
    kernel.busy = false;
    throw e;
  }
}

function* emitChunks(
  kernel: Kernel,
  layout: Layout,
  grouped: { n: number; meta: number; order: number; globalEnd: number },
  options: KernelGroupingOptions,
): Generator<ElementChunk> {
  const k = kernel.exports;
  const mark = layout.next;
  try {
    let capacity = Math.max(options.chunkBytes, 1 << 16);
    for (let i = 0; i < grouped.n; ) {
      layout.next = mark;
      const out = layout.take(capacity);
      // An element is at least 17 bytes: this many ends always fit.
      const ends = layout.take(Math.ceil(capacity / 17) * 4 + 4);
      const from = i;
      i = k.emit(grouped.order, grouped.n, from, grouped.meta, out, capacity, ends, COMBINERS[options.timestampCombiner], grouped.globalEnd, PANE_ON_TIME_ONLY[0]!, PANE_ON_TIME_NOT_LAST[0]!);
      const elements = k.emittedElements.value as number;
      if (elements === 0) {
        // The next group is larger than a chunk: make room for it.
        capacity *= 2;
        continue;
      }
      const bytes = Buffer.from(new Uint8Array(kernel.memory.buffer, out, k.emittedBytes.value as number));
      yield { bytes, ends: Array.from(new Uint32Array(kernel.memory.buffer, ends, elements)) };
    }
  } finally {
    kernel.busy = false;
  }
}
