// `--backend aws` against LocalStack (S3 store, SQS results queue with its DLQ) and the Lambda
// Invoke API served by lambda-service.ts in front of emulated execution environments (Runtime
// Interface Emulator + aws-lambda-ric running the bundled worker). Beam Python pipelines run
// through it and are compared with Beam's FnApiRunner. npm test starts LocalStack and
// scripts/setup-lambda.sh builds the emulator and the bundle.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand, SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCALSTACK_ENV, type RunnerResources, createRunnerResources } from "../../localstack/resources.js";
import { AwsBackend } from "../../src/backends/aws/aws-backend.js";
import { loadAwsConfig } from "../../src/backends/aws/aws-config.js";
import { LambdaServiceEmulator } from "../../src/backends/lambda-emulator/lambda-service.js";
import { parseCompletion } from "../../src/backends/aws/results-queue-message.js";
import { ASYNC_PAYLOAD_LIMIT_BYTES } from "../../src/common/task-payload.js";
import type { MergeTaskSpec } from "../../src/common/task-spec.js";
import { JobServer, defaultPython } from "../../src/driver/index.js";
import { openObjectStore, taskReferenceKey } from "../../src/store/index.js";
import { type CaseResult, S3_CASES, parentOf, runCases } from "../e2e/run-cases.js";
import { mergeTaskOver } from "./merge-task.js";

const run = promisify(execFile);
// The straggler goes last: its stalled first attempt keeps one environment busy after its job ends.
// The S3 cases read and write s3:// data with the default environment: the emulated functions'
// harnesses reach LocalStack through the AWS environment they inherit, as a deployed function's
// reach S3 with its role's credentials.
const NAMES = ["side_inputs", "cogroupbykey", "wordcount_files", ...S3_CASES, "environment_killed_mid_task", "worker_killed_mid_task", "straggler"];

type Results = Record<string, CaseResult>;

const workdir = mkdtempSync(join(tmpdir(), "aws-backend-"));
const savedEnv = { ...process.env };

let resources: RunnerResources;
let lambda: LambdaServiceEmulator;
let server: JobServer;
let backend: AwsBackend;
let reference: Results;
let ours: Results;
/** Evidence gathered while jobs ran. */
const seen = { resent: "", shuffleKeysInS3: [] as string[] };

beforeAll(async () => {
  // The standard AWS environment pointed at LocalStack, as the driver and (inherited) the
  // emulated functions read it; restored in afterAll.
  Object.assign(process.env, LOCALSTACK_ENV);
  try {
    // Short visibility and two receives, so that the dead-letter test need not wait long.
    resources = await createRunnerResources(`beam-lambda-aws-${Date.now()}`, { maxReceiveCount: 2, visibilityTimeoutSeconds: 2 });
  } catch (e) {
    throw new Error(`LocalStack is not reachable at ${LOCALSTACK_ENV.AWS_ENDPOINT_URL} (start it with localstack/start.sh; npm test does): ${(e as Error).message}`, { cause: e });
  }
  process.env.BEAM_LAMBDA_TEST_S3 = `s3://${resources.bucket}/cases`;
  // Three environments: with speculation on, early (pipelined) tasks leave two free, one for the
  // straggler and one for its copy.
  lambda = await LambdaServiceEmulator.start({
    functionName: "beam-lambda-worker",
    environments: 3,
    functionEnv: { BEAM_LAMBDA_STORE: resources.store, BEAM_LAMBDA_PYTHON: defaultPython() },
    // As the CDK stack configures the function: no Lambda-side retries (the driver retries),
    // failures recorded to the results queue.
    maximumRetryAttempts: 0,
    onFailureQueueUrl: resources.resultsQueueUrl,
  });
  process.env.AWS_ENDPOINT_URL_LAMBDA = lambda.endpoint;
  // The config as a user writes it: a file, with the function, the queue and the store.
  const configFile = join(workdir, "aws.json");
  writeFileSync(configFile, JSON.stringify({ functionName: "beam-lambda-worker", resultsQueueUrl: resources.resultsQueueUrl, store: resources.store }));
  server = await JobServer.start({
    port: 0,
    workers: 3,
    backend: "aws",
    aws: loadAwsConfig({ "aws-config": configFile, "poll-wait": "1" }),
    speculation: { quantile: 0.5, multiplier: 2, minRuntimeMs: 3000 },
    // The cases' inputs are tiny: split them anyway, so a stage has several tasks for one of
    // them to straggle behind the others and be retried or copied.
    smallInput: { elements: 0, bytes: 0 },
  });
  backend = server.backend as AwsBackend;

  // At-least-once delivery, made to happen: the first successful completion is sent to the queue
  // a second time. While it is at it, the tap checks that shuffle outputs are in the bucket.
  const sqs = new SQSClient({});
  const s3 = new S3Client({ forcePathStyle: true });
  let tapped = false;
  backend.onMessage = (body) => {
    const parsed = parseCompletion(body);
    if (tapped || !parsed || !("result" in parsed) || !parsed.result.ok || parsed.result.outputs.length === 0) return;
    tapped = true;
    seen.resent = parsed.invocationId;
    void sqs.send(new SendMessageCommand({ QueueUrl: resources.resultsQueueUrl, MessageBody: body }));
    void s3.send(new ListObjectsV2Command({ Bucket: resources.bucket })).then((listed) => {
      seen.shuffleKeysInS3 = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => k.includes("/stages/"));
    });
  };
  [reference, ours] = await Promise.all([
    runCases("fnapi", NAMES, { workdir }),
    runCases("portable", NAMES, { workdir, extra: ["--job_endpoint", server.address, "--flag=--save_main_session"] }),
  ]);
});

afterAll(async () => {
  await server?.stop();
  await lambda?.close();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
});

describe("beam-lambda job-server --backend aws, against LocalStack and emulated Lambda environments", () => {
  it.each(NAMES)("%s gives the same output as Beam's FnApiRunner", (name) => {
    expect(reference[name]!.error).toBeNull();
    expect(ours[name]!.error).toBeNull();
    expect(ours[name]!.lines!.length).toBeGreaterThan(0);
    expect(ours[name]!.lines).toEqual(reference[name]!.lines);
  });

  it("ran tasks as asynchronous invocations in the emulated environments, with completions through SQS", () => {
    const jobs = [...server.registry.jobs.values()];
    expect(jobs.length).toBeGreaterThanOrEqual(NAMES.length);
    expect(jobs.every((j) => j.state === JobState_Enum.DONE)).toBe(true);
    expect(lambda.stats.asyncAccepted).toBe(backend.stats.invocations);
    expect(backend.stats.completions).toBeGreaterThanOrEqual(jobs.length * 2);
    // Runtimes still up are children of the current emulators (killed ones were replaced).
    const emulators = new Set(lambda.pool.emulatorPids());
    const pids = [...new Set(jobs.flatMap((j) => [...j.workerPids]))].filter((pid) => pid > 0 && existsSync(`/proc/${pid}`));
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) expect(emulators.has(parentOf(pid)), `runtime ${pid} is not a child of an emulator`).toBe(true);
  });

  it("kept shuffle data and staged artifacts in the S3 bucket", async () => {
    expect(seen.shuffleKeysInS3.length).toBeGreaterThan(0);
    const s3 = new S3Client({ forcePathStyle: true });
    const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: resources.bucket }))).Contents ?? []).map((o) => o.Key!);
    // --save_main_session staged the pickled main session; the worker fetched it from S3 (the
    // environments have no other store) to run the cases' functions.
    expect(keys.some((k) => k.includes("pickled_main_session")), keys.join(", ")).toBe(true);
  });

  it("ignored a completion delivered twice", () => {
    expect(seen.resent).not.toBe("");
    expect(backend.stats.duplicateCompletions).toBeGreaterThanOrEqual(1);
  });

  it("retried a task whose execution environment was killed mid-task, told by Lambda's failure record", () => {
    expect(existsSync(join(workdir, "portable", "environment_killed_mid_task", "environment-killed"))).toBe(true);
    expect(lambda.stats.failureRecordsSent).toBeGreaterThanOrEqual(1);
    expect(backend.stats.lambdaFailureRecords).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(workdir, "portable", "worker_killed_mid_task", "worker-killed"))).toBe(true);
  });

  it("launched a speculative copy of a straggler and finished without waiting for it", () => {
    expect(existsSync(join(workdir, "portable", "straggler", "straggler-started"))).toBe(true);
    const job = [...server.registry.jobs.values()].find((j) => j.pipelineOptions["beam:option:job_name:v1"] === "straggler")!;
    expect(job.state).toBe(JobState_Enum.DONE);
    expect(server.shuffleStats.get(job.id)!.speculativeTasks).toBeGreaterThanOrEqual(1);
    // The stalled attempt ends (if it ever does) after the job was done: the copy's output was committed.
    const finished = join(workdir, "portable", "straggler", "straggler-finished");
    if (existsSync(finished)) expect(statSync(finished).mtimeMs).toBeGreaterThan(job.stateTimestamp.getTime());
  });

  it("installs a pipeline's --requirements_file in the worker from the packages staged in S3", async () => {
    const requirement = "inflection==0.5.1";
    // The project's virtualenv does not have it: only the staged requirements can provide it.
    await expect(run(defaultPython(), ["-c", "import inflection"])).rejects.toThrow(/No module named 'inflection'/);
    const dir = mkdtempSync(join(tmpdir(), "aws-requirements-"));
    const requirements = join(dir, "requirements.txt");
    writeFileSync(requirements, `${requirement}\n`);
    // The reference runs in-process: give it the package on PYTHONPATH.
    const site = join(dir, "site");
    await run(defaultPython(), ["-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", site, requirement]);
    const [{ staged_requirements: expected }, { staged_requirements: actual }] = await Promise.all([
      runCases("fnapi", ["staged_requirements"], { workdir: dir, env: { ...process.env, PYTHONPATH: site } }),
      runCases("portable", ["staged_requirements"], { workdir: dir, extra: ["--job_endpoint", server.address, `--flag=--requirements_file=${requirements}`] }),
    ]);
    expect(expected!.error).toBeNull();
    expect(actual!.error).toBeNull();
    expect(actual!.lines).toEqual(expected!.lines);
    const keys = ((await new S3Client({ forcePathStyle: true }).send(new ListObjectsV2Command({ Bucket: resources.bucket }))).Contents ?? []).map((o) => o.Key!);
    expect(keys.some((k) => k.endsWith("/requirements.txt"))).toBe(true);
    expect(keys.some((k) => /inflection-0\.5\.1.*\.(whl|tar\.gz)$/.test(k)), keys.join(", ")).toBe(true);
  });

  it("a task over Lambda's async payload limit travels by reference through S3", async () => {
    // 3,000 inputs make a merge task of about 300 KB of JSON: the Invoke API refuses it inline.
    const { spec, offsets } = await mergeTaskOver(server.store, { jobId: "payload-test", records: ["a", "bb", "ccc"], copies: 3000 });
    expect(Buffer.byteLength(JSON.stringify(spec))).toBeGreaterThan(ASYNC_PAYLOAD_LIMIT_BYTES);
    const before = backend.stats.payloadsByReference;
    const result = await backend.invoke(spec);
    expect(result.ok, JSON.stringify(result).slice(0, 300)).toBe(true);
    if (!result.ok) return;
    expect(result.outputs[0]!.offsets.at(-1)).toBe(3000 * offsets.at(-1)!);
    expect(backend.stats.payloadsByReference).toBe(before + 1);
    expect(await server.store.exists(taskReferenceKey(spec))).toBe(true);
  });

  it("moves a message it cannot read to the dead-letter queue, through the queue's redrive policy", async () => {
    const sqs = new SQSClient({});
    await sqs.send(new SendMessageCommand({ QueueUrl: resources.resultsQueueUrl, MessageBody: "not a completion" }));
    const before = backend.stats.unreadableMessages;
    let dead: string[] = [];
    const deadline = Date.now() + 60_000;
    while (dead.length === 0 && Date.now() < deadline) {
      const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: resources.deadLetterQueueUrl, WaitTimeSeconds: 1 }));
      dead = (received.Messages ?? []).map((m) => m.Body!);
    }
    expect(dead).toEqual(["not a completion"]);
    // The driver saw it on each receive (maxReceiveCount 2) and never deleted it.
    expect(backend.stats.unreadableMessages - before).toBe(2);
  });
});

describe("an attempt that never reports", () => {
  it("times out as a retryable failure, and the retry runs", async () => {
    // Its own queue and a function with no on-failure destination: when its environment dies,
    // nothing reports, and only the driver's timeout notices.
    const own = await createRunnerResources(`beam-lambda-timeout-${Date.now()}`);
    const silent = await LambdaServiceEmulator.start({
      functionName: "silent-worker",
      environments: 1,
      functionEnv: { BEAM_LAMBDA_STORE: own.store, BEAM_LAMBDA_PYTHON: defaultPython() },
      maximumRetryAttempts: 0,
    });
    const saved = process.env.AWS_ENDPOINT_URL_LAMBDA;
    process.env.AWS_ENDPOINT_URL_LAMBDA = silent.endpoint;
    const timing = await AwsBackend.start(
      loadAwsConfig({ "function-name": "silent-worker", "results-queue-url": own.resultsQueueUrl, store: own.store, "task-timeout": "5", "timeout-grace": "0", "poll-wait": "1" }),
    );
    try {
      const { spec: task } = await mergeTaskOver(openObjectStore(own.store), { jobId: "timeout-test", records: ["a", "bb"], copies: 1 });
      const spec = (attempt: number): MergeTaskSpec => ({ ...task, attempt, outputKey: `jobs/timeout-test/merged-${attempt}` });
      const first = timing.invoke(spec(0));
      // Kill the environment as soon as the invocation is in it (a cold start takes seconds).
      while (silent.pool.busy === 0) await new Promise((r) => setTimeout(r, 20));
      expect(silent.pool.killBusy().length).toBe(1);
      const failed = await first;
      expect(failed.ok).toBe(false);
      if (failed.ok) return;
      expect(failed.retryable).toBe(true);
      expect(failed.error).toMatch(/no completion .* within 5 s/);
      expect(timing.stats.timeouts).toBe(1);
      expect(silent.stats.asyncFailed).toBe(1);
      const retried = await timing.invoke(spec(1));
      expect(retried.ok, JSON.stringify(retried)).toBe(true);
    } finally {
      await timing.close();
      await silent.close();
      process.env.AWS_ENDPOINT_URL_LAMBDA = saved;
    }
  });
});
