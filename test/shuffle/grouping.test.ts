// Property tests for the shuffle as GroupByKey uses it: map tasks write hash-partitioned
// objects, each reducer reads its byte range from every map output and groups by encoded key
// and window. The result must equal an in-memory reference grouping.
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Coder } from "apache-beam/proto/beam_runner_api";
import { describe, expect, it } from "vitest";
import { ByteReader, ByteWriter, decodeIntervalWindow, decodeTimestampMillis, encodeIntervalWindow, encodeTimestampMillis, resolveCoder, splitWindowedValue, windowMaxTimestamp } from "../../src/codec/index.js";
import { Coders } from "../../src/common/urns.js";
import {
  GroupingReducer,
  type KeyWindows,
  type MergeWindowsFn,
  OverflowValues,
  ShuffleOutputWriter,
  mergeGroups,
  mergePartitionedOutputs,
} from "../../src/shuffle/index.js";
import { groupingKernel } from "../../src/shuffle/wasm-grouping.js";
import { LocalObjectStore } from "../../src/store/index.js";
import type { ObjectRange, WindowMerge } from "../../src/common/task-spec.js";
import { type WindowMerger, readInputChunks } from "../../src/shuffle/edge-reader.js";

const coder = (urn: string, ...components: string[]): Coder => ({ spec: { urn, payload: new Uint8Array() }, componentCoderIds: components });
const CODERS: Record<string, Coder> = {
  bytes: coder(Coders.bytes),
  kv: coder(Coders.kv, "bytes", "bytes"),
  window: coder(Coders.intervalWindow),
  global: coder(Coders.globalWindow),
  wv: coder(Coders.windowedValue, "kv", "window"),
  wvGlobal: coder(Coders.windowedValue, "kv", "global"),
  grouped: coder(Coders.kv, "bytes", "values"),
  values: coder(Coders.iterable, "bytes"),
  wvGrouped: coder(Coders.windowedValue, "grouped", "window"),
  wvGroupedGlobal: coder(Coders.windowedValue, "grouped", "global"),
};
const coders = (id: string) => resolveCoder(CODERS, id);

/** A deterministic pseudo-random generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

interface Entry {
  key: Buffer;
  window: Buffer;
  value: Buffer;
  ts?: bigint;
}

interface ShuffleOptions {
  maps: number;
  partitions: number;
  global: boolean;
  /** How map outputs frame records: keyed (the grouped-edge format) or plain elements. */
  format?: "keyed" | "plain";
  memoryBudgetBytes?: number;
  /** Hand huge groups' tails over as state-backed iterables. */
  overflow?: boolean;
  timestampCombiner?: "endOfWindow" | "earliest" | "latest";
  compression?: "gzip";
  /** Merge map outputs in groups of this many before reducing (push-based merge). */
  mergeFactor?: number;
  /** Map writers' memory budget: past it they spill to local disk. */
  mapMemoryBudgetBytes?: number;
  /** How each key's windows merge: not at all, as Sessions, or as `windowMerger` says (the SDK's WindowFn). */
  windowMerge?: WindowMerge;
  windowMerger?: WindowMerger;
}

const lp = (b: Buffer) => new ByteWriter().varint(b.length).bytes(b).finish();

function encodeEntry(e: Entry): Buffer {
  return new ByteWriter().bytes(encodeTimestampMillis(e.ts ?? 0n)).int32BE(1).bytes(e.window).byte(0x0f).bytes(lp(e.key)).bytes(lp(e.value)).finish();
}

/** Reads the values of a grouped element: a plain iterable, or Beam's state-backed form. */
function readValues(r: ByteReader, overflow: OverflowValues | undefined, stats: { stateBacked: number; pages: number }): Buffer[] {
  const values: Buffer[] = [];
  const readSome = (reader: ByteReader, n: number) => {
    for (let i = 0; i < n; i++) values.push(Buffer.from(reader.readBytes(reader.readVarint())));
  };
  const count = r.readInt32BE();
  if (count >= 0) {
    readSome(r, count);
    return values;
  }
  stats.stateBacked++;
  for (let n = Number(r.readVarBigInt()); ; n = Number(r.readVarBigInt())) {
    if (n === 0) return values;
    if (n === -1) break;
    readSome(r, n);
  }
  const token = r.readBytes(r.readVarint());
  expect(overflow, "a state-backed iterable without an overflow store").toBeDefined();
  let continuation: Uint8Array = new Uint8Array();
  do {
    const page = overflow!.read(token, continuation);
    stats.pages++;
    const pr = new ByteReader(page.data);
    while (!pr.done) values.push(Buffer.from(pr.readBytes(pr.readVarint())));
    continuation = page.continuationToken;
  } while (continuation.length > 0);
  return values;
}

/** Writes the entries as M map outputs of R partitions and groups every partition back. */
async function shuffle(entries: Entry[], o: ShuffleOptions) {
  const { maps, partitions, global } = o;
  const format = o.format ?? "keyed";
  const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "grouping-")));
  const spillDir = mkdtempSync(join(tmpdir(), "grouping-spill-"));
  const input = global ? "wvGlobal" : "wv";
  let outputs: { key: string; offsets: number[] }[] = [];
  for (let m = 0; m < maps; m++) {
    const writer = new ShuffleOutputWriter(coders(input), partitions, "key", format, { memoryBudgetBytes: o.mapMemoryBudgetBytes, spillDir });
    for (let i = m; i < entries.length; i += maps) writer.add(encodeEntry(entries[i]!));
    if (o.mapMemoryBudgetBytes) expect(writer.spilled).toBe(true);
    const key = `map-${m}`;
    outputs.push({ key, offsets: await writer.write(store, key, o.compression) });
  }
  if (o.mergeFactor) outputs = await Promise.all(mergeGroups(outputs, o.mergeFactor).map((g, i) => mergePartitionedOutputs(store, g, `merged-${i}`)));
  const groups = new Map<string, Buffer[]>();
  const timestamps = new Map<string, bigint>();
  const stats = { stateBacked: 0, pages: 0, spilled: false };
  let requests = 0;
  const overflow = o.overflow ? new OverflowValues(spillDir) : undefined;
  for (let p = 0; p < partitions; p++) {
    const ranges: ObjectRange[] = outputs.map((out) => ({ key: out.key, start: out.offsets[p]!, end: out.offsets[p + 1]!, format, compression: o.compression }));
    requests += ranges.filter((r) => r.end > r.start).length;
    const wire = global ? "wvGroupedGlobal" : "wvGrouped";
    const read = { kind: "group" as const, inputWireCoderId: input, windowMerge: o.windowMerge ?? "none", timestampCombiner: o.timestampCombiner ?? "endOfWindow" };
    const chunks = readInputChunks(store, { read, wireCoderId: wire, ranges }, coders, {
      memoryBudgetBytes: o.memoryBudgetBytes ?? 64 << 20,
      spillDir,
      overflow,
      windowMerger: o.windowMerger,
    });
    for await (const chunk of chunks) {
      if (readdirSync(spillDir).some((d) => d.startsWith("blr-spill-"))) stats.spilled = true;
      let start = 0;
      for (const end of chunk.ends) {
        const element = chunk.bytes.subarray(start, end);
        start = end;
        const wv = splitWindowedValue(coders(wire), new ByteReader(element));
        const r = new ByteReader(wv.value);
        const key = r.readBytes(r.readVarint());
        const id = `${Buffer.from(lp(Buffer.from(key))).toString("hex")}/${Buffer.from(wv.windows[0]!).toString("hex")}`;
        expect(groups.has(id), `group ${id} emitted twice`).toBe(false);
        groups.set(id, readValues(r, overflow, stats));
        expect(r.done, "bytes left after the values").toBe(true);
        timestamps.set(id, decodeTimestampMillis(wv.timestamp));
      }
    }
  }
  overflow?.close();
  return { groups, requests, stats, timestamps };
}

/** Where the first half of a block's records ends (a record boundary). */
function firstRecordsEnd(block: Buffer): number {
  let pos = 0;
  const r = new ByteReader(block);
  while (pos < block.length / 2) {
    r.pos = pos;
    const length = r.readVarint();
    pos = r.pos + length;
  }
  return pos;
}

function reference(entries: Entry[]): Map<string, Buffer[]> {
  const groups = new Map<string, Buffer[]>();
  for (const e of entries) {
    const id = `${lp(e.key).toString("hex")}/${e.window.toString("hex")}`;
    groups.set(id, [...(groups.get(id) ?? []), e.value]);
  }
  return groups;
}

/**
 * Sessions done the slow, obvious way: per key, sort the windows by start and sweep, extending
 * the current session while the next window starts before it ends.
 */
function sessionReference(entries: Entry[]): Map<string, Buffer[]> {
  const byKey = new Map<string, Entry[]>();
  for (const e of entries) byKey.set(lp(e.key).toString("hex"), [...(byKey.get(lp(e.key).toString("hex")) ?? []), e]);
  const groups = new Map<string, Buffer[]>();
  for (const [key, list] of byKey) {
    const sorted = list.map((e) => ({ e, w: decodeIntervalWindow(e.window) })).sort((a, b) => (a.w.start < b.w.start ? -1 : a.w.start > b.w.start ? 1 : 0));
    let session: { start: bigint; end: bigint; values: Buffer[] } | undefined;
    const close = () => session && groups.set(`${key}/${encodeIntervalWindow(session).toString("hex")}`, session.values);
    for (const { e, w } of sorted) {
      if (session && w.start < session.end) {
        if (w.end > session.end) session.end = w.end;
        session.values.push(e.value);
      } else {
        close();
        session = { start: w.start, end: w.end, values: [e.value] };
      }
    }
    close();
  }
  return groups;
}

/**
 * A custom merging WindowFn, as the SDK would run it: of one key's windows, those starting at an
 * even millisecond merge into one spanning them all; the odd ones stay as they are.
 */
function mergeEvenWindows(windows: Buffer[]): Map<string, Buffer> {
  const even = windows.filter((w) => decodeIntervalWindow(w).start % 2n === 0n);
  if (even.length < 2) return new Map();
  const bounds = even.map((w) => decodeIntervalWindow(w));
  const into = encodeIntervalWindow({
    start: bounds.reduce((m, b) => (b.start < m ? b.start : m), bounds[0]!.start),
    end: bounds.reduce((m, b) => (b.end > m ? b.end : m), bounds[0]!.end),
  });
  return new Map(even.map((w) => [w.toString("latin1"), into]));
}

/** Stands in for the SDK harness behind the WindowMerger interface, recording what it was asked. */
class EvenWindowsMerger implements WindowMerger {
  readonly asked: KeyWindows[] = [];
  calls = 0;

  async merge(keys: Iterable<KeyWindows>): Promise<MergeWindowsFn> {
    this.calls++;
    const byKey = new Map<string, Map<string, Buffer>>();
    for (const k of keys) {
      this.asked.push(k);
      byKey.set(k.key.toString("latin1"), mergeEvenWindows(k.windows));
    }
    return (key) => byKey.get(key.toString("latin1")) ?? new Map();
  }
}

/** The same merge done the obvious way: every key's windows at once, then group by merged window. */
function evenWindowsReference(entries: Entry[]): { groups: Map<string, Buffer[]>; timestamps: Map<string, bigint> } {
  const windowsOf = new Map<string, Buffer[]>();
  for (const e of entries) windowsOf.set(lp(e.key).toString("hex"), [...(windowsOf.get(lp(e.key).toString("hex")) ?? []), e.window]);
  const mergedOf = new Map([...windowsOf].map(([k, ws]) => [k, mergeEvenWindows(ws.filter((w, i) => ws.findIndex((x) => x.equals(w)) === i))]));
  const groups = new Map<string, Buffer[]>();
  const timestamps = new Map<string, bigint>();
  for (const e of entries) {
    const key = lp(e.key).toString("hex");
    const window = mergedOf.get(key)!.get(e.window.toString("latin1")) ?? e.window;
    const id = `${key}/${window.toString("hex")}`;
    groups.set(id, [...(groups.get(id) ?? []), e.value]);
    const ts = timestamps.get(id);
    if (ts === undefined || e.ts! < ts) timestamps.set(id, e.ts!);
  }
  return { groups, timestamps };
}

function sortedValues(groups: Map<string, Buffer[]>): Map<string, string[]> {
  return new Map([...groups].map(([k, v]) => [k, v.map((b) => b.toString("hex")).sort()]));
}

function generate(n: number, seed: number, key: (r: () => number, i: number) => Buffer, window: (r: () => number) => Buffer): Entry[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({ key: key(r, i), window: window(r), value: Buffer.from(`v${i}-${Math.floor(r() * 1e9)}`) }));
}

const GLOBAL = () => Buffer.alloc(0);
const randomBytes = (r: () => number, max: number) => Buffer.from(Array.from({ length: Math.floor(r() * max) }, () => Math.floor(r() * 256)));

describe("grouping through the shuffle equals an in-memory grouping", () => {
  it.each([1, 2, 3])("random text keys (seed %i)", async (seed) => {
    const entries = generate(5000, seed, (r) => Buffer.from(`key-${Math.floor(r() * 300)}`), GLOBAL);
    const { groups } = await shuffle(entries, { maps: 7, partitions: 5, global: true });
    expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
  });

  it("binary keys, including the empty key and keys that are prefixes of others", async () => {
    const entries = generate(3000, 4, (r, i) => (i % 50 === 0 ? Buffer.alloc(0) : i % 7 === 0 ? Buffer.of(0, 0) : randomBytes(r, 4)), GLOBAL);
    entries.push({ key: Buffer.of(0), window: GLOBAL(), value: Buffer.from("prefix") });
    const { groups } = await shuffle(entries, { maps: 4, partitions: 6, global: true });
    expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
  });

  it("heavy skew: most values under one key", async () => {
    const entries = generate(8000, 5, (r) => Buffer.from(r() < 0.9 ? "hot" : `cold-${Math.floor(r() * 40)}`), GLOBAL);
    const { groups } = await shuffle(entries, { maps: 5, partitions: 8, global: true });
    expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
  });

  it("more partitions than keys leaves partitions empty, and empty ranges cost no reads", async () => {
    const entries = generate(500, 6, (r) => Buffer.from(`k${Math.floor(r() * 3)}`), GLOBAL);
    const { groups, requests } = await shuffle(entries, { maps: 4, partitions: 32, global: true });
    expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
    expect(requests).toBeLessThanOrEqual(4 * 3);
  });

  it("many windows per key", async () => {
    const window = (r: () => number) => {
      const start = BigInt(Math.floor(r() * 200) * 10);
      return encodeIntervalWindow({ start, end: start + 10n });
    };
    const entries = generate(6000, 7, (r) => Buffer.from(`k${Math.floor(r() * 20)}`), window);
    const { groups } = await shuffle(entries, { maps: 6, partitions: 4, global: false });
    expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
  });

  it.each([
    { partitions: 1, memoryBudgetBytes: undefined },
    { partitions: 3, memoryBudgetBytes: undefined },
    { partitions: 7, memoryBudgetBytes: undefined },
    { partitions: 3, memoryBudgetBytes: 8 * 1024 },
  ])("session windows merge per key across map outputs (%o)", async ({ partitions, memoryBudgetBytes }) => {
    // Hundreds of keys, each with events whose gap-10 windows chain into sessions or stand apart.
    const window = (r: () => number) => {
      const start = BigInt(Math.floor(r() * 400));
      return encodeIntervalWindow({ start, end: start + 10n });
    };
    const entries = generate(6000, 21, (r) => Buffer.from(`user-${Math.floor(r() * 300)}`), window);
    const { groups, stats } = await shuffle(entries, { maps: 5, partitions, global: false, windowMerge: "sessions", memoryBudgetBytes });
    if (memoryBudgetBytes) expect(stats.spilled).toBe(true);
    const expected = sessionReference(entries);
    expect(expected.size).toBeGreaterThan(300);
    expect(sortedValues(groups)).toEqual(sortedValues(expected));
  });

  it.each([
    { partitions: 1, memoryBudgetBytes: undefined },
    { partitions: 3, memoryBudgetBytes: undefined },
    { partitions: 7, memoryBudgetBytes: undefined },
    { partitions: 3, memoryBudgetBytes: 8 * 1024 },
  ])("windows merged by a WindowFn outside the runner group as it says, asked once per partition with each key's distinct windows (%o)", async ({ partitions, memoryBudgetBytes }) => {
    const window = (r: () => number) => {
      const start = BigInt(Math.floor(r() * 400));
      return encodeIntervalWindow({ start, end: start + 10n });
    };
    const entries = generate(6000, 22, (r) => Buffer.from(`user-${Math.floor(r() * 300)}`), window);
    const r = rng(23);
    for (const e of entries) e.ts = BigInt(Math.floor(r() * 1e6));
    const merger = new EvenWindowsMerger();
    const { groups, stats, timestamps } = await shuffle(entries, {
      maps: 5,
      partitions,
      global: false,
      windowMerge: "sdk",
      windowMerger: merger,
      timestampCombiner: "earliest",
      memoryBudgetBytes,
    });
    if (memoryBudgetBytes) expect(stats.spilled).toBe(true);

    expect(merger.calls).toBe(partitions);
    const asked = new Map(merger.asked.map((k) => [k.key.toString("hex"), k.windows.map((w) => w.toString("hex"))]));
    expect(asked.size, "each key asked about once").toBe(merger.asked.length);
    const windowsOf = new Map<string, Set<string>>();
    for (const e of entries) windowsOf.set(lp(e.key).toString("hex"), (windowsOf.get(lp(e.key).toString("hex")) ?? new Set()).add(e.window.toString("hex")));
    expect(new Map([...asked].map(([k, ws]) => [k, [...ws].sort()]))).toEqual(new Map([...windowsOf].map(([k, ws]) => [k, [...ws].sort()])));

    const expected = evenWindowsReference(entries);
    expect(expected.groups.size).toBeLessThan(new Set(entries.map((e) => `${e.key.toString("hex")}/${e.window.toString("hex")}`)).size);
    expect(sortedValues(groups)).toEqual(sortedValues(expected.groups));
    expect(timestamps).toEqual(expected.timestamps);
  });

  it("plain-framed map outputs (a materialization also read ungrouped) group the same", async () => {
    const entries = generate(4000, 8, (r) => Buffer.from(`key-${Math.floor(r() * 100)}`), GLOBAL);
    const { groups } = await shuffle(entries, { maps: 3, partitions: 4, global: true, format: "plain" });
    expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
  });

  it("gzip-compressed partitions, also after merging (concatenated gzip members), group the same", async () => {
    const entries = generate(6000, 12, (r) => Buffer.from(`key-${Math.floor(r() * 500)}`), GLOBAL);
    for (const mergeFactor of [undefined, 3]) {
      const { groups } = await shuffle(entries, { maps: 7, partitions: 4, global: true, compression: "gzip", mergeFactor });
      expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
    }
  });

  it("map writers over their memory budget spill to disk and stream the object, gzipped or not", async () => {
    const entries = generate(8000, 13, (r) => Buffer.from(`key-${Math.floor(r() * 700)}`), GLOBAL);
    for (const compression of [undefined, "gzip" as const]) {
      const { groups } = await shuffle(entries, { maps: 3, partitions: 4, global: true, compression, mapMemoryBudgetBytes: 4096 });
      expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
    }
  });

  it("over the memory budget, sorted runs spill to disk and merge back to the same grouping", async () => {
    const entries = generate(20000, 9, (r) => Buffer.from(`key-${Math.floor(r() * 2000)}`), GLOBAL);
    const { groups, stats } = await shuffle(entries, { maps: 10, partitions: 2, global: true, memoryBudgetBytes: 16 * 1024 });
    expect(stats.spilled).toBe(true);
    expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
  });

  it("earliest and latest timestamp combiners take the group's minimum and maximum", async () => {
    const window = (r: () => number) => {
      const start = BigInt(Math.floor(r() * 20) * 100);
      return encodeIntervalWindow({ start, end: start + 100n });
    };
    const entries = generate(3000, 10, (r) => Buffer.from(`k${Math.floor(r() * 30)}`), window);
    const r = rng(11);
    for (const e of entries) e.ts = BigInt(Math.floor(r() * 1e6)) - 500_000n;
    // A budget of 8 KB sorts and spills; 64 MB groups in memory with a hash table.
    for (const [combiner, memoryBudgetBytes] of ["earliest", "latest", "endOfWindow"].flatMap((c) => [8 * 1024, 64 << 20].map((b) => [c, b] as const))) {
      const timestampCombiner = combiner as "earliest" | "latest" | "endOfWindow";
      const { groups, timestamps } = await shuffle(entries, { maps: 3, partitions: 3, global: false, timestampCombiner, memoryBudgetBytes });
      expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
      const expected = new Map<string, bigint>();
      for (const e of entries) {
        const id = `${lp(e.key).toString("hex")}/${e.window.toString("hex")}`;
        const prev = expected.get(id);
        const ts = combiner === "endOfWindow" ? windowMaxTimestamp(e.window) : e.ts!;
        if (prev === undefined || (combiner === "latest" ? ts > prev : ts < prev)) expected.set(id, ts);
      }
      expect(timestamps).toEqual(expected);
    }
  });

  it("the WebAssembly kernel is built, and writes exactly the bytes the JavaScript path writes", async () => {
    expect(groupingKernel(), "build/wasm/grouping.wasm (scripts/build-wasm.sh)").toBeDefined();
    for (const global of [false, true]) {
      const window = (r: () => number) => {
        if (global) return GLOBAL();
        const start = BigInt(Math.floor(r() * 20) * 100);
        return encodeIntervalWindow({ start, end: start + 100n });
      };
      const entries = generate(20000, 14, (r) => Buffer.from(r() < 0.2 ? "hot" : `k${Math.floor(r() * 3000)}`), window);
      const r = rng(15);
      for (const e of entries) e.ts = BigInt(Math.floor(r() * 1e6)) - 500_000n;
      const writer = new ShuffleOutputWriter(coders(global ? "wvGlobal" : "wv"), 1, "key", "keyed");
      for (const e of entries) writer.add(encodeEntry(e));
      const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "kernel-")));
      const offsets = await writer.write(store, "m");
      const block = await store.get("m", { start: 0, end: offsets[1]! });
      const half = firstRecordsEnd(block);
      for (const timestampCombiner of ["endOfWindow", "earliest", "latest"] as const) {
        const run = (useKernel: boolean) => {
          const reducer = new GroupingReducer({ mergeWindows: false, timestampCombiner, memoryBudgetBytes: 64 << 20, spillDir: tmpdir(), useKernel, chunkBytes: 4096 });
          // In two blocks, as two map outputs would arrive.
          reducer.addBlock(block.subarray(0, half));
          reducer.addBlock(block.subarray(half));
          const elements: string[] = [];
          for (const c of reducer.chunks()) c.ends.forEach((end, i) => elements.push(c.bytes.subarray(i === 0 ? 0 : c.ends[i - 1], end).toString("hex")));
          return elements;
        };
        const viaKernel = run(true);
        expect(viaKernel.length).toBeGreaterThan(global ? 2500 : 20000 * 0.5);
        expect(viaKernel).toEqual(run(false));
      }
    }
  });

  it.each([false, true])("one key with 10^6 values (state-backed tail: %s)", async (overflow) => {
    const entries: Entry[] = Array.from({ length: 1_000_000 }, (_, i) => ({ key: Buffer.from("k"), window: GLOBAL(), value: Buffer.from(String(i)) }));
    const { groups, stats } = await shuffle(entries, { maps: 4, partitions: 3, global: true, overflow, memoryBudgetBytes: overflow ? 1 << 20 : undefined });
    expect(groups.size).toBe(1);
    const values = [...groups.values()][0]!;
    expect(values).toHaveLength(1_000_000);
    const seen = new Set(values.map((v) => v.toString()));
    expect(seen.size).toBe(1_000_000);
    expect(seen.has("0") && seen.has("999999")).toBe(true);
    // ~7.9 MB of values: past the 1 MB inline limit, the rest is paged through the State API.
    expect(stats.stateBacked).toBe(overflow ? 1 : 0);
    if (overflow) expect(stats.pages).toBeGreaterThan(1);
  });
});
