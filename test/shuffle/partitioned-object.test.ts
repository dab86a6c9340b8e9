import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PartitionedObjectWriter, partitionOf, readRecords } from "../../src/shuffle/index.js";
import { LocalObjectStore } from "../../src/store/index.js";

const store = () => new LocalObjectStore(mkdtempSync(join(tmpdir(), "store-test-")));

describe("a partitioned map output", () => {
  it("is one object whose offsets give each partition's records back", async () => {
    const s = store();
    const writer = new PartitionedObjectWriter(3);
    const expected: string[][] = [[], [], []];
    for (let i = 0; i < 100; i++) {
      const record = `record-${i}-${"x".repeat(i % 7)}`;
      const p = partitionOf(Buffer.from(record), 3);
      writer.add(p, Buffer.from(record));
      expected[p]!.push(record);
    }
    const offsets = await writer.write(s, "map/0");
    expect(offsets).toHaveLength(4);
    expect(await s.list("map/")).toEqual(["map/0"]);
    for (let p = 0; p < 3; p++) {
      const bytes = await s.get("map/0", { start: offsets[p]!, end: offsets[p + 1]! });
      expect([...readRecords(bytes)].map((r) => Buffer.from(r).toString())).toEqual(expected[p]);
    }
  });

  it("over its memory budget spills to a local file and still writes the same object, leaving no file behind", async () => {
    const s = store();
    const spillDir = mkdtempSync(join(tmpdir(), "map-spill-"));
    const unbounded = new PartitionedObjectWriter(5);
    const bounded = new PartitionedObjectWriter(5, { memoryBudgetBytes: 1024, spillDir });
    for (let i = 0; i < 5000; i++) {
      const record = Buffer.from(`record-${i}-${"y".repeat(i % 13)}`);
      unbounded.add(i % 5, record);
      bounded.add(i % 5, record);
      bounded.maybeSpill();
    }
    expect(bounded.spilled).toBe(true);
    expect(readdirSync(spillDir)).toHaveLength(1);
    const a = await unbounded.write(s, "unbounded");
    const b = await bounded.write(s, "bounded");
    expect(b).toEqual(a);
    expect((await s.get("bounded")).equals(await s.get("unbounded"))).toBe(true);
    expect(readdirSync(spillDir)).toEqual([]);
  });

  it("keeps empty partitions empty", async () => {
    const s = store();
    const writer = new PartitionedObjectWriter(4);
    writer.add(2, Buffer.from("only"));
    const offsets = await writer.write(s, "m");
    expect(offsets.slice(0, 3)).toEqual([0, 0, 0]);
    expect(offsets[3]! - offsets[2]!).toBe(5);
  });
});

describe("the local object store", () => {
  it("never shows a half-written object and refuses keys that escape it", async () => {
    const s = store();
    await s.put("a/b", Buffer.from("hello"));
    expect(await s.list("a/")).toEqual(["a/b"]);
    expect((await s.get("a/b", { start: 1, end: 4 })).toString()).toBe("ell");
    await expect(s.put("../evil", Buffer.from("x"))).rejects.toThrow(/escapes/);
    await expect(s.get("missing")).rejects.toThrow(/does not exist/);
  });
});

describe("partitionOf", () => {
  it("spreads keys over every partition", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(partitionOf(Buffer.from(`k${i}`), 16));
    expect(seen.size).toBe(16);
  });
});
