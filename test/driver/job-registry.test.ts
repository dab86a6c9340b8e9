// How many jobs a job server keeps and for how long: prepared jobs are capped and released when
// never run, finished jobs are released after their retention with their staged artifacts, and a
// flood of Prepare calls leaves the heap bounded.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as grpc from "@grpc/grpc-js";
import { JobServiceClient } from "apache-beam/proto/beam_job_api.grpc-client";
import { JobState_Enum, PrepareJobRequest } from "apache-beam/proto/beam_job_api";
import { Pipeline, WindowingStrategy } from "apache-beam/proto/beam_runner_api";
import { afterEach, describe, expect, it } from "vitest";
import { unary } from "./job-api.js";
import { JobServer, type JobServerOptions } from "../../src/driver/index.js";
import { Coders, Transforms, WindowFns } from "../../src/common/urns.js";

/** The smallest pipeline Prepare accepts (one Impulse, 246 bytes): cheap to decode 50,000 times. */
function impulseOnly(): Pipeline {
  const spec = (urn: string) => ({ urn, payload: new Uint8Array() });
  return Pipeline.create({
    rootTransformIds: ["impulse"],
    components: {
      coders: { bytes: { spec: spec(Coders.bytes), componentCoderIds: [] }, global: { spec: spec(Coders.globalWindow), componentCoderIds: [] } },
      windowingStrategies: { ws: WindowingStrategy.create({ windowFn: spec(WindowFns.global), windowCoderId: "global" }) },
      pcollections: { impulsed: { uniqueName: "impulsed", coderId: "bytes", windowingStrategyId: "ws", isBounded: 2, displayData: [] } },
      transforms: {
        impulse: { uniqueName: "Impulse", spec: spec(Transforms.impulse), subtransforms: [], inputs: {}, outputs: { out: "impulsed" }, displayData: [], environmentId: "", annotations: {} },
      },
      environments: {},
    },
  });
}

const root = new URL("../..", import.meta.url).pathname;
const pipeline = Pipeline.fromBinary(readFileSync(join(root, "test/fixtures/windowing.pb")));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A full collection, through V8's gc() made reachable at run time. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

let server: JobServer | undefined;
let jobs: JobServiceClient | undefined;

async function start(options: JobServerOptions): Promise<JobServiceClient> {
  server = await JobServer.start({ port: 0, workers: 1, ...options });
  jobs = new JobServiceClient(server.address, grpc.credentials.createInsecure());
  return jobs;
}

afterEach(async () => {
  jobs?.close();
  await server?.stop();
  server = undefined;
  jobs = undefined;
});

describe("the job registry", () => {
  it("when more jobs are prepared than it keeps, Prepare answers RESOURCE_EXHAUSTED until one is run, cancelled or released", async () => {
    const client = await start({ jobs: { maxPreparedJobs: 2, preparedJobTimeoutMs: 500 } });
    const a = await unary(client.prepare.bind(client), { pipeline, jobName: "a" });
    await unary(client.prepare.bind(client), { pipeline, jobName: "b" });
    await expect(unary(client.prepare.bind(client), { pipeline, jobName: "c" })).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: expect.stringContaining("maxPreparedJobs") as unknown,
    });
    await unary(client.cancel.bind(client), { jobId: a.preparationId });
    await unary(client.prepare.bind(client), { pipeline, jobName: "d" });

    await sleep(800);
    // The unrun ones were released: gone, and room again.
    expect(server!.registry.size).toBe(1); // the cancelled one, kept for its retention
    await unary(client.prepare.bind(client), { pipeline, jobName: "e" });
  });

  it("when a job has finished, it is released after its retention together with its staged artifacts", async () => {
    const client = await start({ jobs: { finishedJobRetentionMs: 300 } });
    const prepared = await unary(client.prepare.bind(client), { pipeline, jobName: "job" });
    const artifact = `artifacts/${prepared.preparationId}/main_session`;
    await server!.store.put(artifact, Buffer.from("x"));
    await unary(client.cancel.bind(client), { jobId: prepared.preparationId });
    expect((await unary(client.getState.bind(client), { jobId: prepared.preparationId })).state).toBe(JobState_Enum.CANCELLED);

    await sleep(600);
    await expect(unary(client.getState.bind(client), { jobId: prepared.preparationId })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(await server!.store.exists(artifact)).toBe(false);
  });

  it("when more jobs have finished than it keeps, the oldest are released first", async () => {
    const client = await start({ jobs: { maxFinishedJobs: 2 } });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { preparationId } = await unary(client.prepare.bind(client), { pipeline, jobName: `j${i}` });
      await unary(client.cancel.bind(client), { jobId: preparationId });
      ids.push(preparationId);
    }
    expect([...server!.registry.jobs.keys()]).toEqual(ids.slice(1));
  });

  it("when a job is run twice, the second Run answers FAILED_PRECONDITION", async () => {
    const client = await start({});
    const { preparationId } = await unary(client.prepare.bind(client), { pipeline, jobName: "job" });
    await unary(client.cancel.bind(client), { jobId: preparationId });
    await expect(unary(client.run.bind(client), { preparationId, retrievalToken: "" })).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
  });

  it("when the message is larger than maxReceiveMessageBytes, Prepare answers RESOURCE_EXHAUSTED", async () => {
    const client = await start({ maxReceiveMessageBytes: 1 << 20 });
    const big = Pipeline.clone(pipeline);
    big.requirements.push("x".repeat(2 << 20));
    await expect(unary(client.prepare.bind(client), { pipeline: big, jobName: "job" })).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
  });

  it("under 50,000 Prepare calls, the heap stays bounded", async () => {
    // Unrun jobs are released after 10 s, so the cap keeps being reached and freed.
    await start({ jobs: { maxPreparedJobs: 100, preparedJobTimeoutMs: 10_000 } });
    // The request encoded once, with the smallest valid pipeline: the server decodes every request
    // before it can refuse it, and on a 2-core machine decoding 50,000 real pipelines takes minutes.
    const raw = new grpc.Client(server!.address, grpc.credentials.createInsecure());
    const small = impulseOnly();
    const request = Buffer.from(PrepareJobRequest.toBinary({ pipeline: small, jobName: "job" }));
    const total = Number(process.env.PREPARE_CALLS ?? 50_000);
    const inFlight = 64;
    const codes = new Map<grpc.status, number>();
    let sent = 0;
    let baseline = 0;
    const started = Date.now();
    const lane = async (): Promise<void> => {
      while (sent < total) {
        const n = ++sent;
        if (n === 5_000) {
          collectGarbage();
          baseline = process.memoryUsage().heapUsed;
        }
        const code = await new Promise<grpc.status>((resolve) =>
          raw.makeUnaryRequest("/org.apache.beam.model.job_management.v1.JobService/Prepare", (b: Buffer) => b, (b: Buffer) => b, request, (e) => resolve(e ? e.code : grpc.status.OK)),
        );
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    raw.close();
    collectGarbage();
    const growth = process.memoryUsage().heapUsed - baseline;
    console.log(
      `${total} Prepare calls in ${Date.now() - started} ms: ${codes.get(grpc.status.OK) ?? 0} prepared, ${codes.get(grpc.status.RESOURCE_EXHAUSTED) ?? 0} RESOURCE_EXHAUSTED (all codes: ${JSON.stringify([...codes])}); heap growth after the first 5000: ${(growth / 2 ** 20).toFixed(1)} MB; jobs kept: ${server!.registry.size}`,
    );
    expect([...codes.keys()].sort()).toEqual([grpc.status.OK, grpc.status.RESOURCE_EXHAUSTED].sort());
    expect(codes.get(grpc.status.OK)).toBeGreaterThanOrEqual(100);
    expect(server!.registry.size).toBeLessThanOrEqual(100);
    expect(growth).toBeLessThan(32 * 2 ** 20);
  }, 90_000);
});
