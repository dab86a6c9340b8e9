// ObjectStore.create writes a key once, whoever else tries: the job journal's commit records rely
// on it (a task never commits twice, even with two job servers on one store). The S3 store's
// case is in s3-object-store.test.ts.
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { LocalObjectStore } from "../../src/store/index.js";

describe("LocalObjectStore.create", () => {
  it("lets exactly one of many concurrent writers create a key, with its bytes whole", async () => {
    const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "create-once-")));
    const payload = (i: number) => Buffer.alloc(1 << 20, i + 1);
    const won = await Promise.all(Array.from({ length: 16 }, (_, i) => store.create("journal/job/commits/s1/3", payload(i))));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(Buffer.compare(await store.get("journal/job/commits/s1/3"), payload(won.indexOf(true)))).toBe(0);
    expect(await store.create("journal/job/commits/s1/3", Buffer.from("late"))).toBe(false);
    // Nothing but the record is left: no temporary files.
    expect(await store.list("journal/job/commits/s1/")).toEqual(["journal/job/commits/s1/3"]);
  });

  it("holds across processes", async () => {
    const root = mkdtempSync(join(tmpdir(), "create-once-"));
    const helper = new URL("./helpers/create-key.ts", import.meta.url).pathname;
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () => promisify(execFile)("node", ["--import", "tsx", helper, root, "k"]).then((r) => r.stdout)),
    );
    expect(outcomes.filter((o) => o === "won")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "lost")).toHaveLength(3);
  });
});
