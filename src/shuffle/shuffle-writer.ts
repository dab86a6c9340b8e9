// The map side of a shuffle: turns the encoded elements a stage emits for one materialized
// PCollection into one partitioned object. Edges the runner groups get keyed records (parsed
// once here, so reducers sort raw bytes); other edges keep the elements as they are.
import type { CoderTree } from "../codec/coders.js";
import { type Skipper, WindowedKvScanner, compileSkipper } from "../codec/skippers.js";
import type { ObjectStore } from "../store/index.js";
import type { GrowableBuffer } from "./growable-buffer.js";
import { hashBytes, writeKeyedRecordFrom } from "./keyed-record.js";
import { PartitionedObjectWriter, type WriterOptions } from "./partitioned-object.js";

/** `keyed`: one keyed record per (element, window), for grouping. `plain`: the element as is. */
export type RecordFormat = "keyed" | "plain";

/**
 * Appends the keyed records of the element [start, end) of `buf` that `scanner` has just
 * scanned: one per window, since an element in several windows joins a group in each.
 */
export function appendKeyedRecords(out: GrowableBuffer, scanner: WindowedKvScanner, hash: number, buf: Buffer, start: number, end: number): void {
  for (let i = 0, w = scanner.windowsStart; i < scanner.windowCount; i++) {
    const windowEnd = scanner.windowAfter(buf, w);
    writeKeyedRecordFrom(out, hash, buf, start, w, windowEnd, scanner.keyStart, scanner.keyEnd, end);
    w = windowEnd;
  }
}

export class ShuffleOutputWriter {
  private readonly writer: PartitionedObjectWriter;
  private readonly skip: Skipper;
  private readonly scanner?: WindowedKvScanner;
  private spread = 0;

  constructor(
    /** The windowed-value wire coder of the elements. */
    private readonly coder: CoderTree,
    partitions: number,
    private readonly partitionBy: "key" | "spread",
    readonly format: RecordFormat,
    options: WriterOptions = {},
  ) {
    if (format === "keyed" && partitionBy !== "key") throw new Error("keyed shuffle records must be partitioned by key");
    this.writer = new PartitionedObjectWriter(partitions, options);
    this.skip = compileSkipper(coder);
    if (partitionBy === "key") this.scanner = new WindowedKvScanner(coder);
  }

  get records(): number {
    return this.writer.records;
  }

  /** Bytes buffered so far. */
  get bytes(): number {
    return this.writer.bytes;
  }

  /** Adds the elements of one data message (whole encoded windowed values back to back). */
  addElements(data: Uint8Array): void {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    for (let pos = 0; pos < buf.length; ) pos = this.addAt(buf, pos);
    this.writer.maybeSpill();
  }

  /** Whether part of the output went to local disk. */
  get spilled(): boolean {
    return this.writer.spilled;
  }

  /** Adds one encoded windowed value. */
  add(element: Uint8Array): void {
    this.addElements(element);
  }

  /** Adds the element starting at `start` of `buf`; returns where it ends. */
  private addAt(buf: Buffer, start: number): number {
    const partitions = this.writer.partitions;
    const scanner = this.scanner;
    if (!scanner) {
      const end = this.skip(buf, start);
      this.writer.addRange(this.spread++ % partitions, buf, start, end);
      return end;
    }
    const end = scanner.scan(buf, start);
    const hash = hashBytes(buf, scanner.keyStart, scanner.keyEnd);
    const partition = hash % partitions;
    if (this.format === "plain") {
      this.writer.addRange(partition, buf, start, end);
      return end;
    }
    appendKeyedRecords(this.writer.partitionBuffer(partition), scanner, hash, buf, start, end);
    return end;
  }

  write(store: ObjectStore, key: string, compression?: "gzip"): Promise<number[]> {
    return this.writer.write(store, key, compression);
  }
}
