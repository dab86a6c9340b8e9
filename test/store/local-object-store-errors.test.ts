// The local store's failures name keys, never the directory the store lives in.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalObjectStore, ObjectNotFoundError, ObjectStoreError } from "../../src/store/index.js";

let root: string;
let store: LocalObjectStore;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "store-errors-"));
  store = new LocalObjectStore(root);
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

async function failure(op: Promise<unknown>): Promise<Error> {
  const e = await op.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(e).toBeInstanceOf(Error);
  return e!;
}

describe("the local object store's errors", () => {
  it("reports a missing object by its key", async () => {
    for (const op of [store.get("jobs/j/missing"), store.get("jobs/j/missing", { start: 0, end: 4 })]) {
      const e = await failure(op);
      expect(e).toBeInstanceOf(ObjectNotFoundError);
      expect(e.message).toBe("object 'jobs/j/missing' does not exist");
    }
  });

  it("reports a put under an object (a file where a folder must be) by key and reason, without the store's path", async () => {
    await store.put("jobs/j/a", Buffer.from("x"));
    const e = await failure(store.put("jobs/j/a/b", Buffer.from("y")));
    expect(e).toBeInstanceOf(ObjectStoreError);
    expect(e.message).toMatch(/^put of object 'jobs\/j\/a\/b' failed: E[A-Z]+: /);
    expect(e.message).not.toContain(root);
    expect((e.cause as Error).message).toContain(root);
  });

  it("reports a put over a folder and a read of a folder without the store's path, and leaves no temporary file", async () => {
    await store.put("jobs/j/d/x", Buffer.from("x"));
    const put = await failure(store.put("jobs/j/d", Buffer.from("y")));
    expect(put).toBeInstanceOf(ObjectStoreError);
    expect(put.message).toMatch(/^put of object 'jobs\/j\/d' failed: /);
    expect(put.message).not.toContain(root);
    expect(readdirSync(join(root, "jobs/j"))).toEqual(["d"]);
    const get = await failure(store.get("jobs/j/d"));
    expect(get.message).toMatch(/^get of object 'jobs\/j\/d' failed: EISDIR/);
    expect(get.message).not.toContain(root);
  });

  it("reports a key that would escape the store without the store's path", async () => {
    const e = await failure(store.get("../outside"));
    expect(e.message).toBe("object key '../outside' escapes the store");
  });
});
