// Low-level readers and writers for the encodings Beam's standard coders use:
// base-128 varints, big-endian fixed-width integers and sign-flipped timestamps.

/** Thrown when bytes cannot be decoded with the coder the runner expected. */
export class CodecError extends Error {
  override name = "CodecError";
}

/** A cursor over a buffer. Every read advances `pos` and checks bounds. */
export class ByteReader {
  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
    readonly end = buf.length,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) {
      throw new CodecError(`truncated input: need ${n} byte(s) at offset ${this.pos}, have ${this.end - this.pos}`);
    }
  }

  readByte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  /** A varint as a JS number; lengths and counts always fit in 53 bits. */
  readVarint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.readByte();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new CodecError(`varint longer than 10 bytes at offset ${this.pos}`);
  }

  /** A signed 64-bit varint (two's complement, as Beam's VarIntCoder writes it). */
  readVarBigInt(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.readByte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    throw new CodecError(`varint longer than 10 bytes at offset ${this.pos}`);
  }

  skipVarint(): void {
    for (let i = 0; i < 10; i++) {
      if ((this.readByte() & 0x80) === 0) return;
    }
    throw new CodecError(`varint longer than 10 bytes at offset ${this.pos}`);
  }

  readInt32BE(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) | 0;
  }

  readBytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
}

/** Appends encoded values to a growing list of chunks. */
export class ByteWriter {
  private chunks: Uint8Array[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  bytes(b: Uint8Array): this {
    this.chunks.push(b);
    this.size += b.length;
    return this;
  }

  byte(v: number): this {
    return this.bytes(Uint8Array.of(v & 0xff));
  }

  varint(v: number | bigint): this {
    return this.bytes(encodeVarint(v));
  }

  int32BE(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v);
    return this.bytes(b);
  }

  finish(): Buffer {
    const out = Buffer.concat(this.chunks, this.size);
    this.chunks = [out];
    return out;
  }
}

export function encodeVarint(value: number | bigint): Uint8Array {
  // Lengths and counts are small non-negative numbers: encode them without BigInt, which is slow.
  if (typeof value === "number" && value >= 0 && value <= 0x7fffffff && Number.isInteger(value)) {
    if (value < 0x80) return Uint8Array.of(value);
    const out: number[] = [];
    let n = value;
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return Uint8Array.from(out);
  }
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return Uint8Array.from(out);
}

const SIGN_BIT = 1n << 63n;

/** Beam timestamps on the wire: int64 milliseconds, big-endian, sign bit flipped so bytes sort. */
export function encodeTimestampMillis(millis: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, millis) ^ SIGN_BIT);
  return b;
}

export function decodeTimestampMillis(bytes: Uint8Array, offset = 0): bigint {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset + offset, 8);
  return BigInt.asIntN(64, view.readBigUInt64BE(0) ^ SIGN_BIT);
}
