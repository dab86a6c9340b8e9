// An append-only byte buffer that doubles when full. The shuffle writes millions of small
// records; appending them here costs a copy each and no per-record allocation.

export { readVarintAt, varintEnd } from "../codec/skippers.js";

export class GrowableBuffer {
  buf: Buffer;
  length = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  /** A non-negative varint (lengths and counts). */
  varint(n: number): void {
    this.ensure(10);
    while (n >= 0x80) {
      this.buf[this.length++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.length++] = n;
  }

  uint32(n: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(n >>> 0, this.length);
    this.length += 4;
  }

  int32(n: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(n | 0, this.length);
    this.length += 4;
  }

  bytes(src: Uint8Array): void {
    this.ensure(src.length);
    this.buf.set(src, this.length);
    this.length += src.length;
  }

  /** Copies src[start, end) without making a view of it first. */
  range(src: Buffer, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    // Buffer#copy costs a view allocation per call; a loop is cheaper for short ranges (keys, windows).
    if (n < 32) {
      const buf = this.buf;
      let at = this.length;
      for (let i = start; i < end; i++) buf[at++] = src[i]!;
    } else {
      src.copy(this.buf, this.length, start, end);
    }
    this.length += n;
  }

  /** The bytes written so far (a view, valid until the next write). */
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** Hands the bytes over and starts again with a fresh buffer of the same capacity. */
  take(): Buffer {
    const out = this.view();
    this.buf = Buffer.allocUnsafe(this.buf.length);
    this.length = 0;
    return out;
  }
}

/** Bytes a varint of `n` takes. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}
