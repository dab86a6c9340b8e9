// The record a map task writes for an edge the runner groups (GroupByKey, CoGroupByKey): the
// map side has already parsed the element, so the reducer sorts and groups raw bytes without
// decoding anything. An element in several windows becomes one record per window.
//
//   uint32 BE  hash of the key bytes (FNV-1a: the hash that chose the partition)
//   8 bytes    the element's timestamp as Beam encodes it (sign-flipped big-endian millis),
//              so comparing these bytes compares timestamps
//   varint     window length, then one encoded window (empty for the global window)
//   varint     key length, then the key bytes exactly as the KV coder wrote them
//   rest       the encoded value
//
// Key and value stay adjacent, as in the element, so the writer copies them as one range.
// Records are framed like every shuffle record: a varint length, then these bytes.
//
// This module is the only TypeScript that knows the layout: others read a record through
// KeyedRecordView. The WebAssembly kernel (wasm/grouping.ts) cannot import it and parses the
// same layout itself; a change here must be made there too.
import { type GrowableBuffer, readVarintAt, varintEnd, varintSize } from "./growable-buffer.js";

// The key's hash, FNV-1a over bytes [start, end) of a buffer.
export { fnv1a32 as hashBytes } from "../common/fnv1a.js";

/** Every payload starts with the key's hash: a shorter frame cannot hold a keyed record. */
export const HASH_BYTES = 4;
/** Beam's encoded timestamp, right after the hash. */
const TIMESTAMP_BYTES = 8;

/**
 * Appends one framed keyed record whose parts are ranges of `buf`: the timestamp at
 * `timestampStart`, the window [windowStart, windowEnd), the key [keyStart, keyEnd) and the
 * value right after it, up to `valueEnd`. Written byte by byte into the buffer: this runs once
 * per element of every shuffle, and the buffer's helpers cost a call (and Buffer#copy a view
 * allocation) each.
 */
export function writeKeyedRecordFrom(
  out: GrowableBuffer,
  hash: number,
  buf: Buffer,
  timestampStart: number,
  windowStart: number,
  windowEnd: number,
  keyStart: number,
  keyEnd: number,
  valueEnd: number,
): void {
  const keyLength = keyEnd - keyStart;
  const windowLength = windowEnd - windowStart;
  const payload = HASH_BYTES + TIMESTAMP_BYTES + varintSize(windowLength) + windowLength + varintSize(keyLength) + (valueEnd - keyStart);
  out.ensure(payload + 10);
  const b = out.buf;
  let p = out.length;
  for (let v = payload; ; v = Math.floor(v / 128)) {
    if (v < 0x80) {
      b[p++] = v;
      break;
    }
    b[p++] = (v & 0x7f) | 0x80;
  }
  b[p++] = hash >>> 24;
  b[p++] = (hash >>> 16) & 0xff;
  b[p++] = (hash >>> 8) & 0xff;
  b[p++] = hash & 0xff;
  for (let i = timestampStart; i < timestampStart + TIMESTAMP_BYTES; i++) b[p++] = buf[i]!;
  for (let v = windowLength; ; v = Math.floor(v / 128)) {
    if (v < 0x80) {
      b[p++] = v;
      break;
    }
    b[p++] = (v & 0x7f) | 0x80;
  }
  for (let i = windowStart; i < windowEnd; i++) b[p++] = buf[i]!;
  for (let v = keyLength; ; v = Math.floor(v / 128)) {
    if (v < 0x80) {
      b[p++] = v;
      break;
    }
    b[p++] = (v & 0x7f) | 0x80;
  }
  out.length = p;
  out.range(buf, keyStart, valueEnd);
}

/**
 * The fields of a keyed record whose payload is bytes [start, end) of `buf`, as offsets.
 * One mutable instance is reused so that parsing millions of records allocates nothing.
 */
export class KeyedRecordView {
  buf!: Buffer;
  /** Where the payload starts (the hash). */
  start = 0;
  hash = 0;
  windowStart = 0;
  windowEnd = 0;
  keyStart = 0;
  keyEnd = 0;
  /** Where the value, and with it the payload, ends. */
  valueEnd = 0;

  /** The encoded timestamp is [timestampStart, timestampEnd). */
  get timestampStart(): number {
    return this.start + HASH_BYTES;
  }

  get timestampEnd(): number {
    return this.start + HASH_BYTES + TIMESTAMP_BYTES;
  }

  /** The value is [valueStart, valueEnd): it follows the key. */
  get valueStart(): number {
    return this.keyEnd;
  }

  parse(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.start = start;
    this.hash = buf.readUInt32BE(start);
    const windowLength = readVarintAt(buf, start + HASH_BYTES + TIMESTAMP_BYTES);
    this.windowStart = varintEnd.pos;
    this.windowEnd = this.windowStart + windowLength;
    const keyLength = readVarintAt(buf, this.windowEnd);
    this.keyStart = varintEnd.pos;
    this.keyEnd = this.keyStart + keyLength;
    this.valueEnd = end;
    if (this.keyEnd > end) throw new Error(`keyed shuffle record at offset ${start} is truncated`);
    return this;
  }
}

/** Appends the record `view` points at, framed as it was read: varint length, then the payload. */
export function appendFramedRecord(out: GrowableBuffer, view: KeyedRecordView): void {
  out.varint(view.valueEnd - view.start);
  out.range(view.buf, view.start, view.valueEnd);
}

/** Orders two records by (hash, key bytes, window bytes); 0 means they belong to one group. */
export function compareKeyed(a: KeyedRecordView, b: KeyedRecordView): number {
  if (a.hash !== b.hash) return a.hash < b.hash ? -1 : 1;
  const byKey = a.buf.compare(b.buf, b.keyStart, b.keyEnd, a.keyStart, a.keyEnd);
  if (byKey !== 0) return byKey;
  return a.buf.compare(b.buf, b.windowStart, b.windowEnd, a.windowStart, a.windowEnd);
}
