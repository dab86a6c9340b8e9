// Chaos: a job over 1.2 million records runs on the embedded job server while worker processes
// and SDK harnesses are SIGKILLed about every second. Lost workers come out of the infrastructure
// budget (scheduler/attempts.ts), not the four attempts a failing DoFn gets, so the job must end
// DONE, with exactly the output of Beam's FnApiRunner: attempt-scoped outputs mean a killed
// attempt neither loses nor duplicates records.
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { afterAll, describe, expect, it } from "vitest";
import { JobServer } from "../../src/driver/index.js";
import { parentOf, runCases } from "./run-cases.js";

const CASE = "chaos_million_records";
const KILL_EVERY_MS = 1000;
/** Kills stop after this long, so that the job finishes within the test's time. */
const KILL_WINDOW_MS = 60_000;

interface Kill {
  at: number;
  pid: number;
  kind: "worker" | "harness";
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/**
 * The job server's worker processes (node children of this process running the local worker
 * entry) and their SDK harnesses (python children of a worker running sdk_worker_main). The
 * Python clients run_cases.py starts are children of this process too, and are left alone.
 */
function killTargets(): { pid: number; kind: Kill["kind"] }[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      parents.set(pid, parentOf(pid));
    } catch {
      // The process ended while we looked.
    }
  }
  const workers = [...parents].filter(([pid, ppid]) => ppid === process.pid && commandLine(pid).includes("local-worker-process")).map(([pid]) => pid);
  const harnesses = [...parents]
    .filter(([pid, ppid]) => workers.includes(ppid) && commandLine(pid).includes("sdk_worker_main"))
    .map(([pid]) => pid);
  return [...workers.map((pid) => ({ pid, kind: "worker" as const })), ...harnesses.map((pid) => ({ pid, kind: "harness" as const }))];
}

/**
 * Kills a random worker or harness every KILL_EVERY_MS while `keepGoing()` holds: the kind first,
 * evenly (harnesses would otherwise be rarely hit, as a killed worker's harness is gone until
 * a task starts one again), then a process of that kind.
 */
async function killWhile(keepGoing: () => boolean, kills: Kill[]): Promise<void> {
  const pick = <T>(items: T[]): T | undefined => items[Math.floor(Math.random() * items.length)];
  while (keepGoing()) {
    const targets = killTargets();
    const kind = pick(["worker", "harness"].filter((k) => targets.some((t) => t.kind === k)));
    const target = pick(targets.filter((t) => t.kind === kind));
    if (target) {
      try {
        process.kill(target.pid, "SIGKILL");
        kills.push({ at: Date.now(), ...target });
      } catch {
        // It exited on its own first.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, KILL_EVERY_MS));
  }
}

let server: JobServer | undefined;
const workdir = mkdtempSync(join(tmpdir(), "beam-lambda-chaos-"));

afterAll(async () => {
  await server?.stop();
});

describe("a job whose workers and harnesses keep being killed", () => {
  it(
    `${CASE}: ends DONE with the FnApiRunner's output`,
    async () => {
      // Eight partitions and no small-input shortcut: every stage has several short tasks, so that
      // some finish between kills.
      server = await JobServer.start({ port: 0, workers: 2, partitions: 8, smallInput: { elements: 0, bytes: 0 } });
      const started = Date.now();
      const job = () => [...server!.registry.jobs.values()].find((j) => j.pipelineOptions["beam:option:job_name:v1"] === CASE);
      const kills: Kill[] = [];
      let killing = false;
      // Start killing once the job runs; stop when it ends or the window closes.
      const killer = (async () => {
        while (job()?.state !== JobState_Enum.RUNNING) {
          if (job()?.terminal || Date.now() - started > 120_000) return;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        killing = true;
        const killStart = Date.now();
        await killWhile(() => !job()!.terminal && Date.now() - killStart < KILL_WINDOW_MS, kills);
      })();
      let jobSeconds = 0;
      const [reference, ours] = await Promise.all([
        runCases("fnapi", [CASE], { workdir }),
        runCases("portable", [CASE], { workdir, extra: ["--job_endpoint", server.address] }).finally(
          () => (jobSeconds = (Date.now() - started) / 1000),
        ),
      ]);
      await killer;
      const seconds = (Date.now() - started) / 1000;
      const byKind = (kind: Kill["kind"]) => kills.filter((k) => k.kind === kind).length;
      const stats = server.shuffleStats.get(job()?.id ?? "");
      console.log(
        `chaos: ${kills.length} kills (${byKind("worker")} workers, ${byKind("harness")} harnesses) in ${seconds.toFixed(1)} s (our job: ${jobSeconds.toFixed(1)} s); ` +
          `job ${JobState_Enum[job()?.state ?? 0]}, ${stats?.lostAttempts} attempts lost (at most ${stats?.mostLossesOfOneTask} by one task), ${stats?.failedAttempts} failed otherwise`,
      );

      expect(killing).toBe(true);
      expect(kills.length).toBeGreaterThanOrEqual(5);
      expect(ours[CASE]!.error).toBeNull();
      expect(job()?.state).toBe(JobState_Enum.DONE);
      // Kills landed on running attempts, and every loss was seen as one (not as a user failure).
      expect(stats!.lostAttempts).toBeGreaterThanOrEqual(3);
      expect(stats!.failedAttempts).toBe(0);
      expect(reference[CASE]!.error).toBeNull();
      expect(reference[CASE]!.lines).toHaveLength(1000);
      expect(ours[CASE]!.lines).toEqual(reference[CASE]!.lines);
    },
    240_000,
  );
});
