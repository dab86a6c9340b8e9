// Liveness: no job stays RUNNING for ever, and none keeps worker slots once it has ended.
// - a bundle the SDK answers with an error before it opened its data stream fails at once;
// - a LOOPBACK client killed mid-job (its SDK worker pool gone) fails its job within the
//   worker-pool timeout, saying so, and the next job runs;
// - cancelled and failed jobs release their workers while their tasks still run;
// - a bundle that makes no progress is stopped after BEAM_LAMBDA_TASK_NO_PROGRESS_TIMEOUT_MS and
//   retried as an infrastructure loss; the job ends with FnApiRunner's output.
// The pipelines are real Beam Python ones (liveness_pipelines.py, and cases.py for the comparison).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { JobServiceClient } from "apache-beam/proto/beam_job_api.grpc-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalBackend } from "../../src/backends/local-backend.js";
import { CONFIG } from "../../src/common/config.js";
import { JobServer, defaultPython } from "../../src/driver/index.js";
import { DEFAULT_INFRASTRUCTURE_RETRY } from "../../src/driver/scheduler/index.js";
import type { Job } from "../../src/driver/job.js";
import { unary } from "../driver/job-api.js";
import { runCases } from "./run-cases.js";

const SCRIPT = new URL("./liveness_pipelines.py", import.meta.url).pathname;
const WORKER_POOL_TIMEOUT_MS = 5000;
const NO_PROGRESS_TIMEOUT_MS = 5000;

interface Submission {
  child: ChildProcess;
  /** The error the Python client's job ended with, or null. */
  error: Promise<string | null>;
}

/** Runs pipeline `name` of liveness_pipelines.py against `server`. */
function submit(server: JobServer, name: string, workdir: string, flags: string[] = []): Submission {
  const child = spawn(defaultPython(), [SCRIPT, name, "--job_endpoint", server.address, "--workdir", workdir, ...flags], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const error = new Promise<string | null>((resolve, reject) =>
    child.on("exit", (code, signal) => {
      const last = out.trim().split("\n").at(-1);
      if (code === 0 && last) resolve((JSON.parse(last) as { error: string | null }).error);
      else reject(new Error(`liveness_pipelines.py ${name} exited (code ${code}, signal ${signal}):\n${err.slice(-3000)}`));
    }),
  );
  error.catch(() => undefined);
  return { child, error };
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The newest job of that name (Python names it with --job_name). */
function jobNamed(server: JobServer, name: string): Job | undefined {
  return [...server.registry.jobs.values()].filter((j) => j.pipelineOptions["beam:option:job_name:v1"] === name).at(-1);
}

const stalledMarkers = (dir: string) => readdirSync(dir).filter((f) => f.startsWith("stalled-"));
const messages = (job: Job | undefined) => job?.messages.map((m) => m.messageText).join("\n") ?? "";

/** The backend has no attempt running and no worker busy with one; then a small job runs DONE. */
async function slotsReleased(server: JobServer, workdir: string): Promise<void> {
  const backend = server.backend as LocalBackend;
  await waitFor(() => backend.load.running === 0 && backend.load.busyWorkers === 0, 20_000, "the backend to be idle");
  expect(await submit(server, "small", workdir).error).toBeNull();
  expect(jobNamed(server, "small")?.state).toBe(JobState_Enum.DONE);
}

describe("jobs that cannot go on end, and give their workers back", () => {
  let server: JobServer;
  let jobs: JobServiceClient;
  const root = mkdtempSync(join(tmpdir(), "beam-lambda-liveness-"));
  const workdir = (name: string) => mkdtempSync(join(root, `${name}-`));

  beforeAll(async () => {
    server = await JobServer.start({ port: 0, workers: 2, workerPoolTimeoutMs: WORKER_POOL_TIMEOUT_MS });
    jobs = new JobServiceClient(server.address, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    jobs?.close();
    await server?.stop();
  });

  it("a bundle the SDK fails before it opens its data stream fails the attempt as a user failure with the SDK's message", async () => {
    const error = await submit(server, "error_before_data", workdir("error-before-data")).error;

    expect(error).toContain("boom: this DoFn cannot be unpickled in the SDK harness");
    const job = jobNamed(server, "error_before_data");
    expect(job?.state).toBe(JobState_Enum.FAILED);
    // Each of the 4 attempts got the SDK's answer (none hung, none counted as a lost worker).
    const stats = server.shuffleStats.get(job!.id)!;
    expect(stats.failedAttempts).toBe(4);
    expect(stats.lostAttempts).toBe(0);
    expect(messages(job)).toContain("failed (4 of the task's failures)");
  }, 60_000);

  it("a LOOPBACK client killed mid-job fails its job within the worker-pool timeout, saying its pool is gone; the next job runs", async () => {
    const dir = workdir("loopback");
    const client = submit(server, "stall", dir, ["--environment_type=LOOPBACK"]);
    await waitFor(() => stalledMarkers(dir).length > 0, 60_000, "the LOOPBACK harness to run the stalling task");
    const job = jobNamed(server, "stall")!;
    const killedAt = Date.now();
    client.child.kill("SIGKILL");
    await client.error.catch(() => undefined);

    // Bounded: the timeout, one backoff at most before the attempt that notices, and slack for a busy machine.
    const bound = WORKER_POOL_TIMEOUT_MS + DEFAULT_INFRASTRUCTURE_RETRY.maxBackoffMs + 20_000;
    await waitFor(() => job.terminal, bound, "the job to end");
    const seconds = (Date.now() - killedAt) / 1000;
    console.log(`liveness: the killed LOOPBACK client's job ended ${JobState_Enum[job.state]} ${seconds.toFixed(1)} s after the kill`);
    expect(job.state).toBe(JobState_Enum.FAILED);
    expect(messages(job)).toMatch(/the SDK worker pool at \S+:\d+ is gone: no attempt could reach it for \d+ s/);
    expect(messages(job)).toContain("LOOPBACK");
    await slotsReleased(server, dir);
  }, 120_000);

  it("a job cancelled while its task runs releases its worker; the next job runs", async () => {
    const dir = workdir("cancel");
    const client = submit(server, "stall", dir);
    await waitFor(() => stalledMarkers(dir).length > 0, 60_000, "the stalling task to run");
    const job = jobNamed(server, "stall")!;
    expect((server.backend as LocalBackend).load.running).toBe(1);

    await unary(jobs.cancel.bind(jobs), { jobId: job.id });

    await waitFor(() => job.terminal, 20_000, "the job to end");
    expect(job.state).toBe(JobState_Enum.CANCELLED);
    expect(await client.error).toMatch(/CANCELLED/);
    await slotsReleased(server, dir);
  }, 120_000);

  it("a job that fails while another of its tasks runs releases that task's worker; the next job runs", async () => {
    const dir = workdir("fail");
    const error = await submit(server, "fail_while_another_task_stalls", dir).error;

    expect(error).toContain("boom: failing while another task stalls");
    expect(stalledMarkers(dir)).toHaveLength(1);
    expect(jobNamed(server, "fail_while_another_task_stalls")?.state).toBe(JobState_Enum.FAILED);
    await slotsReleased(server, dir);
  }, 120_000);
});

describe("a bundle that makes no progress", () => {
  const CASE = "stalls_once_forever";
  let server: JobServer;
  const saved = process.env[CONFIG.taskNoProgressTimeoutMs.name];

  beforeAll(async () => {
    // Workers read it when they start (and when one is replaced).
    process.env[CONFIG.taskNoProgressTimeoutMs.name] = String(NO_PROGRESS_TIMEOUT_MS);
    server = await JobServer.start({ port: 0, workers: 2, partitions: 2 });
  });
  afterAll(async () => {
    await server?.stop();
    if (saved === undefined) delete process.env[CONFIG.taskNoProgressTimeoutMs.name];
    else process.env[CONFIG.taskNoProgressTimeoutMs.name] = saved;
  });

  it(`${CASE}: the stalled attempt is stopped as an infrastructure loss and retried; the job ends DONE with FnApiRunner's output`, async () => {
    const workdir = mkdtempSync(join(tmpdir(), "beam-lambda-no-progress-"));
    const [reference, ours] = await Promise.all([
      runCases("fnapi", [CASE], { workdir }),
      runCases("portable", [CASE], { workdir, extra: ["--job_endpoint", server.address] }),
    ]);

    expect(reference[CASE]!.error).toBeNull();
    expect(ours[CASE]!.error).toBeNull();
    expect(ours[CASE]!.lines).toEqual(reference[CASE]!.lines);
    expect(reference[CASE]!.lines).toHaveLength(5);
    const job = jobNamed(server, CASE)!;
    expect(job.state).toBe(JobState_Enum.DONE);
    expect(messages(job)).toContain(`lost its worker (1 of the task's losses): the bundle made no progress for ${NO_PROGRESS_TIMEOUT_MS / 1000} s`);
    expect(messages(job)).toContain(CONFIG.taskNoProgressTimeoutMs.name);
    expect(server.shuffleStats.get(job.id)!.lostAttempts).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
