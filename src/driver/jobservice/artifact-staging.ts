// ArtifactStagingService with Beam's reverse-retrieval protocol: the SDK opens the stream and
// sends its staging token; the runner then asks for each artifact it wants and the SDK streams
// the bytes back, each artifact ending with is_last. Artifacts land in the ObjectStore under
// artifacts/<job id>/<staged name> (src/store/layout.ts).
import * as grpc from "@grpc/grpc-js";
import { createDefinition } from "@protobuf-ts/grpc-backend";
import {
  ArtifactStagingService,
  type ArtifactRequestWrapper,
  type ArtifactResponseWrapper,
} from "apache-beam/proto/beam_artifact_api";
import { ArtifactStagingToRolePayload, type ArtifactInformation } from "apache-beam/proto/beam_runner_api";
import { type ObjectStore, artifactPrefix } from "../../store/index.js";
import { CallerAuth } from "./caller-auth.js";
import type { JobRegistry } from "./job-service.js";
import { UndecodableRequest, decodeTolerantly } from "./undecodable-request.js";

const STAGING_TO_ROLE = "beam:artifact:role:staging_to:v1";

/** A staged name must stay inside the job's folder: one plain file name. */
export function checkArtifactName(name: string): string {
  if (!name || name === "." || name === ".." || /[/\\\0]/.test(name)) {
    throw new Error(`artifact name '${name}' is not a plain file name; refusing to stage it`);
  }
  return name;
}

export function addArtifactStagingService(server: grpc.Server, registry: JobRegistry, store: ObjectStore, auth = new CallerAuth()): void {
  server.addService(decodeTolerantly(createDefinition(ArtifactStagingService)), {
    reverseArtifactRetrievalService: (call: grpc.ServerDuplexStream<ArtifactResponseWrapper, ArtifactRequestWrapper>) => {
      const responses = call[Symbol.asyncIterator]() as AsyncIterator<ArtifactResponseWrapper>;
      void stage(call, responses, registry, store, auth).then(
        () => call.end(),
        (e: Error & { code?: unknown }) =>
          // A Node error's code is a string ('ENOENT'): only a gRPC status passes through.
          call.emit("error", { code: typeof e.code === "number" ? e.code : grpc.status.INVALID_ARGUMENT, details: e.message }),
      );
    },
  });
}

async function stage(
  call: grpc.ServerDuplexStream<ArtifactResponseWrapper, ArtifactRequestWrapper>,
  responses: AsyncIterator<ArtifactResponseWrapper>,
  registry: JobRegistry,
  store: ObjectStore,
  auth: CallerAuth,
): Promise<void> {
  const next = async (): Promise<IteratorResult<ArtifactResponseWrapper>> => {
    const r = await responses.next();
    const message: unknown = r.value;
    if (message instanceof UndecodableRequest) throw new Error(message.message);
    return r;
  };
  const first = await next();
  if (first.done) return;
  // The token Prepare issued, never the job id: a session for another job is refused here.
  const job = registry.forStagingToken(first.value.stagingToken, auth.ownerOf(call.metadata));
  const artifacts: ArtifactInformation[] = Object.values(job.pipeline.components?.environments ?? {}).flatMap((e) => e.dependencies);
  for (const [i, artifact] of artifacts.entries()) {
    const name = checkArtifactName(
      artifact.roleUrn === STAGING_TO_ROLE ? ArtifactStagingToRolePayload.fromBinary(artifact.rolePayload).stagedName : `artifact-${i}`,
    );
    call.write({ request: { oneofKind: "getArtifact", getArtifact: { artifact } } });
    const chunks: Uint8Array[] = [];
    for (;;) {
      const response = await next();
      if (response.done) throw new Error(`the SDK closed the staging stream while sending '${name}'`);
      const r = response.value.response;
      if (r.oneofKind === "getArtifactResponse") chunks.push(r.getArtifactResponse.data);
      if (response.value.isLast) break;
    }
    await store.put(artifactPrefix(job.id) + name, Buffer.concat(chunks));
  }
}
