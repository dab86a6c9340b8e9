// Interpreters started ahead of need (spare-interpreters.ts), with the project's real Python and Beam.
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { defaultPython } from "../../src/driver/index.js";
import { LocalObjectStore } from "../../src/store/index.js";
import { FnApiServer } from "../../src/worker/fn-api-server.js";
import { startHarness } from "../../src/worker/sdk-harness.js";
import { SpareInterpreters } from "../../src/worker/spare-interpreters.js";
import { TaskRunner } from "../../src/worker/task-runner.js";
import { alive, until } from "../backends/process-helpers.js";

const python = defaultPython();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function spares(refillDelayMs = 0): SpareInterpreters {
  const interpreters = new SpareInterpreters(refillDelayMs);
  cleanups.push(() => interpreters.close());
  return interpreters;
}

describe("spare interpreters", () => {
  it("a waiting interpreter becomes a job's harness, connects, and another waits in its place once the worker is idle", async () => {
    const server = await FnApiServer.start();
    const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "spare-interpreters-")));
    cleanups.push(() => server.stop(), () => rm(store.root, { recursive: true, force: true }));
    const interpreters = spares();
    interpreters.keep(python);
    const [waiting] = interpreters.pids;
    expect(waiting).toBeDefined();

    interpreters.taskStarted();
    const harness = await startHarness(
      server,
      { id: "env", kind: "python-process" },
      { jobId: "spare-job", pipelineOptionsJson: JSON.stringify({ job_name: "spare-job" }), artifactPrefix: "artifacts/spare-job/" },
      store,
      { python, interpreters },
    );
    await harness.connection.ready;
    // The harness is the interpreter that waited: stopping the harness ends that process.
    expect(alive(waiting!)).toBe(true);
    // Not while a task runs: its import would compete with the task.
    await new Promise((r) => setTimeout(r, 200));
    expect(interpreters.pids).toEqual([]);
    interpreters.taskEnded();
    await until(() => interpreters.pids.length === 1 && interpreters.pids[0] !== waiting, "a new spare", 10_000);
    await harness.stop();
    await until(() => !alive(waiting!), `the harness (pid ${waiting}) to exit`, 10_000);
  }, 60_000);

  it("a spare never taken exits quietly when the worker closes the pool", async () => {
    const interpreters = new SpareInterpreters();
    interpreters.keep(python);
    const [waiting] = interpreters.pids;
    interpreters.close();
    await until(() => !alive(waiting!), "the spare to exit", 30_000);
    expect(interpreters.pids).toEqual([]);
  }, 60_000);

  it("a spare that died is not handed out: a task gets an interpreter started for it", async () => {
    const interpreters = spares(60_000);
    interpreters.keep(python);
    const [waiting] = interpreters.pids;
    process.kill(waiting!, "SIGKILL");
    await until(() => interpreters.pids.length === 0, "the dead spare to be forgotten", 10_000);
    const taken = interpreters.take(python);
    cleanups.push(() => void taken.kill("SIGKILL"));
    expect(taken.pid).not.toBe(waiting);
    expect(alive(taken.pid!)).toBe(true);
  });

  it("a worker keeps one waiting from its start, or none when told not to (BEAM_LAMBDA_NO_SPARE_INTERPRETER)", async () => {
    const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "spare-interpreters-")));
    cleanups.push(() => rm(store.root, { recursive: true, force: true }));
    const settings = { python, shuffleMemoryBytes: 1 << 20, noProgressTimeoutMs: 60_000 };
    for (const [spareInterpreter, waiting] of [[true, 1], [false, 0]] as const) {
      const runner = await TaskRunner.create(store, { ...settings, spareInterpreter });
      cleanups.push(() => runner.close());
      expect(runner.interpreters.pids).toHaveLength(waiting);
    }
  });

  it("an interpreter that cannot start gives an error to whoever takes it, and never an unheard one", async () => {
    const interpreters = spares();
    interpreters.keep("/nonexistent/python3");
    await new Promise((r) => setTimeout(r, 100));
    const taken = interpreters.take("/nonexistent/python3");
    const error = await new Promise<Error>((resolve) => taken.on("error", resolve));
    expect(error.message).toContain("ENOENT");
  });
});
