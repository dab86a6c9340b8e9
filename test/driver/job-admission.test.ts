// Admission control through the Job API: beyond maxRunningJobs a job waits STARTING (and says
// so), beyond maxQueuedJobs Run answers RESOURCE_EXHAUSTED; finished, failed and cancelled jobs
// free their slots, and a cancelled waiting job leaves the line.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { JobServiceClient } from "apache-beam/proto/beam_job_api.grpc-client";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { Pipeline } from "apache-beam/proto/beam_runner_api";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Job } from "../../src/driver/job.js";
import type { ExecutionPlan } from "../../src/driver/planner/index.js";
import { JobAdmission } from "../../src/driver/jobservice/job-admission.js";
import { JobRegistry, addJobService } from "../../src/driver/jobservice/job-service.js";
import { startJobServerProcess, unary } from "./job-api.js";

const pipeline = Pipeline.fromBinary(readFileSync(new URL("../fixtures/windowing.pb", import.meta.url)));

let stub: grpc.Server;
let client: JobServiceClient;
let registry: JobRegistry;
/** How the test ends each running job: with undefined (DONE) or an error (FAILED). */
const finishers = new Map<string, (error?: Error) => void>();
const executed: string[] = [];

beforeEach(async () => {
  stub = new grpc.Server();
  registry = new JobRegistry();
  addJobService(stub, registry, {
    plan: (): ExecutionPlan => ({ stages: [], environments: {} }),
    // As the job server's: RUNNING, then until the test ends it or it is cancelled.
    execute: (job: Job) => {
      executed.push(job.name);
      job.transition(JobState_Enum.RUNNING);
      return new Promise<void>((resolve, reject) => {
        finishers.set(job.name, (error) => (error ? reject(error) : resolve()));
        job.abort.signal.addEventListener("abort", () => reject(job.abort.signal.reason as Error));
      });
    },
    artifactEndpoint: () => "",
    admission: new JobAdmission(1, 1),
  });
  const port = await new Promise<number>((res, rej) => stub.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  client = new JobServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  executed.length = 0;
  finishers.clear();
});

afterEach(() => {
  client.close();
  stub.forceShutdown();
});

async function prepare(name: string): Promise<string> {
  return (await unary(client.prepare.bind(client), { pipeline, jobName: name })).preparationId;
}

const run = (id: string) => unary(client.run.bind(client), { preparationId: id, retrievalToken: "" });
const stateOf = (id: string) => registry.get(id).state;
const settled = () => new Promise((resolve) => setTimeout(resolve, 20));

describe("admission control (maxRunningJobs 1, maxQueuedJobs 1)", () => {
  it("queues the second job, refuses the third, and runs them in turn as slots free", async () => {
    const [a, b, c] = [await prepare("a"), await prepare("b"), await prepare("c")];
    await run(a);
    await run(b);
    const refused = (await run(c).catch((e: unknown) => e)) as grpc.ServiceError;
    expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(refused.details).toContain("1 jobs are running and 1 are waiting to run, the most this job server takes (maxRunningJobs 1, maxQueuedJobs 1)");
    await settled();
    expect(stateOf(a)).toBe(JobState_Enum.RUNNING);
    expect(stateOf(b)).toBe(JobState_Enum.STARTING);
    expect(registry.get(b).messages.map((m) => m.messageText)).toContainEqual(expect.stringContaining("waits to run: 1 jobs are running"));
    // Refused, the third job is still prepared: it may be run again later.
    expect(stateOf(c)).toBe(JobState_Enum.STOPPED);

    finishers.get("a")!();
    await settled();
    expect(stateOf(a)).toBe(JobState_Enum.DONE);
    expect(stateOf(b)).toBe(JobState_Enum.RUNNING);
    await run(c);
    // A failed job frees its slot too.
    finishers.get("b")!(new Error("a DoFn raised"));
    await settled();
    expect(stateOf(b)).toBe(JobState_Enum.FAILED);
    expect(stateOf(c)).toBe(JobState_Enum.RUNNING);
    expect(executed).toEqual(["a", "b", "c"]);
  });

  it("a waiting job that is cancelled leaves the line without running; a cancelled running job frees its slot", async () => {
    const [a, b, c] = [await prepare("a"), await prepare("b"), await prepare("c")];
    await run(a);
    await run(b);
    await unary(client.cancel.bind(client), { jobId: b });
    await settled();
    expect(stateOf(b)).toBe(JobState_Enum.CANCELLED);

    // The line is empty again: c may wait in it.
    await run(c);
    await unary(client.cancel.bind(client), { jobId: a });
    await settled();
    expect(stateOf(a)).toBe(JobState_Enum.CANCELLED);
    expect(stateOf(c)).toBe(JobState_Enum.RUNNING);
    expect(executed).toEqual(["a", "c"]);
  });
});

describe("beam-lambda job-server", () => {
  const bin = new URL("../../bin/beam-lambda.js", import.meta.url).pathname;

  it("refuses --max-running-jobs under 1 before it starts anything", () => {
    const result = spawnSync("node", [bin, "job-server", "--port", "0", "--workers", "1", "--max-running-jobs", "0"], { encoding: "utf8", timeout: 60_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("maxRunningJobs must be at least 1, not 0");
  });

  it("takes --max-running-jobs and --max-queued-jobs: with 1 and 0, a second Run while the first job runs is refused", async () => {
    const { child, address } = await startJobServerProcess(["--workers", "1", "--max-running-jobs", "1", "--max-queued-jobs", "0"]);
    try {
      const cli = new JobServiceClient(address, grpc.credentials.createInsecure());
      const prepared = [];
      for (const name of ["first", "second"]) prepared.push((await unary(cli.prepare.bind(cli), { pipeline, jobName: name })).preparationId);
      await unary(cli.run.bind(cli), { preparationId: prepared[0]!, retrievalToken: "" });
      // The first job is still starting its harness (a second at least) when the second is run.
      const refused = (await unary(cli.run.bind(cli), { preparationId: prepared[1]!, retrievalToken: "" }).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(refused.details).toContain("(maxRunningJobs 1, maxQueuedJobs 0)");
      cli.close();
    } finally {
      const exited = new Promise((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  }, 60_000);
});
