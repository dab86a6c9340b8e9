// An append-only byte buffer that doubles when full. The shuffle writes millions of small
// records; appending them here costs a copy each and no per-record allocation.

import { readSetting } from "../common/config.js";

export { readVarintAt, varintEnd } from "../codec/skippers.js";

/**
 * Buffers of power-of-two sizes kept for reuse within a process. Fresh memory costs a page fault
 * per 4 KB on first touch, which for a shuffle's gigabytes is seconds of CPU; a worker runs task
 * after task, so the buffers one task released serve the next.
 */
class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private held = 0;

  constructor(private readonly maxBytes: number) {}

  acquire(minBytes: number): Buffer {
    const size = 2 ** Math.ceil(Math.log2(Math.max(minBytes, 4096)));
    const reused = this.free.get(size)?.pop();
    if (reused) {
      this.held -= size;
      return reused;
    }
    return Buffer.allocUnsafeSlow(size);
  }

  release(buf: Buffer): void {
    const size = buf.length;
    if ((size & (size - 1)) !== 0 || size < 4096 || this.held + size > this.maxBytes) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
    this.held += size;
  }
}

let pool: BufferPool | undefined;

/** The process's pool, sized by BEAM_LAMBDA_BUFFER_POOL_MB on first use (not on import, so a launcher or test can set it first). */
function bufferPool(): BufferPool {
  pool ??= new BufferPool(readSetting("bufferPoolMb") * 2 ** 20);
  return pool;
}

export class GrowableBuffer {
  buf: Buffer;
  length = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = bufferPool().acquire(initialBytes);
  }

  /** Makes room for `n` more bytes. Views taken before are then stale. */
  ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    const next = bufferPool().acquire(need);
    this.buf.copy(next, 0, 0, this.length);
    bufferPool().release(this.buf);
    this.buf = next;
  }

  /** Gives the memory back for reuse; the buffer and its views must not be used after. */
  release(): void {
    bufferPool().release(this.buf);
    this.buf = Buffer.alloc(0);
    this.length = 0;
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
    this.buf = bufferPool().acquire(this.buf.length);
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

/** Whether a[as, ae) and b[bs, be) hold the same bytes (a loop: these are short keys and windows). */
export function equalRanges(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): boolean {
  if (ae - as !== be - bs) return false;
  for (let i = as, j = bs; i < ae; i++, j++) if (a[i] !== b[j]) return false;
  return true;
}
