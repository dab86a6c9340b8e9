// The images `cdk deploy` ships, built here by scripts/docker.sh (npm test builds them first), run
// as they run on AWS:
// - the worker image as the Lambda function: the Lambda service emulator puts each execution
//   environment in a container of it (the Runtime Interface Emulator as entry point), and the
//   driver's `--backend aws` runs Beam Python pipelines on them against LocalStack;
// - the job-server image as the job endpoint: a container serving Beam's job API, to which a
//   pipeline is submitted from this machine.
// Every result is compared with Beam's FnApiRunner. The containers share the host's network (they
// reach LocalStack as the host does) but not its file system: data and results go through S3.
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCALSTACK_ENV, type RunnerResources, createRunnerResources } from "../../localstack/resources.js";
import type { AwsBackend } from "../../src/backends/aws/aws-backend.js";
import { LambdaServiceEmulator } from "../../src/backends/lambda-emulator/lambda-service.js";
import { freePort, portOpen } from "../../src/common/net.js";
import { JobServer, defaultPython } from "../../src/driver/index.js";
import { type CaseResult, runCases } from "../e2e/run-cases.js";

const run = promisify(execFile);
const DOCKER = process.env.DOCKER ?? "docker";
const WORKER_IMAGE = process.env.BEAM_LAMBDA_WORKER_IMAGE ?? "beam-lambda/worker:dev";
const JOB_SERVER_IMAGE = process.env.BEAM_LAMBDA_JOB_SERVER_IMAGE ?? "beam-lambda/job-server:dev";
const FUNCTION = "beam-lambda-worker";
/** Compared with FnApiRunner, through the in-process driver and through the job-server image. */
const COMPARED = ["s3_wordcount", "side_inputs"];
const KILLED = "s3_container_killed_mid_task";

const workdir = mkdtempSync(join(tmpdir(), "images-"));
const savedEnv = { ...process.env };
const jobServerContainer = `beam-lambda-job-server-test-${process.pid}`;

let resources: RunnerResources;
let lambda: LambdaServiceEmulator;
let server: JobServer;
let reference: Record<string, CaseResult>;

const docker = (...args: string[]) => run(DOCKER, args, { maxBuffer: 16 << 20 });

/** A fresh S3 prefix for one run's results: the workers write them, the client reads them back. */
let runs = 0;
const resultRoot = () => `s3://${resources.bucket}/results/${Date.now()}-${++runs}`;

async function pipFreeze(python: string[]): Promise<Map<string, string>> {
  const { stdout } = await run(python[0]!, [...python.slice(1), "-m", "pip", "freeze", "--all", "--disable-pip-version-check"], { maxBuffer: 16 << 20 });
  return new Map(stdout.split("\n").filter((l) => l.includes("==")).map((l) => l.split("==") as [string, string]).map(([n, v]) => [n.toLowerCase().replace(/_/g, "-"), v]));
}

beforeAll(async () => {
  for (const image of [WORKER_IMAGE, JOB_SERVER_IMAGE]) {
    await docker("image", "inspect", image).catch((e: Error) => {
      throw new Error(`the image ${image} is not there (build it with: bash scripts/docker.sh build; npm test does): ${e.message}`);
    });
  }
  Object.assign(process.env, LOCALSTACK_ENV);
  try {
    resources = await createRunnerResources(`beam-lambda-images-${Date.now()}`);
  } catch (e) {
    throw new Error(`LocalStack is not reachable at ${LOCALSTACK_ENV.AWS_ENDPOINT_URL} (start it with localstack/start.sh; npm test does): ${(e as Error).message}`, { cause: e });
  }
  process.env.BEAM_LAMBDA_TEST_S3 = `s3://${resources.bucket}/cases`;
  lambda = await LambdaServiceEmulator.start({
    functionName: FUNCTION,
    environments: 3,
    image: WORKER_IMAGE,
    docker: DOCKER,
    // As the CDK stack configures the function: its store; no Lambda-side retries, failures
    // recorded to the results queue. The image brings its Python (BEAM_LAMBDA_PYTHON).
    functionEnv: { BEAM_LAMBDA_STORE: resources.store },
    maximumRetryAttempts: 0,
    onFailureQueueUrl: resources.resultsQueueUrl,
  });
  process.env.AWS_ENDPOINT_URL_LAMBDA = lambda.endpoint;
  server = await JobServer.start({
    port: 0,
    backend: "aws",
    aws: { functionName: FUNCTION, resultsQueueUrl: resources.resultsQueueUrl, storeUrl: resources.store, concurrency: 3, taskTimeoutSeconds: 900, pollWaitSeconds: 1, timeoutGraceSeconds: 30 },
    // The kill test must see the stalled attempt retried, not overtaken by a speculative copy.
    speculation: false,
    // Tiny inputs, split anyway: stages have several tasks, spread over the containers.
    smallInput: { elements: 0, bytes: 0 },
  });
  reference = await runCases("fnapi", [...COMPARED, KILLED], { workdir });
}, 300_000);

afterAll(async () => {
  await docker("rm", "-f", jobServerContainer).catch(() => undefined);
  await server?.stop();
  await lambda?.close();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
});

describe("the worker image as the Lambda function", () => {
  it("has exactly the .venv's apache-beam and the same version of every package it installs", async () => {
    const [image, venv] = await Promise.all([pipFreeze([DOCKER, "run", "--rm", "--entrypoint", "/opt/beam/bin/python", WORKER_IMAGE]), pipFreeze([defaultPython()])]);
    expect(image.get("apache-beam")).toBeDefined();
    expect(image.get("apache-beam")).toBe(venv.get("apache-beam"));
    const differing = [...image].filter(([name, version]) => !["pip", "setuptools", "wheel"].includes(name) && venv.get(name) !== version);
    expect(differing).toEqual([]);
  });

  it("runs every task in a container of the image: the harness is the image's Python and Beam, the function its /var/task", async () => {
    const { where_the_harness_runs: probe } = await runCases("portable", ["where_the_harness_runs"], {
      workdir,
      extra: ["--job_endpoint", server.address, "--result_root", resultRoot()],
    });
    expect(probe!.error).toBeNull();
    const venv = await pipFreeze([defaultPython()]);
    // One distinct answer over 20 elements in several tasks: every task ran in the image.
    expect(probe!.lines).toEqual([`('/opt/beam', '${venv.get("apache-beam")}', True, '/var/task')`]);
    expect(lambda.pool.containers().length).toBe(3);
  });

  it.each(COMPARED)("%s through --backend aws gives FnApiRunner's output", async (name) => {
    const before = lambda.stats.asyncAccepted;
    const ours = await runCases("portable", [name], {
      workdir,
      extra: ["--job_endpoint", server.address, "--result_root", resultRoot(), "--flag=--save_main_session"],
    });
    expect(reference[name]!.error).toBeNull();
    expect(ours[name]!.error).toBeNull();
    expect(ours[name]!.lines!.length).toBeGreaterThan(0);
    expect(ours[name]!.lines).toEqual(reference[name]!.lines);
    expect(lambda.stats.asyncAccepted).toBeGreaterThan(before);
  });

  it("retries a task whose container was killed mid-task, and the job ends DONE with FnApiRunner's output", async () => {
    const backend = server.backend as AwsBackend;
    const failureRecords = backend.stats.lambdaFailureRecords;
    const s3 = new S3Client({ forcePathStyle: true });
    let killed: number[] = [];
    let watching = true;
    // The stalled attempt leaves a marker in S3; then the container running it is killed.
    const watcher = (async () => {
      while (watching && killed.length === 0) {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: resources.bucket, Prefix: "cases/portable/stall/" }));
        if ((listed.Contents ?? []).some((o) => o.Key!.endsWith("/stalled"))) killed = lambda.pool.killBusy();
        else await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const ours = await runCases("portable", [KILLED], {
      workdir,
      extra: ["--job_endpoint", server.address, "--result_root", resultRoot(), "--flag=--save_main_session"],
    }).finally(() => {
      watching = false;
    });
    await watcher;
    expect(killed.length).toBeGreaterThanOrEqual(1);
    expect(ours[KILLED]!.error).toBeNull();
    expect(ours[KILLED]!.lines).toEqual(reference[KILLED]!.lines);
    // The killed invocation came back as Lambda's failure record, and the driver retried it.
    expect(lambda.stats.failureRecordsSent).toBeGreaterThanOrEqual(1);
    expect(backend.stats.lambdaFailureRecords).toBeGreaterThan(failureRecords);
    const job = [...server.registry.jobs.values()].find((j) => j.pipelineOptions["beam:option:job_name:v1"] === KILLED)!;
    expect(job.state).toBe(JobState_Enum.DONE);
  }, 300_000);
});

describe("the job-server image as the job endpoint", () => {
  it("serves a pipeline submitted from this machine, its tasks in worker containers, with FnApiRunner's output", async () => {
    // Its own results queue: completions of the in-process driver's jobs are not its business.
    const own = await createRunnerResources(`beam-lambda-images-js-${Date.now()}`);
    const port = await freePort();
    const env = { ...process.env };
    const forwarded = Object.keys(env).filter((k) => k.startsWith("AWS_"));
    await run(
      DOCKER,
      [
        "run", "-d", "--rm", "--name", jobServerContainer, "--network", "host",
        ...forwarded.flatMap((k) => ["-e", k]),
        JOB_SERVER_IMAGE,
        "job-server", "--host", "127.0.0.1", "--port", String(port), "--backend", "aws",
        "--function-name", FUNCTION, "--results-queue-url", own.resultsQueueUrl, "--store", resources.store,
        "--workers", "3", "--poll-wait", "1", "--split-threshold", "0",
      ],
      { env },
    );
    const deadline = Date.now() + 60_000;
    while (!(await portOpen(port))) {
      const { stdout } = await docker("ps", "-q", "--filter", `name=${jobServerContainer}`);
      if (!stdout.trim() || Date.now() > deadline) throw new Error(`the job-server container did not listen on ${port}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const before = lambda.stats.asyncAccepted;
    const ours = await runCases("portable", COMPARED, {
      workdir,
      extra: ["--job_endpoint", `127.0.0.1:${port}`, "--result_root", resultRoot(), "--flag=--save_main_session"],
    });
    for (const name of COMPARED) {
      expect(ours[name]!.error, name).toBeNull();
      expect(ours[name]!.lines, name).toEqual(reference[name]!.lines);
    }
    expect(lambda.stats.asyncAccepted).toBeGreaterThan(before);
    const { stdout: logs, stderr } = await docker("logs", jobServerContainer);
    expect(logs + stderr).toContain("beam-lambda job server listening on");
  }, 300_000);
});
