// Merges windows with a WindowFn only the SDK can run, through the stage's window-merging
// descriptor (see src/driver/planner/window-merge-descriptor.ts): ONE bundle per task, one input
// element per key, the key's encoding as the nonce.
//
//   worker                                              SDK harness (the stage's own)
//   control: Register(merge descriptor) ─────────────▶  (once per harness)
//   control: ProcessBundle ───────────────────────────▶  (beside the stage's bundle, which is
//   data:    KV(key, [windows...]) per key, is_last ──▶   waiting for this grouped input)
//                                                   ◀──  data: KV(key, (unmerged, [(merged, [from...])])), is_last
//                                                   ◀──  control: ProcessBundleResponse
//
// Only the windows that merge are kept, per key, until the task's grouping has used them: with
// the records themselves spilled, this is what a partition holds in memory (a key's windows are
// streamed to the SDK, not collected first).
import { type ProcessBundleDescriptor, RemoteGrpcPort } from "apache-beam/proto/beam_fn_api";
import { encodeMergeWindowsInput, readMergeWindowsOutput, resolveCoder } from "../codec/index.js";
import { Transforms } from "../common/urns.js";
import type { KeyWindows, MergeWindowsFn } from "../shuffle/index.js";
import type { WindowMerger } from "../shuffle/edge-reader.js";
import type { HarnessConnection } from "./harness-connection.js";

const CHUNK_BYTES = 1 << 20;
const NO_MERGES: ReadonlyMap<string, Buffer> = new Map();

export class SdkWindowMerger implements WindowMerger {
  private readonly sourceId: string;
  private readonly sinkId: string;
  private readonly outputCoderId: string;

  constructor(
    private readonly connection: HarnessConnection,
    private readonly descriptor: ProcessBundleDescriptor,
  ) {
    const port = (urn: string): [string, string] => {
      const found = Object.entries(descriptor.transforms).filter(([, t]) => t.spec?.urn === urn);
      if (found.length !== 1) throw new Error(`the window-merging descriptor ${descriptor.id} has ${found.length} transforms '${urn}', expected one`);
      const [id, t] = found[0]!;
      return [id, RemoteGrpcPort.fromBinary(t.spec!.payload).coderId];
    };
    [this.sourceId] = port(Transforms.dataSource);
    [this.sinkId, this.outputCoderId] = port(Transforms.dataSink);
  }

  async merge(keys: Iterable<KeyWindows>): Promise<MergeWindowsFn> {
    const connection = this.connection;
    await connection.register(this.descriptor);
    const outputCoder = resolveCoder(this.descriptor.coders, this.outputCoderId);
    const merged = new Map<string, Map<string, Buffer>>();
    let sent = 0;
    let received = 0;
    let sinkDone!: () => void;
    let failed!: (e: unknown) => void;
    const output = new Promise<void>((resolve, reject) => {
      sinkDone = resolve;
      failed = reject;
    });
    output.catch(() => undefined);
    const { instructionId, response } = connection.startBundle(
      this.descriptor.id,
      {
        onData: (transformId, data, isLast) => {
          try {
            if (transformId !== this.sinkId) throw new Error(`the merge_windows bundle wrote to '${transformId}'`);
            for (const result of readMergeWindowsOutput(outputCoder, data)) {
              received++;
              if (result.merges.length === 0) continue;
              // Copies: the harness's message buffer is reused by gRPC.
              const windows = new Map<string, Buffer>();
              for (const m of result.merges) {
                const into = Buffer.from(m.window);
                for (const from of m.from) windows.set(Buffer.from(from).toString("latin1"), into);
              }
              merged.set(Buffer.from(result.nonce).toString("latin1"), windows);
            }
            if (isLast) sinkDone();
          } catch (e) {
            failed(e);
          }
        },
        onTimers: (transformId) => failed(new Error(`the merge_windows bundle set timers on '${transformId}'`)),
      },
      () => Promise.reject(new Error("the merge_windows bundle has no state")),
    );
    try {
      const input = function* (): Generator<Uint8Array> {
        let parts: Buffer[] = [];
        let bytes = 0;
        for (const { key, windows } of keys) {
          const element = encodeMergeWindowsInput(key, windows);
          parts.push(element);
          bytes += element.length;
          sent++;
          if (bytes >= CHUNK_BYTES) {
            yield Buffer.concat(parts, bytes);
            parts = [];
            bytes = 0;
          }
        }
        if (bytes > 0) yield Buffer.concat(parts, bytes);
      };
      await connection.sendInput(instructionId, this.sourceId, input());
      // The response and the sink's is_last travel on different streams: either may come first.
      await Promise.race([Promise.all([response, output]), connection.lost]);
    } catch (e) {
      throw new Error(`merging windows with the pipeline's WindowFn failed: ${(e as Error).message}`, { cause: e });
    } finally {
      connection.finishBundle(instructionId);
    }
    if (received !== sent) throw new Error(`the merge_windows bundle answered ${received} of ${sent} keys`);
    return (key) => merged.get(key.toString("latin1")) ?? NO_MERGES;
  }
}
