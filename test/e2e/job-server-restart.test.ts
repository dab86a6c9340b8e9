// A job server SIGKILLed mid-job, twice, then stopped gracefully (SIGTERM): a new server started on the same store (and port)
// resumes the job from its journal (src/driver/journal/), and the job ends DONE with exactly
// FnApiRunner's output. Every task's commit is recorded once: a record written before a kill
// is never rewritten by a later run, and each run's new records carry its own attempt numbers.
// The Python client loses its server at the first kill (its error is expected): the job is
// followed through the job API of the servers that come after.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { JobServiceClient } from "apache-beam/proto/beam_job_api.grpc-client";
import { type JobMessagesResponse, JobState_Enum } from "apache-beam/proto/beam_job_api";
import { afterAll, describe, expect, it } from "vitest";
import { ATTEMPTS_PER_RUN } from "../../src/driver/scheduler/index.js";
import { unary } from "../driver/job-api.js";
import { parentOf, runCases } from "./run-cases.js";
import { until } from "./until.js";

const CASE = "chaos_million_records";
const root = new URL("../..", import.meta.url).pathname;
const storeDir = mkdtempSync(join(tmpdir(), "beam-lambda-restart-store-"));
const workdir = mkdtempSync(join(tmpdir(), "beam-lambda-restart-"));
const servers: ChildProcess[] = [];

afterAll(async () => {
  for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill("SIGKILL");
  await rm(storeDir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A job server on `port` over the shared store; resolves once it listens. The first splits
 * shuffles in 8 partitions, the later ones default to 4: a resumed job keeps its 8.
 */
async function startServer(port: number, partitions = 4): Promise<ChildProcess> {
  const args = ["job-server", "--port", String(port), "--store", storeDir, "--workers", "2", "--partitions", String(partitions), "--split-threshold", "0"];
  const child = spawn("node", [join(root, "bin/beam-lambda.js"), ...args], { stdio: ["ignore", "pipe", "inherit"] });
  servers.push(child);
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("listening on")) resolve();
    });
    child.once("exit", (code, signal) => reject(new Error(`the job server exited at start (${code ?? signal})`)));
  });
  return child;
}

/** Every process under `pid` (its worker processes and their SDK harnesses). */
function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const p = Number(entry);
    if (!Number.isInteger(p)) continue;
    try {
      const parent = parentOf(p);
      children.set(parent, [...(children.get(parent) ?? []), p]);
    } catch {
      // It ended while we looked.
    }
  }
  const out: number[] = [];
  for (let queue = [pid]; queue.length > 0; ) {
    const next = children.get(queue.shift()!) ?? [];
    out.push(...next);
    queue.push(...next);
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * SIGKILLs the server alone, as a crash would (its workers and harnesses must then go by
 * themselves), or SIGTERMs it, as ECS replacing its task would.
 */
async function kill(child: ChildProcess, signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<number[]> {
  const orphans = descendantsOf(child.pid!);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
  return orphans;
}

/** Commit records in the journal: `<stage>/task-<i>` → the record's text. */
function commitRecords(jobId: string): Map<string, string> {
  const dir = join(storeDir, "journal", jobId, "commits");
  const records = new Map<string, string>();
  let stages: string[];
  try {
    stages = readdirSync(dir);
  } catch {
    return records;
  }
  for (const stage of stages) {
    for (const file of readdirSync(join(dir, stage))) {
      if (file.includes(".tmp-")) continue;
      records.set(`${decodeURIComponent(stage)}/${file.replace(/\.json$/, "")}`, readFileSync(join(dir, stage, file), "utf8"));
    }
  }
  return records;
}

const stageOf = (task: string) => task.slice(0, task.lastIndexOf("/"));

/** The attempt number in a committed output's key (`.../attempt-<a>/...`). */
function attemptsOf(record: string): number[] {
  const { outputs } = JSON.parse(record) as { outputs: { key: string }[] };
  return outputs.map((o) => Number(/\/attempt-(\d+)\//.exec(o.key)![1]));
}

function journaledJobId(): string | undefined {
  try {
    return readdirSync(join(storeDir, "journal"))[0];
  } catch {
    return undefined;
  }
}

async function messagesOf(client: JobServiceClient, jobId: string): Promise<JobMessagesResponse[]> {
  const stream = client.getMessageStream({ jobId });
  const responses: JobMessagesResponse[] = [];
  for await (const r of stream) responses.push(r as JobMessagesResponse);
  return responses;
}

describe("a job whose job server is killed twice, then stopped", () => {
  it(
    `${CASE}: resumes on a new server over the same store and ends DONE with FnApiRunner's output`,
    async () => {
      const port = await freePort();
      const address = `127.0.0.1:${port}`;
      const reference = runCases("fnapi", [CASE], { workdir });
      let server = await startServer(port, 8);
      // The client loses its server at the first kill: its error is expected, not awaited here.
      const client = runCases("portable", [CASE], { workdir, extra: ["--job_endpoint", address] }).catch((e: unknown) => e);
      const jobId = await until("the job's journal", journaledJobId);

      // First kill: once some stage has two tasks committed (a stage of several tasks, partly done).
      const first = await until("a stage partly committed", () => {
        const records = commitRecords(jobId);
        const perStage = new Map<string, number>();
        for (const task of records.keys()) perStage.set(stageOf(task), (perStage.get(stageOf(task)) ?? 0) + 1);
        return [...perStage.values()].some((n) => n >= 2) ? records : undefined;
      });
      const orphans = await kill(server);
      const atFirstKill = commitRecords(jobId);
      server = await startServer(port);

      // Second kill: once the resumed run has committed a task of a stage nothing of which had committed before.
      const laterStage = (before: Map<string, string>) => () => {
        const stages = new Set([...before.keys()].map(stageOf));
        return [...commitRecords(jobId).keys()].some((t) => !stages.has(stageOf(t))) ? true : undefined;
      };
      await until("a commit in a later stage", laterStage(atFirstKill));
      orphans.push(...(await kill(server)));
      const atSecondKill = commitRecords(jobId);
      server = await startServer(port);

      // Third: a graceful stop in a later stage still: the job is left to the next server, not failed.
      const jobs = new JobServiceClient(address, grpc.credentials.createInsecure());
      await until("a commit in a stage later still", laterStage(atSecondKill));
      expect(JobState_Enum[(await unary(jobs.getState.bind(jobs), { jobId })).state]).toBe("RUNNING");
      orphans.push(...(await kill(server, "SIGTERM")));
      const atStop = commitRecords(jobId);
      server = await startServer(port);

      const responses = await messagesOf(jobs, jobId);
      const state = await unary(jobs.getState.bind(jobs), { jobId });
      const messages = responses.flatMap((r) => (r.response.oneofKind === "messageResponse" ? [r.response.messageResponse.messageText] : []));
      const final = commitRecords(jobId);
      // Stopped, the server has recorded the job's end (a server killed before that would resume the job, and end it at once).
      await kill(server, "SIGTERM");

      // A fourth server still answers for the finished job from its journal (afterAll stops it).
      await startServer(port);
      const later = new JobServiceClient(address, grpc.credentials.createInsecure());
      const stateLater = await unary(later.getState.bind(later), { jobId });
      jobs.close();
      later.close();

      // The killed servers' workers and harnesses left on their own (a worker exits when its IPC channel closes).
      const stillAlive = await until("the killed servers' processes to end", () => (orphans.every((p) => !alive(p)) ? [] : undefined), 30_000).catch(() =>
        orphans.filter(alive),
      );
      const ref = await reference;
      await client;
      const lines = readdirSync(join(workdir, "portable", CASE))
        .filter((f) => f === "result")
        .flatMap(() => readdirSync(join(workdir, "portable", CASE, "result")).filter((f) => f.startsWith("part")))
        .flatMap((f) => readFileSync(join(workdir, "portable", CASE, "result", f), "utf8").split("\n").filter((l) => l !== ""))
        .sort();
      console.log(
        `restart: ${first.size} commits when the first kill was decided, ${atFirstKill.size} at it, ${atSecondKill.size} at the second, ${atStop.size} at the graceful stop, ${final.size} at the end; ` +
          `${new Set([...final.keys()].map(stageOf)).size} stages; ${orphans.length} worker and harness processes of the killed servers`,
      );

      expect(orphans.length).toBeGreaterThan(0);
      expect(stillAlive).toEqual([]);
      expect(JobState_Enum[state.state]).toBe("DONE");
      expect(JobState_Enum[stateLater.state]).toBe("DONE");
      expect(ref[CASE]!.error).toBeNull();
      expect(ref[CASE]!.lines).toHaveLength(1000);
      expect(lines).toEqual(ref[CASE]!.lines);
      // The job's history crossed the restarts: messages of the first run, then two resumes.
      expect(messages.some((m) => /stage \S+ \[.*\] started with \d+ tasks/.test(m))).toBe(true);
      expect(messages.filter((m) => m.includes("the job server restarted"))).toHaveLength(3);
      // No task committed twice: every record written before a kill is the one at the end, and
      // the records each run added carry that run's attempt numbers.
      expect(atSecondKill.size).toBeGreaterThan(atFirstKill.size);
      expect(atStop.size).toBeGreaterThan(atSecondKill.size);
      expect(final.size).toBeGreaterThan(atStop.size);
      for (const before of [atFirstKill, atSecondKill, atStop]) for (const [task, record] of before) expect(final.get(task)).toBe(record);
      const runOf = (task: string) => [atFirstKill, atSecondKill, atStop, final].findIndex((records) => records.has(task));
      for (const [task, record] of final) {
        for (const a of attemptsOf(record)) expect(Math.floor(a / ATTEMPTS_PER_RUN)).toBe(runOf(task));
      }
      // The resumed runs said how many tasks they did not run again.
      const resumed = messages.filter((m) => m.includes("the job server restarted")).map((m) => Number(/its (\d+) tasks/.exec(m)![1]));
      expect(resumed).toEqual([atFirstKill.size, atSecondKill.size, atStop.size]);
    },
    240_000,
  );
});
