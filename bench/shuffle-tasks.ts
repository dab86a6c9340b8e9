// The map and reduce tasks of the shuffle benchmark, doing what a worker does for a GroupByKey:
// a map task splits the harness's data messages into elements and writes them through the
// shuffle writer; a reduce task reads its partition of every map output and groups it into
// chunks ready for the harness. Shared by the local (multi-threaded) and the S3 runs.
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import type { Coder } from "apache-beam/proto/beam_runner_api";
import { encodeTimestampMillis, resolveCoder } from "../src/codec/index.js";
import type { ObjectRange } from "../src/common/task-spec.js";
import { Coders } from "../src/common/urns.js";
import { GrowableBuffer, type PartitionedOutput, ShuffleOutputWriter } from "../src/shuffle/index.js";
import type { ObjectStore } from "../src/store/index.js";
import { readInputChunks } from "../src/shuffle/edge-reader.js";

export const RECORD = 100;
export const KEY = 10;
const MESSAGE_BYTES = 1 << 20;

const coder = (urn: string, ...c: string[]): Coder => ({ spec: { urn, payload: new Uint8Array() }, componentCoderIds: c });
const CODERS: Record<string, Coder> = {
  bytes: coder(Coders.bytes),
  kv: coder(Coders.kv, "bytes", "bytes"),
  global: coder(Coders.globalWindow),
  wv: coder(Coders.windowedValue, "kv", "global"),
  values: coder(Coders.iterable, "bytes"),
  grouped: coder(Coders.kv, "bytes", "values"),
  wvGrouped: coder(Coders.windowedValue, "grouped", "global"),
};
export const coders = (id: string) => resolveCoder(CODERS, id);

/**
 * TeraSort-style input for one map task as the harness would send it: data messages of about a
 * megabyte, each holding whole elements WindowedValue(KV(10-byte key, 90-byte value)).
 */
export function generateMapInput(records: number): Buffer[] {
  const data = randomBytes(records * RECORD);
  const messages: Buffer[] = [];
  const out = new GrowableBuffer(MESSAGE_BYTES + 256);
  for (let i = 0; i < records; i++) {
    // timestamp, one window (global: no bytes), pane, key and value length-prefixed
    out.bytes(EPOCH);
    out.int32(1);
    out.byte(0x0f);
    out.varint(KEY);
    out.range(data, i * RECORD, i * RECORD + KEY);
    out.varint(RECORD - KEY);
    out.range(data, i * RECORD + KEY, (i + 1) * RECORD);
    if (out.length >= MESSAGE_BYTES) messages.push(Buffer.from(out.take()));
  }
  if (out.length > 0) messages.push(Buffer.from(out.take()));
  return messages;
}
const EPOCH = encodeTimestampMillis(0n);

export async function mapTask(store: ObjectStore, messages: Buffer[], partitions: number, key: string): Promise<PartitionedOutput> {
  const wire = coders("wv");
  const writer = new ShuffleOutputWriter(wire, partitions, "key", "keyed");
  for (const message of messages) writer.addElements(message);
  return { key, offsets: await writer.write(store, key) };
}

export interface ReduceResult {
  groups: number;
  bytes: number;
}

export async function reduceTask(store: ObjectStore, outputs: PartitionedOutput[], partition: number, memoryBudgetBytes: number): Promise<ReduceResult> {
  const ranges: ObjectRange[] = outputs.map((o) => ({ key: o.key, start: o.offsets[partition]!, end: o.offsets[partition + 1]!, format: "keyed" }));
  const read = { kind: "group" as const, inputWireCoderId: "wv", windowMerge: "none" as const, timestampCombiner: "endOfWindow" as const };
  let groups = 0;
  let bytes = 0;
  for await (const chunk of readInputChunks(store, { read, wireCoderId: "wvGrouped", ranges }, coders, { memoryBudgetBytes, spillDir: tmpdir() })) {
    groups += chunk.ends.length;
    bytes += chunk.bytes.length;
  }
  return { groups, bytes };
}
