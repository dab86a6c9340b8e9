// Opening a store from its URL, and that an S3 store loads the AWS SDK only when it is used.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { LocalObjectStore, openObjectStore } from "../../src/store/index.js";
import { LazyObjectStore } from "../../src/store/lazy-object-store.js";

const s3ClientImports = vi.hoisted(() => ({ count: 0 }));
vi.mock("@aws-sdk/client-s3", async (importOriginal) => {
  s3ClientImports.count++;
  return importOriginal();
});

describe("openObjectStore", () => {
  it("when given a file URL or a plain path, it opens a local store there", () => {
    const root = join("/tmp", "some-store");
    for (const url of [pathToFileURL(root).href, root]) {
      const store = openObjectStore(url);
      expect(store).toBeInstanceOf(LocalObjectStore);
      expect((store as LocalObjectStore).root).toBe(root);
    }
  });

  it("when given a URL of another scheme, it refuses it", () => {
    expect(() => openObjectStore("gs://bucket/prefix")).toThrow("unsupported object store URL 'gs://bucket/prefix'");
  });

  it("when given an s3:// URL, it keeps the URL and imports the S3 client only for the first request", async () => {
    const store = openObjectStore("s3://my-bucket/some/prefix/?spread=16");
    expect(store.url).toBe("s3://my-bucket/some/prefix/?spread=16");
    expect(s3ClientImports.count).toBe(0);

    const loaded = await (store as LazyObjectStore).loaded();

    const { S3ObjectStore } = await import("../../src/store/s3-object-store.js");
    expect(loaded).toBeInstanceOf(S3ObjectStore);
    expect(loaded.url).toBe(store.url);
    expect(s3ClientImports.count).toBe(1);
  });

  it("when the URL has no spread, the store's URL leaves it out", () => {
    expect(openObjectStore("s3://my-bucket/runner/").url).toBe("s3://my-bucket/runner/");
  });
});
