// One map task's output for one PCollection is ONE object: its partitions back to back, each a
// sequence of records (varint length + bytes), followed by an index so the object describes itself:
//
//   [partition 0 records][partition 1 records]...[partition R-1 records]
//   [offset_0 .. offset_R as uint64 BE][R as uint32 BE]["BLRP"]
//
// The writer returns the offsets too; the driver passes each reducer its byte range directly, so a
// reducer needs one ranged GET per map output and never reads the index.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzip, constants as zlibConstants } from "node:zlib";
import { ByteReader } from "../codec/byte-io.js";
import type { ObjectStore } from "../store/index.js";
import { GrowableBuffer } from "./growable-buffer.js";
import { hashBytes } from "./keyed-record.js";

const MAGIC = Buffer.from("BLRP");
// zlib's asynchronous calls run on libuv's thread pool, beside the JavaScript thread.
const gzipAsync = promisify(gzip);
/** The largest partition of the last object written in this process (a sizing hint). */
let lastPartitionBytes = 0;

export interface WriterOptions {
  /** Bytes buffered before the partitions move to a local file (default: no limit). */
  memoryBudgetBytes?: number;
  /** Where they move (a Lambda's /tmp). */
  spillDir?: string;
}

/** Partition bytes moved to a local file, in the order they were written. */
interface Spill {
  dir: string;
  fd: number;
  size: number;
  segments: { offset: number; length: number }[][];
}

const SPILL_READ_BYTES = 4 << 20;

/**
 * Buffers records per partition, then writes them as one object. Past its memory budget it
 * appends the partitions buffered so far to a local file and starts again; the object is then
 * streamed to the store from the file and what is left in memory.
 */
export class PartitionedObjectWriter {
  private readonly parts: GrowableBuffer[];
  private count = 0;
  private spill?: Spill;

  constructor(
    readonly partitions: number,
    private readonly options: WriterOptions = {},
  ) {
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

  /** Moves the buffered partitions to the spill file if they are over the budget. */
  maybeSpill(): void {
    const budget = this.options.memoryBudgetBytes;
    if (budget === undefined || this.bytes <= budget) return;
    if (!this.spill) {
      const dir = mkdtempSync(join(this.options.spillDir ?? tmpdir(), "blr-map-spill-"));
      this.spill = { dir, fd: openSync(join(dir, "partitions"), "w+"), size: 0, segments: this.parts.map(() => []) };
    }
    const spill = this.spill;
    this.parts.forEach((part, p) => {
      if (part.length === 0) return;
      const bytes = part.view();
      for (let done = 0; done < bytes.length; ) done += writeSync(spill.fd, bytes, done, bytes.length - done, spill.size + done);
      spill.segments[p]!.push({ offset: spill.size, length: bytes.length });
      spill.size += bytes.length;
      part.length = 0;
    });
  }

  /** Whether part of the output went to local disk. */
  get spilled(): boolean {
    return this.spill !== undefined;
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
    if (this.spill) return this.writeSpilled(store, key, this.spill, compression);
    const blocks: Uint8Array[] = await Promise.all(
      this.parts.map((p) => (compression && p.length > 0 ? gzipAsync(p.view(), { level: zlibConstants.Z_BEST_SPEED }) : Promise.resolve(p.view()))),
    );
    const offsets = [0];
    for (const b of blocks) offsets.push(offsets[offsets.length - 1]! + b.length);
    await store.put(key, [...blocks, encodeIndex(offsets)]);
    lastPartitionBytes = Math.max(...this.parts.map((p) => p.length));
    for (const p of this.parts) p.release();
    return offsets;
  }

  private async writeSpilled(store: ObjectStore, key: string, spill: Spill, compression?: "gzip"): Promise<number[]> {
    const offsets = [0];
    const parts = this.parts;
    // Each piece is its own gzip member when compressing; members concatenated decode as one.
    const encode = async (piece: Buffer): Promise<Buffer> => (compression ? gzipAsync(piece, { level: zlibConstants.Z_BEST_SPEED }) : piece);
    async function* body(): AsyncGenerator<Uint8Array> {
      for (let p = 0; p < parts.length; p++) {
        let size = 0;
        for (const segment of spill.segments[p]!) {
          for (let at = 0; at < segment.length; at += SPILL_READ_BYTES) {
            const piece = Buffer.allocUnsafe(Math.min(SPILL_READ_BYTES, segment.length - at));
            for (let done = 0; done < piece.length; ) done += readSync(spill.fd, piece, done, piece.length - done, segment.offset + at + done);
            const out = await encode(piece);
            size += out.length;
            yield out;
          }
        }
        if (parts[p]!.length > 0) {
          const out = await encode(parts[p]!.view());
          size += out.length;
          yield out;
        }
        offsets.push(offsets[p]! + size);
      }
      yield encodeIndex(offsets);
    }
    try {
      await store.put(key, body());
    } finally {
      closeSync(spill.fd);
      rmSync(spill.dir, { recursive: true, force: true });
      this.spill = undefined;
      for (const p of this.parts) p.release();
    }
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
