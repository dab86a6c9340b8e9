// What user code sees of the job server's environment: a DoFn run through the local backend
// (worker process, then Python SDK harness) lists the variables it was given.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServer, defaultPython } from "../../src/driver/index.js";

const run = promisify(execFile);
const SERVER_ENV = {
  BEAM_LAMBDA_AUTH_TOKEN_FILE: "/etc/beam-lambda/tokens",
  SOME_SERVICE_TOKEN: "server-only-token",
  AWS_ACCESS_KEY_ID: "AKIDUSERCODE",
  AWS_SECRET_ACCESS_KEY: "aws-secret-for-s3-io",
};
let server: JobServer;
const saved: Record<string, string | undefined> = {};
const dir = mkdtempSync(join(tmpdir(), "user-code-env-"));

beforeAll(async () => {
  for (const [name, value] of Object.entries(SERVER_ENV)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  server = await JobServer.start({ port: 0, workers: 1 });
});

afterAll(async () => {
  await server?.stop();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("the environment of user code on the local backend", () => {
  it("has no job server secrets, and has the AWS credentials Beam's S3 IO uses", async () => {
    const out = join(dir, "env.json");
    const script = [
      "import apache_beam as beam",
      "from apache_beam.options.pipeline_options import PipelineOptions",
      `p = beam.Pipeline(options=PipelineOptions(['--runner=PortableRunner', '--job_endpoint=${server.address}', '--job_name=user_code_env']))`,
      `_ = p | beam.Create([1]) | beam.Map(lambda _: open(${JSON.stringify(out)}, 'w').write(__import__('json').dumps(dict(__import__('os').environ))))`,
      "print('final state', p.run().wait_until_finish())",
    ].join("\n");

    const { stdout } = await run(defaultPython(), ["-c", script], { env: { PATH: process.env.PATH } });

    expect(stdout).toContain("final state DONE");
    const seen = JSON.parse(readFileSync(out, "utf8")) as Record<string, string>;
    expect(seen).toHaveProperty("WORKER_ID");
    expect(seen).not.toHaveProperty("BEAM_LAMBDA_AUTH_TOKEN_FILE");
    expect(seen).not.toHaveProperty("SOME_SERVICE_TOKEN");
    expect(seen).toMatchObject({ AWS_ACCESS_KEY_ID: "AKIDUSERCODE", AWS_SECRET_ACCESS_KEY: "aws-secret-for-s3-io" });
  }, 120_000);
});
