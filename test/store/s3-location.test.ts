// The S3 store's addressing: its URL and the hashed shards keys are spread over. Objects already
// in a bucket, and the CDK construct's lifecycle rules, depend on these exact values.
import { describe, expect, it } from "vitest";
import { partitionOf } from "../../src/shuffle/index.js";
import { parseS3StoreUrl, s3StoreUrl, shardPrefixes, shardedKey } from "../../src/store/s3-location.js";

describe("the S3 store's location", () => {
  it("spreads keys over one prefix per shard, {prefix}{i}/", () => {
    expect(shardPrefixes("runner/", 4)).toEqual(["runner/0/", "runner/1/", "runner/2/", "runner/3/"]);
  });

  it("when the spread is 1, keeps every key under the prefix itself", () => {
    expect(shardPrefixes("runner/", 1)).toEqual(["runner/"]);
    expect(shardedKey("runner/", 1, "jobs/j/feeds/m0")).toBe("runner/jobs/j/feeds/m0");
  });

  it("puts a key under the shard FNV-1a of its bytes picks, as the store always has", () => {
    expect(shardedKey("runner/", 8, "jobs/j/feeds/m0")).toBe("runner/6/jobs/j/feeds/m0");
    expect(shardedKey("", 16, "artifacts/j/pickled_main_session")).toBe("15/artifacts/j/pickled_main_session");
    for (const key of ["a", "jobs/wordcount-1a2b3c4d/stages/s1/task-0/attempt-0/out", "artifacts/x/y"]) {
      expect(shardedKey("p/", 8, key)).toBe(`p/${partitionOf(Buffer.from(key), 8)}/${key}`);
    }
  });

  it("reads and writes the store URL, leaving out a spread of 1", () => {
    expect(parseS3StoreUrl("s3://my-bucket/some/prefix/?spread=16")).toEqual({ bucket: "my-bucket", prefix: "some/prefix/", spread: 16 });
    expect(parseS3StoreUrl("s3://my-bucket/runner/")).toEqual({ bucket: "my-bucket", prefix: "runner/", spread: 1 });
    expect(s3StoreUrl({ bucket: "my-bucket", prefix: "some/prefix/", spread: 16 })).toBe("s3://my-bucket/some/prefix/?spread=16");
    expect(s3StoreUrl({ bucket: "my-bucket", prefix: "runner/", spread: 1 })).toBe("s3://my-bucket/runner/");
  });

  it("refuses a spread that is not a whole number from 1 to 4096, naming the URL (a fractional one would hide keys from listings)", () => {
    for (const spread of ["2.5", "abc", "0", "-3", "", "4097", "1e3"]) {
      expect(() => parseS3StoreUrl(`s3://b/p/?spread=${spread}`), spread).toThrow(`got '${spread}' in s3://b/p/?spread=${spread}`);
    }
    expect(parseS3StoreUrl("s3://b/p/?spread=4096").spread).toBe(4096);
  });
});
