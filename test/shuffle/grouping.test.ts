// Property tests for the shuffle as GroupByKey uses it: map tasks write hash-partitioned
// objects, each reducer reads its byte range from every map output and groups by encoded key
// and window. The result must equal an in-memory reference grouping.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Coder } from "apache-beam/proto/beam_runner_api";
import { describe, expect, it } from "vitest";
import { ByteReader, ByteWriter, encodeIntervalWindow, encodeTimestampMillis, resolveCoder, splitKv, splitWindowedValue } from "../../src/codec/index.js";
import { Coders } from "../../src/common/urns.js";
import { LocalObjectStore, PartitionedObjectWriter, partitionOf } from "../../src/shuffle/index.js";
import type { ObjectRange } from "../../src/common/task-spec.js";
import { readInput } from "../../src/worker/edge-reader.js";

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
}

const lp = (b: Buffer) => new ByteWriter().varint(b.length).bytes(b).finish();

function encodeEntry(e: Entry): Buffer {
  return new ByteWriter().bytes(encodeTimestampMillis(0n)).int32BE(1).bytes(e.window).byte(0x0f).bytes(lp(e.key)).bytes(lp(e.value)).finish();
}

/** Writes the entries as M map outputs of R partitions and groups every partition back. */
async function shuffle(entries: Entry[], maps: number, partitions: number, global: boolean) {
  const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "grouping-")));
  const outputs: { key: string; offsets: number[] }[] = [];
  for (let m = 0; m < maps; m++) {
    const writer = new PartitionedObjectWriter(partitions);
    for (let i = m; i < entries.length; i += maps) writer.add(partitionOf(lp(entries[i]!.key), partitions), encodeEntry(entries[i]!));
    const key = `map-${m}`;
    outputs.push({ key, offsets: await writer.write(store, key) });
  }
  const groups = new Map<string, Buffer[]>();
  let requests = 0;
  for (let p = 0; p < partitions; p++) {
    const ranges: ObjectRange[] = outputs.map((o) => ({ key: o.key, start: o.offsets[p]!, end: o.offsets[p + 1]! }));
    requests += ranges.filter((r) => r.end > r.start).length;
    const wire = global ? "wvGroupedGlobal" : "wvGrouped";
    const elements = await readInput(
      store,
      { read: { kind: "group", inputWireCoderId: global ? "wvGlobal" : "wv", mergeWindows: false, timestampCombiner: "endOfWindow" }, wireCoderId: wire, ranges },
      coders,
    );
    for (const element of elements) {
      const wv = splitWindowedValue(coders(wire), new ByteReader(element));
      const { key, value } = splitKv(coders("grouped"), wv.value);
      const id = `${Buffer.from(key).toString("hex")}/${Buffer.from(wv.windows[0]!).toString("hex")}`;
      expect(groups.has(id), `group ${id} emitted twice`).toBe(false);
      const r = new ByteReader(value);
      const count = r.readInt32BE();
      const values: Buffer[] = [];
      for (let i = 0; i < count; i++) values.push(Buffer.from(r.readBytes(r.readVarint())));
      groups.set(id, values);
    }
  }
  return { groups, requests };
}

function reference(entries: Entry[]): Map<string, Buffer[]> {
  const groups = new Map<string, Buffer[]>();
  for (const e of entries) {
    const id = `${lp(e.key).toString("hex")}/${e.window.toString("hex")}`;
    groups.set(id, [...(groups.get(id) ?? []), e.value]);
  }
  return groups;
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
    const { groups } = await shuffle(entries, 7, 5, true);
    expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
  });

  it("binary keys, including the empty key and keys that are prefixes of others", async () => {
    const entries = generate(3000, 4, (r, i) => (i % 50 === 0 ? Buffer.alloc(0) : i % 7 === 0 ? Buffer.of(0, 0) : randomBytes(r, 4)), GLOBAL);
    entries.push({ key: Buffer.of(0), window: GLOBAL(), value: Buffer.from("prefix") });
    const { groups } = await shuffle(entries, 4, 6, true);
    expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
  });

  it("heavy skew: most values under one key", async () => {
    const entries = generate(8000, 5, (r) => Buffer.from(r() < 0.9 ? "hot" : `cold-${Math.floor(r() * 40)}`), GLOBAL);
    const { groups } = await shuffle(entries, 5, 8, true);
    expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
  });

  it("more partitions than keys leaves partitions empty, and empty ranges cost no reads", async () => {
    const entries = generate(500, 6, (r) => Buffer.from(`k${Math.floor(r() * 3)}`), GLOBAL);
    const { groups, requests } = await shuffle(entries, 4, 32, true);
    expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
    expect(requests).toBeLessThanOrEqual(4 * 3);
  });

  it("many windows per key", async () => {
    const window = (r: () => number) => {
      const start = BigInt(Math.floor(r() * 200) * 10);
      return encodeIntervalWindow({ start, end: start + 10n });
    };
    const entries = generate(6000, 7, (r) => Buffer.from(`k${Math.floor(r() * 20)}`), window);
    const { groups } = await shuffle(entries, 6, 4, false);
    expect(sortedValues(groups)).toEqual(sortedValues(reference(entries)));
  });

  it("one key with 10^6 values", async () => {
    const entries: Entry[] = Array.from({ length: 1_000_000 }, (_, i) => ({ key: Buffer.from("k"), window: GLOBAL(), value: Buffer.from(String(i)) }));
    const { groups } = await shuffle(entries, 4, 3, true);
    expect(groups.size).toBe(1);
    const values = [...groups.values()][0]!;
    expect(values).toHaveLength(1_000_000);
    const seen = new Set(values.map((v) => v.toString()));
    expect(seen.size).toBe(1_000_000);
    expect(seen.has("0") && seen.has("999999")).toBe(true);
  });
});
