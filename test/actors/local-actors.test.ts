// Actors as local processes: a real job server run as an actor serves a Beam Python pipeline,
// and a stage whose min_ram hint is over Lambda's memory runs on an executor actor. Outputs are
// compared with Beam's FnApiRunner.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalActorHost } from "../../src/actors/local-actor-host.js";
import type { ExecutorBackend } from "../../src/backends/executor-backend.js";
import type { RoutingBackend } from "../../src/backends/routing-backend.js";
import { freePort } from "../../src/common/net.js";
import { JobServer } from "../../src/driver/index.js";
import { type CaseResult, runCases } from "../e2e/run-cases.js";

/** One case on one runner, in a fresh work directory. */
async function runCase(name: string, runner: "fnapi" | "portable", extra: string[] = []): Promise<CaseResult> {
  const results = await runCases(runner, [name], { workdir: mkdtempSync(join(tmpdir(), `actors-${runner}-`)), extra });
  return results[name]!;
}

describe("local actor host", () => {
  it("runs a job server as an actor process that serves a Beam Python pipeline, and stops it", async () => {
    const actor = await new LocalActorHost().start({ command: "job-server", port: await freePort(), args: ["--workers", "2"] });
    try {
      const address = await actor.address(120_000);
      expect(await actor.health()).toEqual({ state: "running" });
      const [expected, actual] = await Promise.all([runCase("cogroupbykey", "fnapi"), runCase("cogroupbykey", "portable", ["--job_endpoint", address])]);
      expect(actual.error).toBeNull();
      expect(actual.lines!.length).toBeGreaterThan(0);
      expect(actual.lines).toEqual(expected.lines);
    } finally {
      await actor.stop();
    }
    const health = await actor.health();
    expect(health.state).toBe("stopped");
    expect(health.detail).toMatch(/exited/);
  });

  it("runs a stage whose min_ram hint is over Lambda's memory on an executor actor", async () => {
    const server = await JobServer.start({ port: 0, workers: 2, executors: { host: new LocalActorHost(), count: 1 } });
    try {
      const [expected, actual] = await Promise.all([runCase("min_ram_hinted", "fnapi"), runCase("min_ram_hinted", "portable", ["--job_endpoint", server.address])]);
      expect(actual.error).toBeNull();
      expect(actual.lines).toEqual(expected.lines);
      const executors = (server.backend as RoutingBackend).executors as ExecutorBackend;
      expect(executors.stats.executorsStarted).toBe(1);
      expect(executors.stats.tasks).toBeGreaterThanOrEqual(1);
      // The hinted stage's committed tasks ran in the executor process; the others did not.
      const [actor] = await executors.actors();
      const job = [...server.registry.jobs.values()][0]!;
      expect(job.workerPids.has((actor as unknown as { pid: number }).pid)).toBe(true);
      expect(job.workerPids.size).toBeGreaterThan(1);

      // Beam's --resource_hints pipeline option marks every stage: all of them go to the executor.
      const before = executors.stats.tasks;
      const [expectedAll, actualAll] = await Promise.all([
        runCase("cogroupbykey", "fnapi"),
        runCase("cogroupbykey", "portable", ["--job_endpoint", server.address, "--flag=--resource_hints=min_ram=12GB"]),
      ]);
      expect(actualAll.error).toBeNull();
      expect(actualAll.lines).toEqual(expectedAll.lines);
      const second = [...server.registry.jobs.values()][1]!;
      expect([...second.workerPids]).toEqual([(actor as unknown as { pid: number }).pid]);
      expect(executors.stats.tasks).toBeGreaterThan(before);
    } finally {
      await server.stop();
    }
  });
});
