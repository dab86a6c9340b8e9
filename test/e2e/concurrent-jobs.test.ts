// Load: 50 small Beam Python jobs (Create -> GroupByKey -> write, process harnesses) submitted at
// once to one embedded job server with 2 workers, against one such job alone. Every job must end
// DONE with FnApiRunner's output (each job's data is its own, so a job that saw another's data or
// code would differ), and harnesses must be shared: far fewer starts than jobs. Times, harness
// starts and the job server's RSS are printed (docs/reliability.md records them), not asserted:
// this machine's two cores are shared.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { afterAll, describe, expect, it } from "vitest";
import { JobServer, defaultPython } from "../../src/driver/index.js";
import { TERMINAL_STATES } from "../../src/driver/job.js";
import { parentOf } from "./run-cases.js";

/** Jobs at once; LOAD_TEST_JOBS changes it for measurements (docs/reliability.md), never in `npm test`. */
const JOBS = Number(process.env.LOAD_TEST_JOBS ?? 50);
/** The server's maxRunningJobs, for the same measurements (default: the server's default). */
const MAX_RUNNING = process.env.LOAD_TEST_MAX_RUNNING ? Number(process.env.LOAD_TEST_MAX_RUNNING) : undefined;
const WORKERS = 2;
const CLIENTS = Number(process.env.LOAD_TEST_CLIENTS ?? 5);
const script = new URL("./concurrent_jobs.py", import.meta.url).pathname;
const run = promisify(execFile);

interface JobResult {
  lines: string[] | null;
  error: string | null;
  seconds: number;
}

async function runJobs(
  runner: "fnapi" | "portable",
  jobs: number,
  first: number,
  workdir: string,
  { endpoint, records = 60, keys = 13, sleepPerKey = 0, waitFor }: { endpoint?: string; records?: number; keys?: number; sleepPerKey?: number; waitFor?: string } = {},
): Promise<Record<string, JobResult>> {
  const out = join(workdir, `${runner}-${first}.json`);
  const args = [script, "--runner", runner, "--workdir", workdir, "--out", out, "--jobs", String(jobs), "--first", String(first), "--records", String(records), "--keys", String(keys), "--sleep_per_key", String(sleepPerKey)];
  if (waitFor) args.push("--wait_for", waitFor);
  await run(defaultPython(), [...args, ...(endpoint ? ["--job_endpoint", endpoint] : [])], { maxBuffer: 64 << 20 });
  return JSON.parse(readFileSync(out, "utf8")) as Record<string, JobResult>;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

/** SDK harness processes now: sdk_worker_main children of this process's worker processes. */
function harnessPids(): number[] {
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
  const workers = new Set([...parents].filter(([pid, ppid]) => ppid === process.pid && commandLine(pid).includes("local-worker-process")).map(([pid]) => pid));
  return [...parents].filter(([pid, ppid]) => workers.has(ppid) && commandLine(pid).includes("sdk_worker_main")).map(([pid]) => pid);
}

/** Watches the server: each job's time from Run to its end, harness processes started, the largest RSS. */
function watch(server: JobServer) {
  /** By job name: when it was run, started running and ended. */
  const times = new Map<string, { run?: number; running?: number; end?: number }>();
  const harnesses = new Set<number>();
  let maxRss = 0;
  // Every job as it is prepared, so that no state change is missed.
  const add = server.registry.add.bind(server.registry);
  server.registry.add = (job, owner) => {
    // Python names every job 'job': its job_name option tells them apart.
    const name = String(job.pipelineOptions["beam:option:job_name:v1"]);
    times.set(name, {});
    job.subscribe((e) => {
      if (e.kind !== "state") return;
      const at = e.at.getTime();
      if (e.state === JobState_Enum.STARTING) times.get(name)!.run = at;
      if (e.state === JobState_Enum.RUNNING) times.get(name)!.running = at;
      if (TERMINAL_STATES.has(e.state)) times.get(name)!.end = at;
    });
    return add(job, owner);
  };
  const timer = setInterval(() => {
    for (const pid of harnessPids()) harnesses.add(pid);
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
  }, 100);
  return {
    stop: () => clearInterval(timer),
    times: (name: string) => times.get(name) ?? {},
    /** The jobs' times from Run to their end, in seconds, shortest first. */
    seconds: (names: string[]) =>
      names
        .map((name) => times.get(name))
        .map((t) => (t?.end === undefined || t.run === undefined ? NaN : (t.end - t.run) / 1000))
        .sort((a, b) => a - b),
    harnessStarts: () => harnesses.size,
    maxRssMb: () => Math.round(maxRss / 2 ** 20),
  };
}

const median = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)]!;
let server: JobServer | undefined;
let bigServer: JobServer | undefined;

afterAll(async () => {
  await server?.stop();
  await bigServer?.stop();
});

describe("many concurrent jobs on one job server", () => {
  it(
    `${JOBS} small Python jobs at once all end DONE with FnApiRunner's output, sharing harnesses`,
    async () => {
      const workdir = mkdtempSync(join(tmpdir(), "beam-lambda-load-"));
      server = await JobServer.start({ port: 0, workers: WORKERS, maxRunningJobs: MAX_RUNNING });
      const endpoint = server.address;
      const watcher = watch(server);
      // One job alone first (its harnesses start cold, as the burst's first ones do); then the burst.
      const alone = await runJobs("portable", 1, JOBS, workdir, { endpoint: server.address });
      const aloneSeconds = alone[`load-${JOBS}`]!.seconds;
      const aloneServer = watcher.seconds([`load-${JOBS}`])[0]!;
      const harnessesAlone = watcher.harnessStarts();
      const burstStarted = Date.now();
      // From CLIENTS processes, JOBS / CLIENTS threads each: one Python process submitting them all would be the bottleneck.
      const perClient = Math.ceil(JOBS / CLIENTS);
      const clients = Array.from({ length: CLIENTS }, (_, c) => c * perClient).filter((first) => first < JOBS);
      const ours = Object.assign(
        {},
        ...(await Promise.all(clients.map((first) => runJobs("portable", Math.min(perClient, JOBS - first), first, workdir, { endpoint })))),
      ) as Record<string, JobResult>;
      const burstSeconds = (Date.now() - burstStarted) / 1000;
      watcher.stop();
      const reference = await runJobs("fnapi", JOBS + 1, 0, workdir);

      const serverSeconds = watcher.seconds(Object.keys(ours));
      const clientSeconds = Object.values(ours)
        .map((r) => r.seconds)
        .sort((a, b) => a - b);
      const harnessStarts = watcher.harnessStarts() - harnessesAlone;
      console.log(
        `load: ${JOBS} jobs at once on ${WORKERS} workers (maxRunningJobs ${server.admission.maxRunningJobs}) in ${burstSeconds.toFixed(1)} s; ` +
          `job time from Run to end: median ${median(serverSeconds).toFixed(2)} s, max ${serverSeconds.at(-1)!.toFixed(2)} s ` +
          `(client side: median ${median(clientSeconds).toFixed(2)} s, max ${clientSeconds.at(-1)!.toFixed(2)} s); ` +
          `alone: ${aloneServer.toFixed(2)} s (client side ${aloneSeconds.toFixed(2)} s); ` +
          `median/alone ${(median(serverSeconds) / aloneServer).toFixed(1)}x; ` +
          `harness starts: ${harnessStarts} for the burst, ${harnessesAlone} alone; job server max RSS ${watcher.maxRssMb()} MB`,
      );

      expect(alone[`load-${JOBS}`]!.error).toBeNull();
      expect(alone[`load-${JOBS}`]!.lines).toEqual(reference[`load-${JOBS}`]!.lines);
      for (let i = 0; i < JOBS; i++) {
        const name = `load-${i}`;
        expect(ours[name]!.error, name).toBeNull();
        expect(reference[name]!.lines, name).toHaveLength(13);
        expect(ours[name]!.lines, name).toEqual(reference[name]!.lines);
      }
      const states = [...server.registry.jobs.values()].map((j) => JobState_Enum[j.state]);
      expect(states).toEqual(Array(JOBS + 1).fill("DONE"));
      // Harnesses are shared between the jobs: one per worker would be WORKERS starts; one per job and worker (no sharing) JOBS * WORKERS.
      expect(harnessStarts).toBeLessThan(JOBS / 2);
    },
    180_000,
  );

  it(
    "a small job run while a big one runs ends first: the big one's waiting tasks cannot hold every worker",
    async () => {
      const workdir = mkdtempSync(join(tmpdir(), "beam-lambda-big-small-"));
      // 40 tasks per stage for the big job (no small-input shortcut), its 2000 groups taking 5 ms
      // each to format: 10 s of work for 2 workers. The small one is 60 records.
      bigServer = await JobServer.start({ port: 0, workers: WORKERS, partitions: 40, smallInput: { elements: 0, bytes: 0 } });
      const watcher = watch(bigServer);
      const big = { records: 20_000, keys: 2000, sleepPerKey: 0.005 };
      // The small job's client is started with the big one's, and submits once the big job runs.
      const go = join(workdir, "run-the-small-job");
      const bigRun = runJobs("portable", 1, 100, workdir, { endpoint: bigServer.address, ...big });
      const smallRun = runJobs("portable", 1, 101, workdir, { endpoint: bigServer.address, waitFor: go });
      let bigEnded = false;
      void bigRun.finally(() => (bigEnded = true));
      while (watcher.times("load-100").running === undefined && !bigEnded) await new Promise((resolve) => setTimeout(resolve, 20));
      writeFileSync(go, "");
      const [bigResult, smallResult] = await Promise.all([bigRun, smallRun]);
      watcher.stop();
      const reference = { ...(await runJobs("fnapi", 1, 100, workdir, big)), ...(await runJobs("fnapi", 1, 101, workdir)) };
      const [bigTimes, smallTimes] = [watcher.times("load-100"), watcher.times("load-101")];
      console.log(
        `big and small: the big job ran ${((bigTimes.end! - bigTimes.run!) / 1000).toFixed(1)} s; the small one, run ${((smallTimes.run! - bigTimes.running!) / 1000).toFixed(1)} s after the big one started running, took ${((smallTimes.end! - smallTimes.run!) / 1000).toFixed(1)} s and ended ${((bigTimes.end! - smallTimes.end!) / 1000).toFixed(1)} s before it`,
      );

      for (const [name, result] of Object.entries({ ...bigResult, ...smallResult })) {
        expect(result.error, name).toBeNull();
        expect(result.lines, name).toEqual(reference[name]!.lines);
      }
      expect(reference["load-100"]!.lines).toHaveLength(2000);
      // The small job was run while the big one ran, and ended first.
      expect(smallTimes.run).toBeGreaterThan(bigTimes.running!);
      expect(smallTimes.run).toBeLessThan(bigTimes.end!);
      expect(smallTimes.end).toBeLessThan(bigTimes.end!);
    },
    120_000,
  );
});
