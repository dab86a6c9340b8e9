// The S3 object store against LocalStack's S3 (started by localstack/start.sh; npm test does it).
import { randomUUID } from "node:crypto";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { PartitionedObjectWriter, readRecords } from "../../src/shuffle/index.js";
import { ObjectNotFoundError, openObjectStore } from "../../src/store/index.js";
import { LazyObjectStore } from "../../src/store/lazy-object-store.js";
import { S3ObjectStore } from "../../src/store/s3-object-store.js";

const endpoint = process.env.LOCALSTACK_ENDPOINT ?? "http://127.0.0.1:4566";
const clientConfig = {
  endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
};
const bucket = `beam-lambda-test-${randomUUID().slice(0, 8)}`;
const store = (spread = 1, prefix = `run-${randomUUID().slice(0, 6)}/`) => new S3ObjectStore({ bucket, prefix, spread, clientConfig });

beforeAll(async () => {
  try {
    await new S3Client(clientConfig).send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (e) {
    throw new Error(`LocalStack S3 is not reachable at ${endpoint} (start it with localstack/start.sh; npm test does): ${(e as Error).message}`, { cause: e });
  }
});

describe("the S3 object store", () => {
  it("round-trips objects and serves byte ranges", async () => {
    const s = store();
    await s.put("a/b", Buffer.from("hello, shuffle"));
    expect((await s.get("a/b")).toString()).toBe("hello, shuffle");
    expect((await s.get("a/b", { start: 7, end: 14 })).toString()).toBe("shuffle");
    expect((await s.get("a/b", { start: 3, end: 3 })).length).toBe(0);
    expect(await s.exists("a/b")).toBe(true);
    expect(await s.exists("a/c")).toBe(false);
  });

  it("creates a key once: of concurrent conditional writes exactly one wins, and its bytes stay", async () => {
    const s = store();
    const won = await Promise.all(Array.from({ length: 12 }, (_, i) => s.create("journal/commit", Buffer.from(`writer ${i}`))));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect((await s.get("journal/commit")).toString()).toBe(`writer ${won.indexOf(true)}`);
    expect(await s.create("journal/commit", Buffer.from("late"))).toBe(false);
  });

  it("reports a missing object as ObjectNotFoundError", async () => {
    await expect(store().get("nothing-here")).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it("uploads large objects in parts and reads any range of them back", async () => {
    const s = store();
    const big = Buffer.alloc(40 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    await s.put("big", big);
    const start = (17 << 20) + 4096 * 3;
    expect(Buffer.compare(await s.get("big", { start, end: start + 8192 }), big.subarray(start, start + 8192))).toBe(0);
    expect((await s.get("big")).length).toBe(big.length);
  });

  it("takes an object as parts, or as a stream of parts larger than one upload part", async () => {
    const s = store();
    const pieces = [Buffer.alloc(9 << 20, 1), Buffer.alloc(9 << 20, 2), Buffer.from("tail")];
    await s.put("parts", pieces);
    expect((await s.get("parts")).equals(Buffer.concat(pieces))).toBe(true);
    async function* stream() {
      for (const p of pieces) yield p;
    }
    await s.put("streamed", stream());
    const back = await s.get("streamed");
    expect(back.length).toBe((18 << 20) + 4);
    expect(back.equals(Buffer.concat(pieces))).toBe(true);
  });

  it("spreads keys over hashed prefixes yet lists and deletes them by logical prefix", async () => {
    const s = store(8);
    const keys = Array.from({ length: 40 }, (_, i) => `jobs/j1/task-${i}`);
    await Promise.all(keys.map((k) => s.put(k, Buffer.from(k))));
    await s.put("jobs/j2/other", Buffer.from("x"));
    expect(await s.list("jobs/j1/")).toEqual([...keys].sort());
    expect((await s.get("jobs/j1/task-7")).toString()).toBe("jobs/j1/task-7");
    await s.deletePrefix("jobs/j1/");
    expect(await s.list("jobs/")).toEqual(["jobs/j2/other"]);
  });

  it("holds a partitioned map output whose partitions read back by range", async () => {
    const s = store(4);
    const writer = new PartitionedObjectWriter(3);
    const expected: string[][] = [[], [], []];
    for (let i = 0; i < 300; i++) {
      writer.add(i % 3, Buffer.from(`r${i}`));
      expected[i % 3]!.push(`r${i}`);
    }
    const offsets = await writer.write(s, "map-0");
    for (let p = 0; p < 3; p++) {
      const part = await s.get("map-0", { start: offsets[p]!, end: offsets[p + 1]! });
      expect([...readRecords(part)].map((r) => Buffer.from(r).toString())).toEqual(expected[p]);
    }
  });

  it("opens from an s3:// URL", async () => {
    const s = openObjectStore("s3://my-bucket/some/prefix/?spread=16");
    expect(await (s as LazyObjectStore).loaded()).toBeInstanceOf(S3ObjectStore);
    expect(s.url).toBe("s3://my-bucket/some/prefix/?spread=16");
  });
});
