// Beam's Python SDK against a job server that requires tokens: the stock PortableRunner cannot
// send one, examples/token_portable_runner.py can (job endpoint and artifact staging alike).
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServer, defaultPython } from "../../src/driver/index.js";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;
const TOKEN = "python-client-token-0123456789";
let server: JobServer;
const dir = mkdtempSync(join(tmpdir(), "python-token-client-"));

beforeAll(async () => {
  server = await JobServer.start({ port: 0, workers: 1, authTokens: [TOKEN] });
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function script(runner: string, jobName: string): string {
  return [
    "import apache_beam as beam",
    "from apache_beam.options.pipeline_options import PipelineOptions",
    "from token_portable_runner import TokenPortableRunner",
    `options = PipelineOptions(['--job_endpoint=${server.address}', '--job_server_timeout=20', '--job_name=${jobName}'])`,
    `p = beam.Pipeline(runner=${runner}, options=options)`,
    "_ = p | beam.Create(['a', 'b', 'a']) | beam.combiners.Count.PerElement()",
    "print('final state', p.run().wait_until_finish())",
  ].join("\n");
}

const python = (code: string, env: Record<string, string> = {}) =>
  run(defaultPython(), ["-c", code], { env: { PATH: process.env.PATH, PYTHONPATH: join(root, "examples"), ...env }, cwd: dir });

describe("a Python client of a job server with tokens", () => {
  it("through TokenPortableRunner, prepares, stages and runs its job to the end", async () => {
    const { stdout } = await python(script("TokenPortableRunner()", "with_token"), { BEAM_LAMBDA_TOKEN: TOKEN });

    expect(stdout).toContain("final state DONE");
    const job = [...server.registry.jobs.values()].find((j) => j.pipelineOptions["beam:option:job_name:v1"] === "with_token");
    expect(job?.state).toBe(JobState_Enum.DONE);
  }, 120_000);

  it("through Beam's own PortableRunner, is refused as unauthenticated", async () => {
    const failed = python(script("'PortableRunner'", "without_token"));

    await expect(failed).rejects.toMatchObject({ stderr: expect.stringContaining("UNAUTHENTICATED") as unknown });
    expect([...server.registry.jobs.values()].some((j) => j.pipelineOptions["beam:option:job_name:v1"] === "without_token")).toBe(false);
  }, 60_000);
});
