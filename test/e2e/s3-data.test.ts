// Data in S3 on the embedded backend, with the default environment (the project's Python harness,
// no --requirements_file): a wordcount from s3:// to s3://, a DataFrame read_csv from s3:// and
// RunInference with a scikit-learn model loaded from s3://, each compared with Beam's FnApiRunner.
// S3 is LocalStack's (npm test starts it); the harnesses find it through the standard AWS
// environment they inherit, as on Lambda they find the function role's credentials.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCALSTACK_ENV } from "../../localstack/resources.js";
import { JobServer } from "../../src/driver/index.js";
import { type CaseResult, S3_CASES, runCases } from "./run-cases.js";

const bucket = `beam-lambda-s3-data-${Date.now()}`;
const savedEnv = { ...process.env };
let server: JobServer;
/** Started before the AWS environment is set: its workers know S3 only from the pipeline's --s3_* options. */
let bareServer: JobServer;
let reference: Record<string, CaseResult>;
let ours: Record<string, CaseResult>;
let throughOptions: Record<string, CaseResult>;
/** LocalStack takes any secret; this one must never show up in job messages. */
const SECRET = "s3cr3t-given-as-a-pipeline-option";

beforeAll(async () => {
  bareServer = await JobServer.start({ port: 0, workers: 1 });
  Object.assign(process.env, LOCALSTACK_ENV, { BEAM_LAMBDA_TEST_S3: `s3://${bucket}/cases` });
  try {
    await new S3Client({ forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (e) {
    throw new Error(`LocalStack S3 is not reachable at ${LOCALSTACK_ENV.AWS_ENDPOINT_URL} (start it with localstack/start.sh; npm test does): ${(e as Error).message}`, { cause: e });
  }
  server = await JobServer.start({ port: 0, workers: 2 });
  const workdir = mkdtempSync(join(tmpdir(), "s3-data-"));
  [reference, ours] = await Promise.all([
    runCases("fnapi", S3_CASES, { workdir }),
    runCases("portable", S3_CASES, { workdir, extra: ["--job_endpoint", server.address] }),
  ]);
  const s3Options = [
    `--s3_endpoint_url=${LOCALSTACK_ENV.AWS_ENDPOINT_URL}`,
    `--s3_access_key_id=${LOCALSTACK_ENV.AWS_ACCESS_KEY_ID}`,
    `--s3_secret_access_key=${SECRET}`,
    `--s3_region_name=${LOCALSTACK_ENV.AWS_REGION}`,
  ];
  throughOptions = await runCases("portable", ["s3_wordcount"], {
    workdir: mkdtempSync(join(tmpdir(), "s3-options-")),
    extra: ["--job_endpoint", bareServer.address, ...s3Options.map((o) => `--flag=${o}`), "--flag=--job_name=s3_through_options"],
  });
});

afterAll(async () => {
  await server?.stop();
  await bareServer?.stop();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
});

describe("data in S3 on the embedded backend, default environment", () => {
  it.each(S3_CASES)("%s gives FnApiRunner's output", (name) => {
    expect(reference[name]!.error).toBeNull();
    expect(ours[name]!.error).toBeNull();
    expect(ours[name]!.lines!.length).toBeGreaterThan(0);
    expect(ours[name]!.lines).toEqual(reference[name]!.lines);
  });

  it("reaches S3 through Beam's --s3_* pipeline options where the workers have no AWS environment, and keeps the secret out of job messages", () => {
    expect(throughOptions.s3_wordcount!.error).toBeNull();
    expect(throughOptions.s3_wordcount!.lines).toEqual(reference.s3_wordcount!.lines);
    const job = [...bareServer.registry.jobs.values()].find((j) => j.pipelineOptions["beam:option:job_name:v1"] === "s3_through_options");
    expect(job).toBeDefined();
    expect(job!.messages.length).toBeGreaterThan(0);
    expect(job!.messages.map((m) => m.messageText).join("\n")).not.toContain(SECRET);
  });

  it("wrote the wordcount's output files to S3", async () => {
    const listed = await new S3Client({ forcePathStyle: true }).send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "cases/portable/wordcount/" }));
    const outputs = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => /\/out\/counts-\d{5}-of-\d{5}$/.test(k));
    expect(outputs.length).toBeGreaterThan(0);
  });
});
