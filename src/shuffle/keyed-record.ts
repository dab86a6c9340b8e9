// The record a map task writes for an edge the runner groups (GroupByKey, CoGroupByKey): the
// map side has already parsed the element, so the reducer sorts and groups raw bytes without
// decoding anything. An element in several windows becomes one record per window.
//
//   uint32 BE  hash of the key bytes (FNV-1a: the hash that chose the partition)
//   varint     key length, then the key bytes exactly as the KV coder wrote them
//   varint     window length, then one encoded window (empty for the global window)
//   8 bytes    the element's timestamp as Beam encodes it (sign-flipped big-endian millis),
//              so comparing these bytes compares timestamps
//   rest       the encoded value
//
// Records are framed like every shuffle record: a varint length, then these bytes.
import { type GrowableBuffer, readVarintAt, varintEnd, varintSize } from "./growable-buffer.js";

/** FNV-1a over bytes [start, end) of `buf`, as an unsigned 32-bit number. */
export function hashBytes(buf: Uint8Array, start = 0, end = buf.length): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= buf[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Appends one framed keyed record. */
export function writeKeyedRecord(out: GrowableBuffer, hash: number, key: Uint8Array, window: Uint8Array, timestamp: Uint8Array, value: Uint8Array): void {
  const payload = 4 + varintSize(key.length) + key.length + varintSize(window.length) + window.length + 8 + value.length;
  out.ensure(payload + 10);
  out.varint(payload);
  out.uint32(hash);
  out.varint(key.length);
  out.bytes(key);
  out.varint(window.length);
  out.bytes(window);
  out.bytes(timestamp);
  out.bytes(value);
}

/** Appends one framed keyed record whose parts are ranges of `buf` (no views made). */
export function writeKeyedRecordFrom(
  out: GrowableBuffer,
  hash: number,
  buf: Buffer,
  keyStart: number,
  keyEnd: number,
  windowStart: number,
  windowEnd: number,
  timestampStart: number,
  valueStart: number,
  valueEnd: number,
): void {
  const keyLength = keyEnd - keyStart;
  const windowLength = windowEnd - windowStart;
  const payload = 4 + varintSize(keyLength) + keyLength + varintSize(windowLength) + windowLength + 8 + (valueEnd - valueStart);
  out.ensure(payload + 10);
  out.varint(payload);
  out.uint32(hash);
  out.varint(keyLength);
  out.range(buf, keyStart, keyEnd);
  out.varint(windowLength);
  out.range(buf, windowStart, windowEnd);
  out.range(buf, timestampStart, timestampStart + 8);
  out.range(buf, valueStart, valueEnd);
}

/**
 * The fields of a keyed record whose payload is bytes [start, end) of `buf`, as offsets.
 * One mutable instance is reused so that parsing millions of records allocates nothing.
 */
export class KeyedRecordView {
  buf!: Buffer;
  hash = 0;
  keyStart = 0;
  keyEnd = 0;
  windowStart = 0;
  windowEnd = 0;
  /** The timestamp is [windowEnd, windowEnd + 8); the value follows it. */
  valueStart = 0;
  valueEnd = 0;

  parse(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.hash = buf.readUInt32BE(start);
    const keyLength = readVarintAt(buf, start + 4);
    this.keyStart = varintEnd.pos;
    this.keyEnd = this.keyStart + keyLength;
    const windowLength = readVarintAt(buf, this.keyEnd);
    this.windowStart = varintEnd.pos;
    this.windowEnd = this.windowStart + windowLength;
    this.valueStart = this.windowEnd + 8;
    this.valueEnd = end;
    if (this.valueStart > end) throw new Error(`keyed shuffle record at offset ${start} is truncated`);
    return this;
  }
}

/** Orders two records by (hash, key bytes, window bytes); 0 means they belong to one group. */
export function compareKeyed(a: KeyedRecordView, b: KeyedRecordView): number {
  if (a.hash !== b.hash) return a.hash < b.hash ? -1 : 1;
  const byKey = a.buf.compare(b.buf, b.keyStart, b.keyEnd, a.keyStart, a.keyEnd);
  if (byKey !== 0) return byKey;
  return a.buf.compare(b.buf, b.windowStart, b.windowEnd, a.windowStart, a.windowEnd);
}
