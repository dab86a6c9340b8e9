// Which tasks share a warm harness: the jobs of one caller whose environment, staged artifacts
// and options (but their names) are the same; never LOOPBACK / EXTERNAL, never two callers.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TaskSpec } from "../../src/common/task-spec.js";
import { LocalObjectStore } from "../../src/store/index.js";
import { HarnessPool, MAX_JOBS_PER_HARNESS, harnessOptions } from "../../src/worker/harness-pool.js";
import type { SdkHarness } from "../../src/worker/sdk-harness.js";

const IDLE_MS = 50;
const OPTIONS = { "beam:option:job_name:v1": "a", "beam:option:save_main_session:v1": true, "beam:option:experiments:v1": ["beam_fn_api"] };

/** The fields of a task the pool reads. */
function task(jobId: string, overrides: Partial<TaskSpec> = {}): TaskSpec {
  return {
    jobId,
    environment: { id: "env", kind: "python-process" },
    pipelineOptionsJson: JSON.stringify({ ...OPTIONS, "beam:option:job_name:v1": jobId }),
    artifactPrefix: `artifacts/${jobId}/`,
    harnessSharing: "owner:anonymous",
    ...overrides,
  } as TaskSpec;
}

async function poolWithArtifacts(artifacts: Record<string, Record<string, string>>) {
  const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "harness-pool-")));
  for (const [job, files] of Object.entries(artifacts)) for (const [name, text] of Object.entries(files)) await store.put(`artifacts/${job}/${name}`, Buffer.from(text));
  const stopped: number[] = [];
  let n = 0;
  const pool = new HarnessPool(
    store,
    () => {
      const id = ++n;
      return Promise.resolve({ connection: undefined, id, stop: () => Promise.resolve(void stopped.push(id)) } as unknown as SdkHarness);
    },
    IDLE_MS,
  );
  const idOf = async (spec: TaskSpec) => ((await pool.acquire(spec)) as unknown as { id: number }).id;
  return { pool, stopped, idOf };
}

describe("HarnessPool", () => {
  it("gives jobs of one caller with identical artifacts and options (but their names) the same harness", async () => {
    const { pool, idOf } = await poolWithArtifacts({ j1: { pickled_main_session: "main" }, j2: { pickled_main_session: "main" } });
    // The same options in another order, as two runs of one pipeline send them.
    const reordered = JSON.stringify(Object.fromEntries(Object.entries({ ...OPTIONS, "beam:option:job_name:v1": "b" }).reverse()));
    expect(await idOf(task("j1"))).toBe(1);
    expect(await idOf(task("j2", { pipelineOptionsJson: reordered }))).toBe(1);
    expect(pool.starts).toBe(1);
  });

  it("starts another harness when artifacts, options, command or caller differ, and never shares an external environment", async () => {
    const { idOf } = await poolWithArtifacts({ j1: { pickled_main_session: "main" }, j2: { pickled_main_session: "other main" }, j3: { pickled_main_session: "main" } });
    const differing: TaskSpec[] = [
      task("j2"),
      task("j3", { pipelineOptionsJson: JSON.stringify({ ...OPTIONS, "beam:option:save_main_session:v1": false }) }),
      task("j3", { environment: { id: "env", kind: "python-process", command: "/opt/other/python" } }),
      task("j3", { harnessSharing: "owner:someone-else" }),
      task("j3", { harnessSharing: undefined }),
      task("j3", { environment: { id: "env", kind: "external", address: "localhost:5000" } }),
    ];
    for (const spec of differing) {
      const first = await idOf(task("j1"));
      expect(await idOf(spec)).not.toBe(first);
    }
  });

  it("stops a shared harness once the last job using it has ended and no job came for a while", async () => {
    const { pool, stopped, idOf } = await poolWithArtifacts({});
    await idOf(task("j1"));
    await idOf(task("j2"));
    const idle = () => new Promise((resolve) => setTimeout(resolve, IDLE_MS * 2));

    pool.endJob("j1");
    await idle();
    expect(stopped).toEqual([]);
    pool.endJob("j2");
    // A job that comes soon after gets it still warm.
    expect(await idOf(task("j3"))).toBe(1);
    await idle();
    expect(stopped).toEqual([]);
    pool.endJob("j3");
    await idle();

    expect(stopped).toEqual([1]);
    expect(await idOf(task("j4"))).toBe(2);
  });

  it(`gives a fresh harness to a new job once one has served ${MAX_JOBS_PER_HARNESS} jobs`, async () => {
    const { pool, stopped, idOf } = await poolWithArtifacts({});
    for (let i = 0; i < MAX_JOBS_PER_HARNESS; i++) expect(await idOf(task(`j${i}`))).toBe(1);
    // A job it already serves keeps it.
    expect(await idOf(task("j0"))).toBe(1);

    expect(await idOf(task("late"))).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toEqual([1]);
    expect(pool.starts).toBe(2);
  });

  it("compares options without the job's name and in any key order", () => {
    expect(harnessOptions(JSON.stringify({ b: 1, a: { y: [1], x: 2 }, "beam:option:job_name:v1": "one" }))).toBe(
      harnessOptions(JSON.stringify({ a: { x: 2, y: [1] }, "beam:option:job_name:v1": "two", b: 1 })),
    );
    expect(harnessOptions(JSON.stringify({ a: 1 }))).not.toBe(harnessOptions(JSON.stringify({ a: 2 })));
  });
});
