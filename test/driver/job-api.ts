// Helpers the job-service tests share: a callback-style gRPC call as a promise, and a captured
// pipeline whose environment asks for one staged artifact.
import { readFileSync } from "node:fs";
import type * as grpc from "@grpc/grpc-js";
import { ArtifactStagingToRolePayload, Pipeline } from "apache-beam/proto/beam_runner_api";

/** A unary call of a generated gRPC client (bind it first), resolved with its response. */
export const unary = <Req, Res>(fn: (req: Req, cb: (e: grpc.ServiceError | null, r?: Res) => void) => unknown, req: Req): Promise<Res> =>
  new Promise((resolve, reject) => fn(req, (e, r) => (e ? reject(e) : resolve(r!))));

/** The captured wordcount pipeline, its environment depending on one artifact staged as `stagedName`. */
export function pipelineWithArtifact(stagedName: string): Pipeline {
  const pipeline = Pipeline.fromBinary(readFileSync(new URL("../fixtures/wordcount_files.pb", import.meta.url)));
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
