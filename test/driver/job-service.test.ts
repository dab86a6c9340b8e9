// The Job and Artifact services through a real gRPC client, and the job-server command.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ArtifactStagingServiceClient } from "apache-beam/proto/beam_artifact_api.grpc-client";
import type { ArtifactRequestWrapper, ArtifactResponseWrapper } from "apache-beam/proto/beam_artifact_api";
import { JobServiceClient } from "apache-beam/proto/beam_job_api.grpc-client";
import { JobState_Enum, type PrepareJobResponse } from "apache-beam/proto/beam_job_api";
import { ArtifactStagingToRolePayload, Pipeline } from "apache-beam/proto/beam_runner_api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServer } from "../../src/driver/index.js";
import { addJobService, JobRegistry } from "../../src/driver/jobservice/job-service.js";

const root = new URL("../..", import.meta.url).pathname;
let server: JobServer;
let jobs: JobServiceClient;

const unary = <Req, Res>(fn: (req: Req, cb: (e: grpc.ServiceError | null, r?: Res) => void) => unknown, req: Req): Promise<Res> =>
  new Promise((resolve, reject) => fn(req, (e, r) => (e ? reject(e) : resolve(r!))));

function pipelineWithArtifact(stagedName: string): Pipeline {
  const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/wordcount_files.pb")));
  const env = Object.values(pipeline.components!.environments)[0]!;
  env.dependencies = [
    {
      typeUrn: "beam:artifact:type:file:v1",
      typePayload: new Uint8Array(),
      roleUrn: "beam:artifact:role:staging_to:v1",
      rolePayload: ArtifactStagingToRolePayload.toBinary({ stagedName }),
    },
  ];
  return pipeline;
}

/** Plays the SDK's side of the reverse-retrieval protocol, answering every request with `content`. */
function stageArtifacts(prepared: PrepareJobResponse, content: string): Promise<void> {
  const client = new ArtifactStagingServiceClient(prepared.artifactStagingEndpoint!.url, grpc.credentials.createInsecure());
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
    call.write({ stagingToken: prepared.stagingSessionToken, isLast: false, response: { oneofKind: undefined } });
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

  it("answers a staging stream for a job it never prepared with NOT_FOUND, and an undecodable message with INVALID_ARGUMENT", async () => {
    const client = new ArtifactStagingServiceClient(server.address, grpc.credentials.createInsecure());
    try {
      const unknown = client.reverseArtifactRetrievalService();
      unknown.write({ stagingToken: "no-such-job", isLast: false, response: { oneofKind: undefined } });
      await expect(new Promise((_, reject) => unknown.on("error", reject))).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
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
    const child = spawn("node", [join(root, "bin/beam-lambda.js"), "job-server", "--port", "0", "--workers", "1"], { stdio: ["ignore", "pipe", "inherit"] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolve(out);
      });
      child.on("exit", (code) => reject(new Error(`exited early with ${code}`)));
    });
    const address = /listening on (\S+)/.exec(line)![1]!;
    expect(line.trim().split("\n")).toHaveLength(1);
    const client = new JobServiceClient(address, grpc.credentials.createInsecure());
    await expect(unary(client.getState.bind(client), { jobId: "[fake]" })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    client.close();
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
