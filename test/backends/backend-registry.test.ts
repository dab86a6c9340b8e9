// Backends by name: what each declares, and that none is loaded before it starts. The module
// check runs real processes with a probe preloaded that lists the AWS SDK clients they loaded.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BACKEND_NAMES, type BackendName, backendDefinition } from "../../src/backends/index.js";
import { loadAwsConfig } from "../../src/backends/aws/aws-config.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const probe = join(root, "test/backends/sdk-client-probe.mjs");
const CLOUD_CLIENTS = ["client-ecs", "client-lambda", "client-s3", "client-sqs"];

/** Runs node with the probe and `args`, stopped with one SIGTERM once it prints `ready`; answers the SDK clients it loaded. */
async function clientsLoadedBy(args: string[], ready?: RegExp): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "sdk-probe-"));
  const file = join(dir, "clients.json");
  const child = spawn(process.execPath, ["--import", probe, ...args], {
    cwd: root,
    env: { ...process.env, SDK_CLIENT_PROBE_FILE: file },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let stopping = false;
  const onOutput = (chunk: Buffer) => {
    output += chunk.toString();
    // Once only: a second SIGTERM would find no handler and kill it before the probe writes.
    if (!stopping && ready?.test(output)) {
      stopping = true;
      child.kill("SIGTERM");
    }
  };
  child.stdout.on("data", onOutput);
  child.stderr.on("data", onOutput);
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  try {
    expect(code, output).toBe(0);
    return JSON.parse(readFileSync(file, "utf8")) as string[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the backend registry", () => {
  it("when the job server starts with the default local backend, it loads none of the Lambda, SQS, ECS and S3 clients", async () => {
    const loaded = await clientsLoadedBy(["bin/beam-lambda.js", "job-server", "--port", "0", "--workers", "1"], /listening on/);
    for (const client of CLOUD_CLIENTS) expect(loaded).not.toContain(client);
  });

  it("when the aws backend, the Fargate actor host and the S3 store are imported, the probe sees their clients (it can tell)", async () => {
    const imports = ["src/backends/aws/aws-backend.ts", "src/actors/fargate-actor-host.ts", "src/store/s3-object-store.ts"].map((path) => `await import(${JSON.stringify(join(root, path))});`);
    const loaded = await clientsLoadedBy(["--import", "tsx", "--input-type=module", "-e", imports.join(" ")]);
    for (const client of CLOUD_CLIENTS) expect(loaded).toContain(client);
  });

  it.each<[BackendName, boolean]>([
    ["local", false],
    ["lambda-emulator", false],
    ["aws", true],
  ])("declares whether %s speculates by default (%s)", (name, speculates) => {
    expect(backendDefinition(name).traits.speculatesByDefault).toBe(speculates);
  });

  it("names every backend, the default first", () => {
    expect(BACKEND_NAMES).toEqual(["local", "lambda-emulator", "aws"]);
  });

  it("refuses an unknown name, naming the known ones", () => {
    expect(() => backendDefinition("nope" as BackendName)).toThrow("unknown backend 'nope' (known: local, lambda-emulator, aws)");
  });

  it("places a backend on this machine at --workers, else one attempt per core, with the store asked for", () => {
    const local = backendDefinition("local");
    expect(local.place({ workers: 3, storeUrl: "s3://b/p", configs: {} })).toEqual({ concurrency: 3, storeUrl: "s3://b/p" });
    expect(local.place({ configs: {} }).concurrency).toBeGreaterThan(0);
  });

  it("places the aws backend on its config's S3 store and concurrency, and refuses to place it without a config", () => {
    const aws = backendDefinition("aws");
    const config = loadAwsConfig({ "function-name": "f", "results-queue-url": "https://sqs/q", store: "s3://bucket/runner" }, {});
    expect(aws.place({ storeUrl: "/tmp/ignored", configs: { aws: config } })).toEqual({ concurrency: 100, storeUrl: "s3://bucket/runner" });
    expect(aws.place({ workers: 7, configs: { aws: config } }).concurrency).toBe(7);
    expect(() => aws.place({ configs: {} })).toThrow("the aws backend needs its config");
  });

  it("reads the aws backend's flags", () => {
    const aws = backendDefinition("aws");
    expect(aws.flags!.map((f) => f.name)).toContain("function-name");
    const configs = aws.configsFromFlags!({ "function-name": "f", "results-queue-url": "https://sqs/q", store: "s3://bucket/runner", "poll-wait": "1" });
    expect(configs.aws).toMatchObject({ functionName: "f", pollWaitSeconds: 1 });
  });
});
