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

  it("stages artifacts under the job's own folder", async () => {
    const prepared = await unary(jobs.prepare.bind(jobs), { pipeline: pipelineWithArtifact("pickled_main_session"), jobName: "job" });
    await stageArtifacts(prepared, "session bytes");
    const stored = await server.store.get(`artifacts/${prepared.preparationId}/pickled_main_session`);
    expect(stored.toString()).toBe("session bytes");
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

  it("takes the job registry's bounds as flags", async () => {
    const child = spawn("node", [join(root, "bin/beam-lambda.js"), "job-server", "--port", "0", "--workers", "1", "--max-prepared-jobs", "0", "--job-retention", "60"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolve(out);
      });
      child.on("exit", (code) => reject(new Error(`exited early with ${code}`)));
    });
    const client = new JobServiceClient(/listening on (\S+)/.exec(line)![1]!, grpc.credentials.createInsecure());
    const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb")));
    await expect(unary(client.prepare.bind(client), { pipeline, jobName: "job" })).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    client.close();
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
