import * as grpc from "@grpc/grpc-js";
import { ProvisionServiceClient } from "apache-beam/proto/beam_provision_api.grpc-client";
import type { GetProvisionInfoResponse } from "apache-beam/proto/beam_provision_api";
import { Struct } from "apache-beam/proto/google/protobuf/struct";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FnApiServer } from "../../src/worker/fn-api-server.js";

let server: FnApiServer;
let client: ProvisionServiceClient;

function provisionFor(workerId: string): Promise<GetProvisionInfoResponse> {
  const metadata = new grpc.Metadata();
  metadata.set("worker_id", workerId);
  return new Promise((resolve, reject) => client.getProvisionInfo({}, metadata, (e, r) => (e ? reject(e) : resolve(r!))));
}

beforeAll(async () => {
  server = await FnApiServer.start();
  client = new ProvisionServiceClient(server.address, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

describe("the worker's Fn API server", () => {
  it("tells each harness, by its worker_id, its own provision info", async () => {
    for (const id of ["w-a", "w-b"]) {
      server.setProvisionInfo(id, {
        pipelineOptions: Struct.fromJson({ "beam:option:job_name:v1": id }),
        retrievalToken: `job-of-${id}`,
        dependencies: [],
        runnerCapabilities: [],
        metadata: {},
        siblingWorkerIds: [],
      });
    }
    const b = await provisionFor("w-b");
    expect(b.info!.retrievalToken).toBe("job-of-w-b");
    expect(Struct.toJson(b.info!.pipelineOptions!)).toEqual({ "beam:option:job_name:v1": "w-b" });
  });

  it("answers NOT_FOUND to a worker it does not know", async () => {
    await expect(provisionFor("stranger")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });
});
