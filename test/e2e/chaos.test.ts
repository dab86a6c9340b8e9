// Chaos: a job over 1.2 million records runs on the embedded job server while worker processes
// and SDK harnesses are SIGKILLed about every second. Lost workers come out of the infrastructure
// budget (scheduler/attempts.ts), not the four attempts a failing DoFn gets, so the job must end
// DONE, with exactly the output of Beam's FnApiRunner: attempt-scoped outputs mean a killed
// attempt neither loses nor duplicates records.
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { JobServer } from "../../src/driver/index.js";
import { type Target, describeChaos, expectSurvived, runUnderChaos } from "./chaos-run.js";
import { parentOf } from "./run-cases.js";

const CASE = "chaos_million_records";
/** Kills stop after this long, so that the job finishes within the test's time. */
const KILL_WINDOW_MS = 60_000;

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
function killTargets(): Target[] {
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
  return [...workers.map((pid) => ({ pid, kind: "worker" })), ...harnesses.map((pid) => ({ pid, kind: "harness" }))];
}

/**
 * Kills a random worker or harness: the kind first, evenly (harnesses would otherwise be rarely
 * hit, as a killed worker's harness is gone until a task starts one again), then a process of
 * that kind.
 */
function killOne(): Target | undefined {
  const pick = <T>(items: T[]): T | undefined => items[Math.floor(Math.random() * items.length)];
  const targets = killTargets();
  const kind = pick(["worker", "harness"].filter((k) => targets.some((t) => t.kind === k)));
  const target = pick(targets.filter((t) => t.kind === kind));
  if (!target) return undefined;
  try {
    process.kill(target.pid, "SIGKILL");
    return target;
  } catch {
    return undefined; // It exited on its own first.
  }
}

/**
 * Live SDK harnesses (and interpreters waiting to become one) started by any of the worker
 * processes `workers`: a harness's command line ends with its worker's pid (worker/harness-boot.ts),
 * which stays there after the worker is gone and the harness is reparented.
 */
function harnessesOf(workers: number[]): number[] {
  const owners = new Set(workers);
  return readdirSync("/proc")
    .map(Number)
    .filter((pid) => Number.isInteger(pid))
    .filter((pid) => {
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
        return args.some((a) => a.includes("sdk_worker_main")) && owners.has(Number(args.at(-1)));
      } catch {
        return false; // It ended while we looked.
      }
    });
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
      const outcome = await runUnderChaos({ server, caseName: CASE, workdir, killOne, windowMs: KILL_WINDOW_MS });
      console.log(`chaos: ${describeChaos(outcome)}`);
      expectSurvived(outcome);
      // A killed worker's harnesses die with it (harness-boot.ts): none lives on, reparented.
      const killedWorkers = outcome.kills.filter((k) => k.kind === "worker").map((k) => k.pid);
      expect(killedWorkers.length).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(harnessesOf(killedWorkers)).toEqual([]);
    },
    240_000,
  );
});
