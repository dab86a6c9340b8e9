// One map task's output for one PCollection is ONE object: its partitions back to back, each a
// sequence of records (varint length + bytes), followed by an index so the object describes itself:
//
//   [partition 0 records][partition 1 records]...[partition R-1 records]
//   [offset_0 .. offset_R as uint64 BE][R as uint32 BE]["BLRP"]
//
// The writer returns the offsets too; the driver passes each reducer its byte range directly, so a
// reducer needs one ranged GET per map output and never reads the index.
import { promisify } from "node:util";
import { gzip, constants as zlibConstants } from "node:zlib";
import { ByteReader, encodeVarint } from "../codec/byte-io.js";
import { GrowableBuffer } from "./growable-buffer.js";
import { hashBytes } from "./keyed-record.js";
import type { ObjectStore } from "./object-store.js";

const MAGIC = Buffer.from("BLRP");
// zlib's asynchronous calls run on libuv's thread pool, beside the JavaScript thread.
const gzipAsync = promisify(gzip);
/** The largest partition of the last object written in this process (a sizing hint). */
let lastPartitionBytes = 0;

/** Buffers records per partition, then writes them as one object. */
export class PartitionedObjectWriter {
  private readonly parts: GrowableBuffer[];
  private count = 0;

  constructor(readonly partitions: number) {
    // Start each partition at the size the last task's partitions reached: a worker's tasks
    // tend to look alike, and growing by doubling copies everything once more.
    const initial = Math.min(Math.max(lastPartitionBytes, 16 * 1024), 32 << 20);
    this.parts = Array.from({ length: partitions }, () => new GrowableBuffer(initial));
  }

  get records(): number {
    return this.count;
  }

  /** Bytes buffered so far. */
  get bytes(): number {
    let n = 0;
    for (const p of this.parts) n += p.length;
    return n;
  }

  add(partition: number, record: Uint8Array): void {
    const out = this.parts[partition]!;
    out.varint(record.length);
    out.bytes(record);
    this.count++;
  }

  /** Adds bytes [start, end) of `buf` as one record. */
  addRange(partition: number, buf: Buffer, start: number, end: number): void {
    const out = this.parts[partition]!;
    out.varint(end - start);
    out.range(buf, start, end);
    this.count++;
  }

  /** A partition's buffer, for writers that frame their own records (see keyed-record.ts). */
  partitionBuffer(partition: number): GrowableBuffer {
    this.count++;
    return this.parts[partition]!;
  }

  /**
   * Writes the object and returns the partition offsets (R + 1 of them). With `gzip`, each
   * non-empty partition is one gzip member; members concatenated by a merge still decode as one.
   */
  async write(store: ObjectStore, key: string, compression?: "gzip"): Promise<number[]> {
    const blocks = await Promise.all(
      this.parts.map((p) => (compression && p.length > 0 ? gzipAsync(p.view(), { level: zlibConstants.Z_BEST_SPEED }) : p.view())),
    );
    const offsets = [0];
    for (const b of blocks) offsets.push(offsets[offsets.length - 1]! + b.length);
    await store.put(key, [...blocks, encodeIndex(offsets)]);
    lastPartitionBytes = Math.max(...this.parts.map((p) => p.length));
    for (const p of this.parts) p.release();
    return offsets;
  }
}

/** The trailing index of a partitioned object: the offsets, the partition count, the magic. */
export function encodeIndex(offsets: number[]): Buffer {
  const index = Buffer.alloc(8 * offsets.length + 8);
  offsets.forEach((o, i) => index.writeBigUInt64BE(BigInt(o), 8 * i));
  index.writeUInt32BE(offsets.length - 1, 8 * offsets.length);
  MAGIC.copy(index, 8 * offsets.length + 4);
  return index;
}

/** Splits a run of records (one partition's bytes) into the records. */
export function* readRecords(bytes: Uint8Array): Generator<Uint8Array> {
  const r = new ByteReader(bytes);
  while (!r.done) yield r.readBytes(r.readVarint());
}

/** Stable hash of a key's bytes to a partition (FNV-1a, 32 bit). */
export function partitionOf(key: Uint8Array, partitions: number): number {
  return hashBytes(key) % partitions;
}
