// The Job and Artifact services through a real gRPC client, and the job-server command.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ArtifactStagingServiceClient } from "apache-beam/proto/beam_artifact_api.grpc-client";
import type { ArtifactRequestWrapper, ArtifactResponseWrapper } from "apache-beam/proto/beam_artifact_api";
import { JobServiceClient } from "apache-beam/proto/beam_job_api.grpc-client";
import { JobState_Enum, type PrepareJobResponse } from "apache-beam/proto/beam_job_api";
import { Pipeline } from "apache-beam/proto/beam_runner_api";
import { Struct } from "apache-beam/proto/google/protobuf/struct";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACTED } from "../../src/common/redact.js";
import { pipelineWithArtifact, startJobServerProcess, unary } from "./job-api.js";
import { JobServer } from "../../src/driver/index.js";
import { JobRegistry, addJobService, endpointFor } from "../../src/driver/jobservice/job-service.js";

const root = new URL("../..", import.meta.url).pathname;
let server: JobServer;
let jobs: JobServiceClient;


/** Client options adding `authorization: Bearer <token>` to every call. */
function bearer(token: string): grpc.ClientOptions {
  const interceptor: grpc.Interceptor = (options, next) =>
    new grpc.InterceptingCall(next(options), {
      start(metadata, listener, start) {
        metadata.set("authorization", `Bearer ${token}`);
        start(metadata, listener);
      },
    });
  return { interceptors: [interceptor] };
}

/** Plays the SDK's side of the reverse-retrieval protocol, answering every request with `content`. */
function stageArtifacts(
  prepared: PrepareJobResponse,
  content: string,
  { token = prepared.stagingSessionToken, clientOptions = {} }: { token?: string; clientOptions?: grpc.ClientOptions } = {},
): Promise<void> {
  const client = new ArtifactStagingServiceClient(prepared.artifactStagingEndpoint!.url, grpc.credentials.createInsecure(), clientOptions);
  const call = client.reverseArtifactRetrievalService();
  return new Promise<void>((resolve, reject) => {
    call.on("data", (req: ArtifactRequestWrapper) => {
      if (req.request.oneofKind === "getArtifact") {
        const chunk: ArtifactResponseWrapper = {
          stagingToken: "",
          isLast: false,
          response: { oneofKind: "getArtifactResponse", getArtifactResponse: { data: Buffer.from(content) } },
        };
        call.write(chunk);
        call.write({ ...chunk, isLast: true, response: { oneofKind: "getArtifactResponse", getArtifactResponse: { data: new Uint8Array() } } });
      }
    });
    call.on("error", reject);
    call.on("end", () => resolve());
    call.write({ stagingToken: token, isLast: false, response: { oneofKind: undefined } });
  }).finally(() => client.close());
}

beforeAll(async () => {
  server = await JobServer.start({ port: 0, workers: 1 });
  jobs = new JobServiceClient(server.address, grpc.credentials.createInsecure());
});

afterAll(async () => {
  jobs?.close();
  await server?.stop();
});

describe("the job service", () => {
  it("answers NOT_FOUND for an unknown job, which Beam's readiness probe relies on", async () => {
    await expect(unary(jobs.getState.bind(jobs), { jobId: "[fake]" })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it("uses a fresh job id per Prepare even when every job is named 'job'", async () => {
    const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb")));
    const a = await unary(jobs.prepare.bind(jobs), { pipeline, jobName: "job" });
    const b = await unary(jobs.prepare.bind(jobs), { pipeline, jobName: "job" });
    expect(a.preparationId).not.toBe(b.preparationId);
    const listed = await unary(jobs.getJobs.bind(jobs), {});
    expect(listed.jobInfo.map((j) => j.jobId)).toEqual(expect.arrayContaining([a.preparationId, b.preparationId]));
    const state = await unary(jobs.getState.bind(jobs), { jobId: a.preparationId });
    expect(state.state).toBe(JobState_Enum.STOPPED);
    const got = await unary(jobs.getPipeline.bind(jobs), { jobId: a.preparationId });
    expect(Object.keys(got.pipeline!.components!.transforms)).toEqual(Object.keys(pipeline.components!.transforms));
  });

  it("names a job after the --job_name option Python sends, since Python prepares every job as 'job'", async () => {
    const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb")));
    const pipelineOptions = Struct.fromJson({ "beam:option:job_name:v1": "nightly report" });
    const named = await unary(jobs.prepare.bind(jobs), { pipeline, jobName: "job", pipelineOptions });
    const explicit = await unary(jobs.prepare.bind(jobs), { pipeline, jobName: "from-request", pipelineOptions });
    expect(named.preparationId).toMatch(/^nightly_report-/);
    const names = new Map((await unary(jobs.getJobs.bind(jobs), {})).jobInfo.map((j) => [j.jobId, j.jobName]));
    expect(names.get(named.preparationId)).toBe("nightly report");
    expect(names.get(explicit.preparationId)).toBe("from-request");
  });

  it("refuses to stream a job's state or messages before Run, so Python watches it after Run, without a deadline", async () => {
    const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb")));
    const prepared = await unary(jobs.prepare.bind(jobs), { pipeline, jobName: "job" });
    for (const open of [jobs.getStateStream.bind(jobs), jobs.getMessageStream.bind(jobs)]) {
      const stream = open({ jobId: prepared.preparationId });
      const error = await new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
      expect(error.code).toBe(grpc.status.FAILED_PRECONDITION);
    }
  });

  it("cancels a prepared job that never ran", async () => {
    const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb")));
    const prepared = await unary(jobs.prepare.bind(jobs), { pipeline, jobName: "job" });
    const cancelled = await unary(jobs.cancel.bind(jobs), { jobId: prepared.preparationId });
    expect(cancelled.state).toBe(JobState_Enum.CANCELLED);
  });

  it("answers a Prepare without a pipeline, or with a malformed one, with INVALID_ARGUMENT naming the problem", async () => {
    await expect(unary(jobs.prepare.bind(jobs), { jobName: "job" })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: "the request carries no pipeline",
    });
    await expect(unary(jobs.prepare.bind(jobs), { pipeline: Pipeline.create(), jobName: "job" })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining("the pipeline has no components") as unknown,
    });
    const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb")));
    const [id, t] = Object.entries(pipeline.components!.transforms).find(([, t]) => t.subtransforms.length > 0)!;
    t.subtransforms.push(id);
    await expect(unary(jobs.prepare.bind(jobs), { pipeline, jobName: "job" })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining(`transform '${id}' is its own ancestor`) as unknown,
    });
  });

  it("refuses to run a job twice with FAILED_PRECONDITION", async () => {
    const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb")));
    const prepared = await unary(jobs.prepare.bind(jobs), { pipeline, jobName: "job" });
    await unary(jobs.cancel.bind(jobs), { jobId: prepared.preparationId });
    await expect(unary(jobs.run.bind(jobs), { preparationId: prepared.preparationId, retrievalToken: "" })).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringContaining("is CANCELLED; only a prepared job can be run, once") as unknown,
    });
  });

  it("stages artifacts under the job's own folder", async () => {
    const prepared = await unary(jobs.prepare.bind(jobs), { pipeline: pipelineWithArtifact("pickled_main_session"), jobName: "job" });
    await stageArtifacts(prepared, "session bytes");
    const stored = await server.store.get(`artifacts/${prepared.preparationId}/pickled_main_session`);
    expect(stored.toString()).toBe("session bytes");
  });

  it("answers a staging stream with a token it never issued with PERMISSION_DENIED, and an undecodable message with INVALID_ARGUMENT", async () => {
    const client = new ArtifactStagingServiceClient(server.address, grpc.credentials.createInsecure());
    try {
      const unknown = client.reverseArtifactRetrievalService();
      unknown.write({ stagingToken: "no-such-job", isLast: false, response: { oneofKind: undefined } });
      // Tokens are unguessable and bound to their job: an unknown one is refused, not looked up.
      await expect(new Promise((_, reject) => unknown.on("error", reject))).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      const raw = new grpc.Client(server.address, grpc.credentials.createInsecure());
      const call = raw.makeBidiStreamRequest(
        "/org.apache.beam.model.job_management.v1.ArtifactStagingService/ReverseArtifactRetrievalService",
        (b: Buffer) => b,
        (b: Buffer) => b,
      );
      call.on("data", () => undefined);
      call.write(Buffer.from([0x0f, 0x01]));
      await expect(new Promise((_, reject) => call.on("error", reject))).rejects.toMatchObject({
        code: grpc.status.INVALID_ARGUMENT,
        details: expect.stringContaining("the ReverseArtifactRetrievalService request is not a valid message") as unknown,
      });
      raw.close();
    } finally {
      client.close();
    }
  });

  it("refuses an artifact name that would escape the job's folder, and writes nothing", async () => {
    const prepared = await unary(jobs.prepare.bind(jobs), { pipeline: pipelineWithArtifact("../../escaped"), jobName: "job" });
    await expect(stageArtifacts(prepared, "evil")).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining("artifact name '../../escaped' is not a plain file name") as unknown,
    });
    expect(await server.store.list("escaped")).toEqual([]);
    expect(await server.store.list(`artifacts/${prepared.preparationId}/`)).toEqual([]);
  });
});

describe("the job service over a planner that throws", () => {
  it("answers INVALID_ARGUMENT 'could not be planned', keeping the error's type and message, and goes on serving", async () => {
    // A planner bug is the only way to reach this branch on purpose: stub the planner.
    const stub = new grpc.Server();
    addJobService(stub, new JobRegistry(), {
      plan: () => {
        throw new TypeError("Cannot read properties of undefined (reading 'componentCoderIds')");
      },
      execute: () => Promise.resolve(),
      artifactEndpoint: () => "",
    });
    const port = await new Promise<number>((res, rej) => stub.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    const client = new JobServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb")));
      for (let i = 0; i < 2; i++) {
        await expect(unary(client.prepare.bind(client), { pipeline, jobName: "job" })).rejects.toMatchObject({
          code: grpc.status.INVALID_ARGUMENT,
          details: "the pipeline could not be planned: TypeError: Cannot read properties of undefined (reading 'componentCoderIds')",
        });
      }
    } finally {
      client.close();
      stub.forceShutdown();
    }
  });
});

describe("beam-lambda job-server", () => {
  it("prints one line when ready, serves, and stops cleanly on SIGTERM", async () => {
    const { child, line, address } = await startJobServerProcess(["--workers", "1"]);
    expect(line.trim().split("\n")).toHaveLength(1);
    const client = new JobServiceClient(address, grpc.credentials.createInsecure());
    await expect(unary(client.getState.bind(client), { jobId: "[fake]" })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    client.close();
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("takes the job registry's bounds as flags", async () => {
    const { child, address } = await startJobServerProcess(["--workers", "1", "--max-prepared-jobs", "0", "--job-retention", "60"]);
    const client = new JobServiceClient(address, grpc.credentials.createInsecure());
    const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb")));
    await expect(unary(client.prepare.bind(client), { pipeline, jobName: "job" })).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    client.close();
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});

describe("staging tokens", () => {
  it("are random and not the job id, and stage only their own job", async () => {
    const a = await unary(jobs.prepare.bind(jobs), { pipeline: pipelineWithArtifact("pickled_main_session"), jobName: "job" });
    const b = await unary(jobs.prepare.bind(jobs), { pipeline: pipelineWithArtifact("pickled_main_session"), jobName: "job" });
    expect(a.stagingSessionToken).not.toBe(a.preparationId);
    expect(Buffer.from(a.stagingSessionToken, "base64url")).toHaveLength(32);

    await stageArtifacts(b, "b's session");
    await stageArtifacts(a, "a's session");

    expect((await server.store.get(`artifacts/${a.preparationId}/pickled_main_session`)).toString()).toBe("a's session");
    expect((await server.store.get(`artifacts/${b.preparationId}/pickled_main_session`)).toString()).toBe("b's session");
  });

  it("refuse a job id or a made-up token, and write nothing", async () => {
    const prepared = await unary(jobs.prepare.bind(jobs), { pipeline: pipelineWithArtifact("pickled_main_session"), jobName: "job" });
    for (const token of [prepared.preparationId, "made-up", ""]) {
      await expect(stageArtifacts(prepared, "evil", { token })).rejects.toMatchObject({
        code: grpc.status.PERMISSION_DENIED,
        details: expect.stringContaining("staging token is not one this job server issued") as unknown,
      });
    }
    expect(await server.store.list(`artifacts/${prepared.preparationId}/`)).toEqual([]);
  });

  it("expire once the job has left its prepared state", async () => {
    const prepared = await unary(jobs.prepare.bind(jobs), { pipeline: pipelineWithArtifact("pickled_main_session"), jobName: "job" });
    await unary(jobs.cancel.bind(jobs), { jobId: prepared.preparationId });
    await expect(stageArtifacts(prepared, "late")).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    expect(await server.store.list(`artifacts/${prepared.preparationId}/`)).toEqual([]);
  });
});

describe("the job listing", () => {
  it("shows secret-looking pipeline options' names but not their values", async () => {
    const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb")));
    const pipelineOptions = Struct.fromJson({
      "beam:option:s3_secret_access_key:v1": "wJalrXUtnFEMI",
      "beam:option:aws_session_token:v1": "IQoJb3JpZ2lu",
      "beam:option:job_name:v1": "listed",
    });
    const prepared = await unary(jobs.prepare.bind(jobs), { pipeline, jobName: "listed", pipelineOptions });
    const listed = await unary(jobs.getJobs.bind(jobs), {});
    const info = listed.jobInfo.find((j) => j.jobId === prepared.preparationId)!;
    expect(Struct.toJson(info.pipelineOptions!)).toEqual({
      "beam:option:s3_secret_access_key:v1": REDACTED,
      "beam:option:aws_session_token:v1": REDACTED,
      "beam:option:job_name:v1": "listed",
    });
    // The job itself still runs with the real values.
    expect(server.registry.jobs.get(prepared.preparationId)!.pipelineOptions["beam:option:s3_secret_access_key:v1"]).toBe("wJalrXUtnFEMI");
  });
});

describe("the advertised staging endpoint", () => {
  it("is the address the client connected to, not the wildcard the server is bound to", async () => {
    const wildcard = await JobServer.start({ host: "0.0.0.0", port: 0, workers: 1, allowUnauthenticated: true });
    const port = Number(wildcard.address.split(":").at(-1));
    const client = new JobServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const prepared = await unary(client.prepare.bind(client), { pipeline: pipelineWithArtifact("pickled_main_session"), jobName: "job" });
      expect(prepared.artifactStagingEndpoint!.url).toBe(`127.0.0.1:${port}`);
      await stageArtifacts(prepared, "reached");
      expect((await wildcard.store.get(`artifacts/${prepared.preparationId}/pickled_main_session`)).toString()).toBe("reached");
    } finally {
      client.close();
      await wildcard.stop();
    }
  });

  it("keeps the client's host and port, adds the server's port when the client gave none, and ignores a malformed authority", () => {
    const bound = { host: "0.0.0.0", port: 8099 };
    expect(endpointFor("10.0.0.5:9000", bound)).toBe("10.0.0.5:9000");
    expect(endpointFor("jobs.internal", bound)).toBe("jobs.internal:8099");
    expect(endpointFor("[::1]:8099", bound)).toBe("[::1]:8099");
    expect(endpointFor("evil host/x", bound)).toBe("0.0.0.0:8099");
  });
});

describe("a job server with bearer tokens", () => {
  const tokenA = "token-a-0123456789abcdef";
  const tokenB = "token-b-0123456789abcdef";
  let authed: JobServer;
  let anonymous: JobServiceClient;
  let asA: JobServiceClient;
  let asB: JobServiceClient;

  beforeAll(async () => {
    authed = await JobServer.start({ port: 0, workers: 1, authTokens: [tokenA, tokenB] });
    anonymous = new JobServiceClient(authed.address, grpc.credentials.createInsecure());
    asA = new JobServiceClient(authed.address, grpc.credentials.createInsecure(), bearer(tokenA));
    asB = new JobServiceClient(authed.address, grpc.credentials.createInsecure(), bearer(tokenB));
  });

  afterAll(async () => {
    for (const c of [anonymous, asA, asB]) c?.close();
    await authed?.stop();
  });

  it("answers UNAUTHENTICATED to a call without a token or with a wrong one, on every service", async () => {
    const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb")));
    const wrong = new JobServiceClient(authed.address, grpc.credentials.createInsecure(), bearer("not-a-token-of-this-server"));
    try {
      for (const client of [anonymous, wrong]) {
        await expect(unary(client.getJobs.bind(client), {})).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
        await expect(unary(client.prepare.bind(client), { pipeline, jobName: "job" })).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
        const stream = client.getStateStream({ jobId: "x" });
        await expect(new Promise((_, reject) => stream.on("error", reject))).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      }
    } finally {
      wrong.close();
    }
    const prepared = await unary(asA.prepare.bind(asA), { pipeline: pipelineWithArtifact("pickled_main_session"), jobName: "job" });
    await expect(stageArtifacts(prepared, "no token")).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(await authed.store.list(`artifacts/${prepared.preparationId}/`)).toEqual([]);
  });

  it("shows a caller only the jobs prepared with its own token", async () => {
    const prepared = await unary(asA.prepare.bind(asA), { pipeline: pipelineWithArtifact("pickled_main_session"), jobName: "job" });
    const id = prepared.preparationId;

    expect((await unary(asA.getJobs.bind(asA), {})).jobInfo.map((j) => j.jobId)).toContain(id);
    expect((await unary(asB.getJobs.bind(asB), {})).jobInfo.map((j) => j.jobId)).not.toContain(id);
    for (const call of [asB.getState.bind(asB), asB.getPipeline.bind(asB), asB.getJobMetrics.bind(asB), asB.cancel.bind(asB)]) {
      await expect(unary(call as typeof asB.getState, { jobId: id })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    }
    await expect(unary(asB.run.bind(asB), { preparationId: id, retrievalToken: "" })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    // B holding A's staging token still cannot stage: the token is bound to A's job and to A.
    await expect(stageArtifacts(prepared, "b's bytes", { clientOptions: bearer(tokenB) })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });

    await stageArtifacts(prepared, "a's bytes", { clientOptions: bearer(tokenA) });
    expect((await authed.store.get(`artifacts/${id}/pickled_main_session`)).toString()).toBe("a's bytes");
    expect((await unary(asA.getState.bind(asA), { jobId: id })).state).toBe(JobState_Enum.STOPPED);
  });
});

describe("binding beyond loopback", () => {
  it("is refused without tokens, with a message saying what to do", async () => {
    await expect(JobServer.start({ host: "0.0.0.0", port: 0, workers: 1 })).rejects.toThrow(/--auth-token-file FILE.*--host 127\.0\.0\.1/);
  });

  it("serves TLS with a token: a client trusting the certificate and sending the token gets in", async () => {
    const dir = mkdtempSync(join(tmpdir(), "job-server-tls-"));
    const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
    const token = "tls-token-0123456789abcdef";
    const tls = await JobServer.start({ host: "0.0.0.0", port: 0, workers: 1, authTokens: [token], tls: { certFile: cert, keyFile: key } });
    const port = Number(tls.address.split(":").at(-1));
    const client = new JobServiceClient(`localhost:${port}`, grpc.credentials.createSsl(readFileSync(cert)), bearer(token));
    const plaintext = new JobServiceClient(`localhost:${port}`, grpc.credentials.createInsecure(), bearer(token));
    try {
      const prepared = await unary(client.prepare.bind(client), { pipeline: Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb"))), jobName: "job" });
      expect(prepared.artifactStagingEndpoint!.url).toBe(`localhost:${port}`);
      await expect(unary(plaintext.getJobs.bind(plaintext), {})).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      client.close();
      plaintext.close();
      await tls.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is served by the job-server command with --auth-token-file: the token gets in, no token does not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "job-server-tokens-"));
    const tokens = join(dir, "tokens");
    writeFileSync(tokens, "# one per line\ncli-token-0123456789abcdef\n");
    const { child, address } = await startJobServerProcess(["--host", "0.0.0.0", "--workers", "1", "--auth-token-file", tokens]);
    try {
      const port = address.split(":").pop()!;
      const withToken = new JobServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), bearer("cli-token-0123456789abcdef"));
      const without = new JobServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      await expect(unary(withToken.getState.bind(withToken), { jobId: "[fake]" })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
      await expect(unary(without.getState.bind(without), { jobId: "[fake]" })).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      withToken.close();
      without.close();
    } finally {
      const exited = new Promise((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("makes the job-server command exit with the reason", () => {
    const out = spawnSync("node", [join(root, "bin/beam-lambda.js"), "job-server", "--host", "0.0.0.0", "--port", "0", "--workers", "1"], { encoding: "utf8" });
    expect(out.status).toBe(1);
    expect(out.stderr).toContain("refusing to serve 0.0.0.0 without authentication");
  });
});
