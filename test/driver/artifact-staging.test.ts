// The artifact staging stream's bounds: artifacts stream to the store (a 500 MB artifact through
// a job-server process whose memory is measured), and a client that half-closes, goes silent or
// answers with the wrong message gets a status and leaves nothing stored.
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ArtifactStagingServiceClient } from "apache-beam/proto/beam_artifact_api.grpc-client";
import type { ArtifactRequestWrapper, ArtifactResponseWrapper } from "apache-beam/proto/beam_artifact_api";
import { JobServiceClient } from "apache-beam/proto/beam_job_api.grpc-client";
import type { PrepareJobResponse } from "apache-beam/proto/beam_job_api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pipelineWithArtifact, startJobServerProcess, unary } from "./job-api.js";
import { JobServer } from "../../src/driver/index.js";



function chunk(data: Uint8Array, isLast = false): ArtifactResponseWrapper {
  return { stagingToken: "", isLast, response: { oneofKind: "getArtifactResponse", getArtifactResponse: { data } } };
}

type StagingCall = grpc.ClientDuplexStream<ArtifactResponseWrapper, ArtifactRequestWrapper>;

/**
 * Opens a staging stream for `prepared`, sends the token, and lets `answer` play the SDK when the
 * runner asks for an artifact. Resolves with the stream's status.
 */
function stagingSession(address: string, prepared: PrepareJobResponse, answer: (call: StagingCall) => void | Promise<void>): Promise<{ code: grpc.status; details: string; ms: number }> {
  const client = new ArtifactStagingServiceClient(address, grpc.credentials.createInsecure());
  const call = client.reverseArtifactRetrievalService();
  const started = Date.now();
  return new Promise<{ code: grpc.status; details: string; ms: number }>((resolve) => {
    call.on("data", (req: ArtifactRequestWrapper) => {
      if (req.request.oneofKind === "getArtifact") void answer(call);
    });
    call.on("error", () => undefined);
    call.on("status", (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details, ms: Date.now() - started }));
    call.write({ stagingToken: prepared.stagingSessionToken, isLast: false, response: { oneofKind: undefined } });
  }).finally(() => client.close());
}

describe("artifact staging streams", { timeout: 15_000 }, () => {
  let server: JobServer;
  let jobs: JobServiceClient;

  beforeAll(async () => {
    server = await JobServer.start({ port: 0, workers: 1, stagingIdleTimeoutMs: 1000 });
    jobs = new JobServiceClient(server.address, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    jobs?.close();
    await server?.stop();
  });

  const prepare = (name = "main_session"): Promise<PrepareJobResponse> => unary(jobs.prepare.bind(jobs), { pipeline: pipelineWithArtifact(name), jobName: "job" });

  it("when the SDK half-closes half-way through an artifact, it ends with INVALID_ARGUMENT and stores nothing", async () => {
    const prepared = await prepare();
    const status = await stagingSession(server.address, prepared, (call) => {
      call.write(chunk(Buffer.from("partial")));
      call.end();
    });
    expect(status).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining("closed the staging stream while sending 'main_session'") as unknown });
    expect(await server.store.list(`artifacts/${prepared.preparationId}/`)).toEqual([]);
  });

  it("when the SDK half-closes before sending its token, it ends with INVALID_ARGUMENT", async () => {
    const client = new ArtifactStagingServiceClient(server.address, grpc.credentials.createInsecure());
    const call = client.reverseArtifactRetrievalService();
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      call.on("error", () => undefined);
      call.on("data", () => undefined);
      call.on("status", resolve);
      call.end();
    });
    client.close();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it("when the SDK goes silent, it ends with DEADLINE_EXCEEDED within the idle timeout and stores nothing", async () => {
    const prepared = await prepare();
    const status = await stagingSession(server.address, prepared, (call) => {
      call.write(chunk(Buffer.from("partial")));
    });
    expect(status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(status.details).toContain("sent nothing for 1000 ms");
    expect(status.ms).toBeLessThan(5000);
    expect(await server.store.list(`artifacts/${prepared.preparationId}/`)).toEqual([]);
  });

  it("when the SDK answers with the wrong message type, it ends with INVALID_ARGUMENT and stores nothing", async () => {
    const prepared = await prepare();
    const status = await stagingSession(server.address, prepared, (call) => {
      call.write({ stagingToken: "", isLast: true, response: { oneofKind: "resolveArtifactResponse", resolveArtifactResponse: { replacements: [] } } });
    });
    expect(status).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining("not a GetArtifactResponse") as unknown });
    expect(await server.store.list(`artifacts/${prepared.preparationId}/`)).toEqual([]);
  });

  it("when the token is not one the server issued, it ends with PERMISSION_DENIED", async () => {
    const status = await stagingSession(server.address, { preparationId: "", stagingSessionToken: "no-such-job", artifactStagingEndpoint: undefined, jobId: "" } as unknown as PrepareJobResponse, () => undefined);
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
  });
});

/** VmRSS and VmHWM of a process, in bytes. */
function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)![1]) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

describe("a 500 MB artifact", () => {
  it("streams to the store: the job-server process grows by less than 64 MB", async () => {
    const storeDir = await mkdtemp(join(tmpdir(), "beam-lambda-staging-store-"));
    const { child, address } = await startJobServerProcess(["--workers", "1", "--store", storeDir]);
    try {
      const jobs = new JobServiceClient(address, grpc.credentials.createInsecure());
      const prepared = await unary(jobs.prepare.bind(jobs), { pipeline: pipelineWithArtifact("big.bin"), jobName: "job" });
      jobs.close();
      const before = memoryOf(child.pid!);

      const MiB = 1 << 20;
      const total = 500;
      const piece = Buffer.alloc(MiB, 7);
      const status = await stagingSession(address, prepared, async (call) => {
        for (let i = 0; i < total; i++) {
          if (!call.write(chunk(piece))) await new Promise((resolve) => call.once("drain", resolve));
        }
        call.write(chunk(new Uint8Array(), true));
        call.end();
      });
      const after = memoryOf(child.pid!);

      expect(status.code).toBe(grpc.status.OK);
      const dir = join(storeDir, "artifacts", prepared.preparationId);
      expect(await readdir(dir)).toEqual(["big.bin"]);
      expect((await stat(join(dir, "big.bin"))).size).toBe(total * MiB);
      const growth = after.hwm - before.rss;
      console.log(`500 MB artifact: job-server VmRSS before ${(before.rss / MiB).toFixed(1)} MB, VmHWM after ${(after.hwm / MiB).toFixed(1)} MB, growth ${(growth / MiB).toFixed(1)} MB, ${status.ms} ms`);
      expect(growth).toBeLessThan(64 * MiB);
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      await rm(storeDir, { recursive: true, force: true });
    }
  });
});
