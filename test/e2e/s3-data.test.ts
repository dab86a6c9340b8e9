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
let reference: Record<string, CaseResult>;
let ours: Record<string, CaseResult>;

beforeAll(async () => {
  Object.assign(process.env, LOCALSTACK_ENV, { BEAM_LAMBDA_TEST_S3: `s3://${bucket}/cases` });
  try {
    await new S3Client({ forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (e) {
    throw new Error(`LocalStack S3 is not reachable at ${LOCALSTACK_ENV.AWS_ENDPOINT_URL} (start it with localstack/start.sh; npm test does): ${(e as Error).message}`);
  }
  server = await JobServer.start({ port: 0, workers: 2 });
  const workdir = mkdtempSync(join(tmpdir(), "s3-data-"));
  [reference, ours] = await Promise.all([
    runCases("fnapi", S3_CASES, { workdir }),
    runCases("portable", S3_CASES, { workdir, extra: ["--job_endpoint", server.address] }),
  ]);
});

afterAll(async () => {
  await server?.stop();
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

  it("wrote the wordcount's output files to S3", async () => {
    const listed = await new S3Client({ forcePathStyle: true }).send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "cases/portable/wordcount/" }));
    const outputs = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => /\/out\/counts-\d{5}-of-\d{5}$/.test(k));
    expect(outputs.length).toBeGreaterThan(0);
  });
});
