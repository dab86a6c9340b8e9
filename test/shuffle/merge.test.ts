// Push-based merge: same records for every reducer, and the request counts docs/shuffle.md
// models, counted at the store.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type PartitionedOutput,
  PartitionedObjectWriter,
  mergeGroups,
  mergePartitionedOutputs,
  predictedRequests,
  readRecords,
} from "../../src/shuffle/index.js";
import { CountingObjectStore, LocalObjectStore, type ObjectStore } from "../../src/store/index.js";

const M = 200;
const R = 200;
const FACTOR = 20;

async function writeMaps(store: ObjectStore): Promise<PartitionedOutput[]> {
  const outputs: PartitionedOutput[] = [];
  for (let m = 0; m < M; m++) {
    const writer = new PartitionedObjectWriter(R);
    for (let p = 0; p < R; p++) writer.add(p, Buffer.from(`m${m}-p${p}`));
    const key = `map-${m}`;
    outputs.push({ key, offsets: await writer.write(store, key) });
  }
  return outputs;
}

async function reduceAll(store: ObjectStore, outputs: PartitionedOutput[]): Promise<string[][]> {
  const result: string[][] = [];
  for (let p = 0; p < R; p++) {
    const records: string[] = [];
    for (const o of outputs) {
      const start = o.offsets[p]!;
      const end = o.offsets[p + 1]!;
      if (end <= start) continue;
      for (const r of readRecords(await store.get(o.key, { start, end }))) records.push(Buffer.from(r).toString());
    }
    result.push(records.sort());
  }
  return result;
}

describe(`a ${M} × ${R} shuffle`, () => {
  it("without merge costs M PUTs and M × R GETs", async () => {
    const store = new CountingObjectStore(new LocalObjectStore(mkdtempSync(join(tmpdir(), "merge-"))));
    const maps = await writeMaps(store);
    const reduced = await reduceAll(store, maps);
    expect({ puts: store.puts, gets: store.gets }).toEqual(predictedRequests(M, R));
    expect(reduced[17]).toHaveLength(M);
  });

  it(`with merge factor ${FACTOR} gives reducers the same records for at least 10× fewer GETs, as modelled`, async () => {
    const store = new CountingObjectStore(new LocalObjectStore(mkdtempSync(join(tmpdir(), "merge-"))));
    const maps = await writeMaps(store);
    const merged = await Promise.all(mergeGroups(maps, FACTOR).map((group, i) => mergePartitionedOutputs(store, group, `merged-${i}`)));
    const reduced = await reduceAll(store, merged);
    expect({ puts: store.puts, gets: store.gets }).toEqual(predictedRequests(M, R, FACTOR));
    expect(predictedRequests(M, R).gets / store.gets).toBeGreaterThanOrEqual(10);

    const plain = new LocalObjectStore(mkdtempSync(join(tmpdir(), "merge-")));
    expect(reduced).toEqual(await reduceAll(plain, await writeMaps(plain)));
  });

  it("merges empty partitions and empty map outputs without reading them", async () => {
    const store = new CountingObjectStore(new LocalObjectStore(mkdtempSync(join(tmpdir(), "merge-"))));
    const a = new PartitionedObjectWriter(3);
    a.add(1, Buffer.from("only"));
    const empty = new PartitionedObjectWriter(3);
    const inputs = [
      { key: "a", offsets: await a.write(store, "a") },
      { key: "e", offsets: await empty.write(store, "e") },
    ];
    const gets = store.gets;
    const merged = await mergePartitionedOutputs(store, inputs, "m");
    expect(store.gets - gets).toBe(1);
    const part1 = await store.get("m", { start: merged.offsets[1]!, end: merged.offsets[2]! });
    expect([...readRecords(part1)].map((r) => Buffer.from(r).toString())).toEqual(["only"]);
    expect(merged.offsets[1]).toBe(0);
    expect(merged.offsets[3]).toBe(merged.offsets[2]);
  });
});
