// Beam Python pipelines whose tasks run as invocations of the bundled Lambda function, in
// emulated execution environments (Runtime Interface Emulator + aws-lambda-ric), compared with
// Beam's FnApiRunner. scripts/setup-lambda.sh (run by npm test) installs the pieces.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LambdaEmulatorBackend } from "../../src/backends/lambda-emulator/lambda-emulator-backend.js";
import { ASYNC_PAYLOAD_LIMIT_BYTES } from "../../src/common/task-payload.js";
import { JobServer } from "../../src/driver/index.js";
import { taskReferenceKey } from "../../src/store/index.js";
import { type CaseResult, parentOf, runCases } from "../e2e/run-cases.js";
import { mergeTaskOver } from "./merge-task.js";

const NAMES = ["wordcount_files", "side_inputs", "cogroupbykey", "worker_killed_mid_task"];

type Results = Record<string, CaseResult>;

const workdir = mkdtempSync(join(tmpdir(), "lambda-emulator-"));

let server: JobServer;
let reference: Results;
let ours: Results;

beforeAll(async () => {
  server = await JobServer.start({ port: 0, workers: 2, backend: "lambda-emulator" });
  [reference, ours] = await Promise.all([
    runCases("fnapi", NAMES, { workdir }),
    runCases("portable", NAMES, { workdir, extra: ["--job_endpoint", server.address] }),
  ]);
});

afterAll(async () => {
  await server?.stop();
});

describe("the worker as a Lambda function in emulated execution environments", () => {
  it.each(NAMES)("%s gives the same output as Beam's FnApiRunner", (name) => {
    expect(reference[name]!.error).toBeNull();
    expect(ours[name]!.error).toBeNull();
    expect(ours[name]!.lines!.length).toBeGreaterThan(0);
    expect(ours[name]!.lines).toEqual(reference[name]!.lines);
  });

  it("retries a task whose runtime was killed mid-invocation, without duplicates or losses", () => {
    // The harness's parent inside the environment is the runtime (aws-lambda-ric): the case kills it once.
    expect(existsSync(join(workdir, "portable", "worker_killed_mid_task", "worker-killed"))).toBe(true);
    expect(ours.worker_killed_mid_task!.lines).toEqual(reference.worker_killed_mid_task!.lines);
  });

  it("ran every task inside an emulator's runtime, warm across invocations", () => {
    const backend = server.backend as LambdaEmulatorBackend;
    const emulators = new Set(backend.emulatorPids());
    const jobs = [...server.registry.jobs.values()];
    expect(jobs.every((j) => j.state === JobState_Enum.DONE)).toBe(true);
    // The killed runtime is gone; every other task ran in a runtime that is still up, warm.
    const pids = [...new Set(jobs.flatMap((j) => [...j.workerPids]))].filter((pid) => existsSync(`/proc/${pid}`));
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.length).toBeLessThanOrEqual(2);
    for (const pid of pids) expect(emulators.has(parentOf(pid)), `runtime ${pid} is not a child of an emulator`).toBe(true);
  });
});

describe("task payloads", () => {
  it("a task over Lambda's async payload limit travels by reference through the object store", async () => {
    // 3,000 inputs make a merge task of about 300 KB of JSON.
    const { spec, offsets } = await mergeTaskOver(server.store, { jobId: "payload-test", records: ["a", "bb", "ccc"], copies: 3000 });
    expect(Buffer.byteLength(JSON.stringify(spec))).toBeGreaterThan(ASYNC_PAYLOAD_LIMIT_BYTES);
    const result = await server.backend.invoke(spec);
    expect(result.ok, JSON.stringify(result).slice(0, 300)).toBe(true);
    if (!result.ok) return;
    expect(result.outputs[0]!.offsets.at(-1)).toBe(3000 * offsets.at(-1)!);
    expect(await server.store.exists(taskReferenceKey(spec))).toBe(true);
  });
});

describe("with the object store on LocalStack S3", () => {
  it("runs a GroupByKey and side-input pipeline in emulated Lambda environments, with shuffle data and artifacts in S3", async () => {
    const endpoint = process.env.LOCALSTACK_ENDPOINT ?? "http://127.0.0.1:4566";
    // The standard AWS environment, as a deployed function would have it; the emulated
    // environments inherit it from this process. Restored afterwards.
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: endpoint,
      AWS_S3_FORCE_PATH_STYLE: "1",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
    });
    const bucket = `beam-lambda-e2e-${Date.now()}`;
    const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (e) {
      throw new Error(`LocalStack S3 is not reachable at ${endpoint} (start it with localstack/start.sh; npm test does): ${(e as Error).message}`, { cause: e });
    }
    const s3Server = await JobServer.start({ port: 0, workers: 2, backend: "lambda-emulator", storeUrl: `s3://${bucket}/runner/?spread=4` });
    try {
      const names = ["side_inputs", "cogroupbykey"];
      const results = await runCases("portable", names, {
        workdir: mkdtempSync(join(tmpdir(), "lambda-emulator-s3-")),
        extra: ["--job_endpoint", s3Server.address, "--flag=--save_main_session"],
      });
      for (const name of names) {
        expect(results[name]!.error, name).toBeNull();
        expect(results[name]!.lines, name).toEqual(reference[name]!.lines);
      }
      // The staged main session is in the bucket (a job's scratch data is deleted when it ends).
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      const keys = (listed.Contents ?? []).map((o) => o.Key!);
      expect(keys.some((k) => k.includes("pickled_main_session")), keys.join(", ")).toBe(true);
      // So is each job's journal, with its committed tasks (a server restarted on this store would resume from it).
      expect(keys.filter((k) => /\/journal\/[^/]+\/commits\//.test(k)).length, keys.join(", ")).toBeGreaterThanOrEqual(2);
    } finally {
      await s3Server.stop();
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
