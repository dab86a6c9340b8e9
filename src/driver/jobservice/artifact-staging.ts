// ArtifactStagingService with Beam's reverse-retrieval protocol: the SDK opens the stream and
// sends its staging token; the runner then asks for each artifact it wants and the SDK streams
// the bytes back, each artifact ending with is_last. Artifacts land in the ObjectStore under
// artifacts/<job id>/<staged name> (src/store/layout.ts).
//
// Bounded by construction: an artifact's chunks go to the store as they arrive (the store's
// put consumes a stream, and the next chunk is read from the call only once the store has taken
// the last one, so gRPC's flow control holds the SDK back), never assembled in memory; a client
// that goes silent for `idleTimeoutMs` while the runner waits for it, or half-closes mid-way, or
// answers with the wrong message, gets a status at once and leaves nothing stored.
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

/** How long the runner waits for the SDK's next message on a staging stream (default). */
export const DEFAULT_STAGING_IDLE_TIMEOUT_MS = 60_000;

export interface ArtifactStagingOptions {
  /** A staging stream on which the SDK sends nothing for this long ends with DEADLINE_EXCEEDED. */
  idleTimeoutMs: number;
}

/** Ends a staging stream with `code`. */
class StagingStreamError extends Error {
  override name = "StagingStreamError";
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}

/** A staged name must stay inside the job's folder: one plain file name. */
export function checkArtifactName(name: string): string {
  if (!name || name === "." || name === ".." || /[/\\\0]/.test(name)) {
    throw new StagingStreamError(grpc.status.INVALID_ARGUMENT, `artifact name '${name}' is not a plain file name; refusing to stage it`);
  }
  return name;
}

export function addArtifactStagingService(
  server: grpc.Server,
  registry: JobRegistry,
  store: ObjectStore,
  options: ArtifactStagingOptions = { idleTimeoutMs: DEFAULT_STAGING_IDLE_TIMEOUT_MS },
  auth = new CallerAuth(),
): void {
  server.addService(decodeTolerantly(createDefinition(ArtifactStagingService)), {
    reverseArtifactRetrievalService: (call: grpc.ServerDuplexStream<ArtifactResponseWrapper, ArtifactRequestWrapper>) => {
      const responses = new ResponseReader(call, options.idleTimeoutMs);
      void stage(call, responses, registry, store, auth).then(
        () => call.end(),
        (e: Error & { code?: unknown }) => {
          // The status goes out even when the client has half-closed; what it still sends is dropped.
          // A Node error's code is a string ('ENOENT'): only a gRPC status passes through.
          if (!call.writableEnded) call.emit("error", { code: typeof e.code === "number" ? e.code : grpc.status.INVALID_ARGUMENT, details: e.message });
        },
      );
    },
  });
}

/** The SDK's messages, one at a time, each awaited at most `idleTimeoutMs`. */
class ResponseReader {
  private readonly iterator: AsyncIterator<ArtifactResponseWrapper>;

  constructor(
    call: grpc.ServerDuplexStream<ArtifactResponseWrapper, ArtifactRequestWrapper>,
    private readonly idleTimeoutMs: number,
  ) {
    // Not the default iterator: that destroys the call when the client half-closes, after which
    // no status can be sent and the client waits forever.
    // grpc-js reads the next message from the network only when the stream asks for one, but its
    // stream asks until 16 messages (of up to 64 MiB each) wait in its buffer: one is enough here,
    // as the store takes each chunk before the next is read. Node has no public setter for it.
    const state = (call as unknown as { _readableState?: { highWaterMark: number } })._readableState;
    if (state) state.highWaterMark = 1;
    this.iterator = call.iterator({ destroyOnReturn: false }) as AsyncIterator<ArtifactResponseWrapper>;
  }

  async next(waitingFor: string): Promise<IteratorResult<ArtifactResponseWrapper>> {
    let timer: NodeJS.Timeout | undefined;
    const silence = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StagingStreamError(grpc.status.DEADLINE_EXCEEDED, `the SDK sent nothing for ${this.idleTimeoutMs} ms while the runner waited for ${waitingFor}`)),
        this.idleTimeoutMs,
      );
    });
    try {
      const result = await Promise.race([this.iterator.next(), silence]);
      const message: unknown = result.value;
      if (message instanceof UndecodableRequest) throw new StagingStreamError(grpc.status.INVALID_ARGUMENT, message.message);
      return result;
    } finally {
      clearTimeout(timer);
    }
  }
}

async function stage(
  call: grpc.ServerDuplexStream<ArtifactResponseWrapper, ArtifactRequestWrapper>,
  responses: ResponseReader,
  registry: JobRegistry,
  store: ObjectStore,
  auth: CallerAuth,
): Promise<void> {
  const first = await responses.next("the staging token");
  if (first.done) throw new StagingStreamError(grpc.status.INVALID_ARGUMENT, "the SDK closed the staging stream before sending its staging token");
  // The token Prepare issued, never the job id: a session for another job is refused here.
  const job = registry.forStagingToken(first.value.stagingToken, auth.ownerOf(call.metadata));
  const artifacts: ArtifactInformation[] = Object.values(job.pipeline.components?.environments ?? {}).flatMap((e) => e.dependencies);
  for (const [i, artifact] of artifacts.entries()) {
    const name = checkArtifactName(
      artifact.roleUrn === STAGING_TO_ROLE ? ArtifactStagingToRolePayload.fromBinary(artifact.rolePayload).stagedName : `artifact-${i}`,
    );
    call.write({ request: { oneofKind: "getArtifact", getArtifact: { artifact } } });
    // A failure inside the stream fails the put, which stores nothing (puts are atomic).
    await store.put(artifactPrefix(job.id) + name, artifactChunks(responses, name));
  }
}

/** One artifact's bytes as the SDK sends them, up to its is_last. */
async function* artifactChunks(responses: ResponseReader, name: string): AsyncGenerator<Uint8Array> {
  for (;;) {
    const next = await responses.next(`the bytes of '${name}'`);
    if (next.done) throw new StagingStreamError(grpc.status.INVALID_ARGUMENT, `the SDK closed the staging stream while sending '${name}'`);
    const { response, isLast } = next.value;
    if (response.oneofKind === "getArtifactResponse") {
      if (response.getArtifactResponse.data.length > 0) yield response.getArtifactResponse.data;
    } else if (!(isLast && response.oneofKind === undefined)) {
      throw new StagingStreamError(
        grpc.status.INVALID_ARGUMENT,
        `the SDK answered the request for '${name}' with ${response.oneofKind ?? "an empty response"}, not a GetArtifactResponse`,
      );
    }
    if (isLast) return;
  }
}
