// LocalBackend with real worker processes, on merge tasks (they need no SDK harness).
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalBackend } from "../../src/backends/local-backend.js";
import { defaultPython } from "../../src/driver/index.js";
import { LocalObjectStore } from "../../src/store/index.js";
import { mergeTaskOver } from "./merge-task.js";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { workerEnv } from "../../src/common/worker-env.js";
import { alive, until } from "./process-helpers.js";

function localBackend(workers: number): { backend: LocalBackend; store: LocalObjectStore } {
  const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "local-backend-")));
  return { backend: new LocalBackend({ workers, storeUrl: store.url, python: defaultPython() }), store };
}

describe("LocalBackend", () => {
  it("runs an attempt in a worker process", async () => {
    const { backend, store } = localBackend(1);
    try {
      const { spec } = await mergeTaskOver(store, { jobId: "local-test", records: ["a", "bb"], copies: 2 });
      const result = await backend.invoke(spec);
      expect(result.ok, JSON.stringify(result)).toBe(true);
      expect(result.workerPid).not.toBe(process.pid);
    } finally {
      await backend.close();
      await rm(store.root, { recursive: true, force: true });
    }
  });

  it("when its worker process is killed mid-attempt, the attempt fails as an infrastructure loss, to be retried", async () => {
    const { backend, store } = localBackend(1);
    try {
      // A merge of 300 copies of a 100 KB object (30 MB): long enough that a kill sent as the
      // attempt starts lands before it ends (a one-record merge sometimes finished first).
      const records = Array.from({ length: 100 }, (_, i) => String(i).padEnd(1024, "x"));
      const { spec } = await mergeTaskOver(store, { jobId: "local-test", records, copies: 300 });
      const { workerPid } = await backend.invoke(spec);

      const attempt = backend.invoke({ ...spec, attempt: 1 }, () => process.kill(workerPid, "SIGKILL"));

      expect(await attempt).toMatchObject({ ok: false, retryable: true, cause: "infrastructure", workerPid });
      expect((await backend.invoke({ ...spec, attempt: 2 })).ok).toBe(true);
    } finally {
      await backend.close();
      await rm(store.root, { recursive: true, force: true });
    }
  });

  it("cancelling a job while a worker is dying neither throws nor leaves an unheard error (EPIPE) to take the server down", async () => {
    const { backend, store } = localBackend(2);
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on("uncaughtException", onUncaught);
    try {
      const { spec } = await mergeTaskOver(store, { jobId: "local-test", records: ["a"], copies: 1 });
      const { workerPid } = await backend.invoke(spec);
      process.kill(workerPid, "SIGKILL");
      // Until the worker's exit is seen, every cancel sends to it; some of those sends fail.
      const until = Date.now() + 1000;
      while (Date.now() < until) {
        backend.cancelJob(`job-${Date.now()}`);
        await new Promise((r) => setImmediate(r));
      }
      expect(uncaught).toEqual([]);
      expect((await backend.invoke({ ...spec, attempt: 1 })).ok).toBe(true);
    } finally {
      process.off("uncaughtException", onUncaught);
      await backend.close();
      await rm(store.root, { recursive: true, force: true });
    }
  });

  it("a worker whose job server dies while the worker is still loading exits (no orphan holding its harness machinery)", async () => {
    const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "local-backend-")));
    const entry = fileURLToPath(new URL("../../src/backends/local-worker-process.ts", import.meta.url));
    // A parent that forks a worker and dies at once, as a SIGKILLed job server does.
    const parent = `
      const { fork } = require("node:child_process");
      const child = fork(${JSON.stringify(entry)}, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "ignore", "ipc"] });
      console.log(child.pid);
      process.exit(0);`;
    const out = spawnSync(process.execPath, ["-e", parent], {
      env: { ...process.env, ...workerEnv({ storeUrl: store.url, python: defaultPython() }) },
      encoding: "utf8",
    });
    const worker = Number(out.stdout.trim());
    expect(Number.isInteger(worker) && worker > 0, out.stderr).toBe(true);
    try {
      await until(() => !alive(worker), `worker ${worker} to exit after its parent died`, 20_000);
    } finally {
      if (alive(worker)) process.kill(worker, "SIGKILL");
      await rm(store.root, { recursive: true, force: true });
    }
  }, 30_000);

  it("when closed, it fails the attempts still waiting for a worker, and refuses new ones", async () => {
    const { backend, store } = localBackend(1);
    const { spec } = await mergeTaskOver(store, { jobId: "local-test", records: ["a"], copies: 1 });
    // The worker is still starting: every attempt waits.
    const waiting = [backend.invoke(spec), backend.invoke({ ...spec, attempt: 1 })];

    await backend.close();

    const shutDown = { ok: false, retryable: false, workerPid: 0, error: "the local backend is shut down" };
    expect(await Promise.all(waiting)).toEqual([shutDown, shutDown]);
    expect(await backend.invoke(spec)).toEqual(shutDown);
    await rm(store.root, { recursive: true, force: true });
  });
});
