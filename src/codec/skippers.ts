// Allocation-free walking of encoded elements, for the hot paths that see every element of a
// shuffle. A coder tree is compiled once into closures that return the position after a value;
// nothing is allocated per element, unlike the general ByteReader-based functions in coders.ts.
import { CodecError } from "./byte-io.js";
import type { CoderTree } from "./coders.js";
import { Coders } from "../common/urns.js";

/** Returns the position just after the value that starts at `pos`. */
export type Skipper = (buf: Uint8Array, pos: number) => number;

function varintAfter(buf: Uint8Array, pos: number): number {
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new CodecError(`truncated varint at offset ${pos}`);
    if ((buf[pos++]! & 0x80) === 0) return pos;
  }
  throw new CodecError(`varint longer than 10 bytes at offset ${pos}`);
}

/** Reads a non-negative varint at `pos`; the position after it is left in `varintEnd.pos`. */
export const varintEnd = { pos: 0 };
export function readVarintAt(buf: Uint8Array, pos: number): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new CodecError(`truncated varint at offset ${pos}`);
    const b = buf[pos++]!;
    result += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      varintEnd.pos = pos;
      return result;
    }
    scale *= 128;
  }
  throw new CodecError(`varint longer than 10 bytes before offset ${pos}`);
}

/** The position after a length-prefixed run of bytes. */
function lengthPrefixedAfter(buf: Uint8Array, pos: number): number {
  const length = readVarintAt(buf, pos);
  return varintEnd.pos + length;
}

function int32At(buf: Uint8Array, pos: number): number {
  return ((buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!) | 0;
}

function child(coder: CoderTree, i: number): CoderTree {
  const c = coder.components[i];
  if (!c) throw new CodecError(`coder '${coder.urn}' is missing component ${i}`);
  return c;
}

/** Beam's pane encoding: one byte, then zero, one or two varints depending on its high nibble. */
export function paneAfter(buf: Uint8Array, pos: number): number {
  const encoding = buf[pos]! >> 4;
  pos++;
  if (encoding === 1) return varintAfter(buf, pos);
  if (encoding === 2) return varintAfter(buf, varintAfter(buf, pos));
  return pos;
}

export function compileSkipper(coder: CoderTree): Skipper {
  switch (coder.urn) {
    case Coders.bytes:
    case Coders.stringUtf8:
    case Coders.lengthPrefix:
      return lengthPrefixedAfter;
    case Coders.varint:
      return varintAfter;
    case Coders.bool:
      return (_, pos) => pos + 1;
    case Coders.double:
      return (_, pos) => pos + 8;
    case Coders.globalWindow:
      return (_, pos) => pos;
    case Coders.intervalWindow:
      return (buf, pos) => varintAfter(buf, pos + 8);
    case Coders.kv: {
      const key = compileSkipper(child(coder, 0));
      const value = compileSkipper(child(coder, 1));
      return (buf, pos) => value(buf, key(buf, pos));
    }
    case Coders.nullable: {
      const inner = compileSkipper(child(coder, 0));
      return (buf, pos) => (buf[pos] === 1 ? inner(buf, pos + 1) : pos + 1);
    }
    case Coders.iterable:
    case Coders.stateBackedIterable: {
      const element = compileSkipper(child(coder, 0));
      return (buf, pos) => iterableAfter(element, buf, pos);
    }
    case Coders.windowedValue: {
      const value = compileSkipper(child(coder, 0));
      const window = compileSkipper(child(coder, 1));
      return (buf, pos) => {
        const count = int32At(buf, pos + 8);
        pos += 12;
        for (let i = 0; i < count; i++) pos = window(buf, pos);
        return value(buf, paneAfter(buf, pos));
      };
    }
    default:
      throw new CodecError(`the runner cannot parse coder '${coder.urn}'; it should have been length-prefixed`);
  }
}

function iterableAfter(element: Skipper, buf: Uint8Array, pos: number): number {
  const count = int32At(buf, pos);
  pos += 4;
  if (count >= 0) {
    for (let i = 0; i < count; i++) pos = element(buf, pos);
    return pos;
  }
  // Blocks of (varint count, elements), ended by 0, or by varint -1 (ten bytes, as every
  // negative 64-bit varint is) and a length-prefixed state token.
  for (;;) {
    let block = 0;
    let scale = 1;
    let length = 0;
    for (;;) {
      const x = buf[pos++]!;
      length++;
      block += (x & 0x7f) * scale;
      if ((x & 0x80) === 0) break;
      if (length === 10) throw new CodecError(`varint longer than 10 bytes at offset ${pos}`);
      scale *= 128;
    }
    if (length === 10) return lengthPrefixedAfter(buf, pos);
    if (block === 0) return pos;
    for (let i = 0; i < block; i++) pos = element(buf, pos);
  }
}

/**
 * Positions of the parts of one WindowedValue(KV(K, V)), filled by `scan` without allocating:
 * the timestamp is [start, start + 8), the windows follow, then the pane, key and value.
 */
export class WindowedKvScanner {
  private readonly window: Skipper;
  private readonly key: Skipper;
  private readonly value: Skipper;
  windowCount = 0;
  /** Start of the first window; windows are back to back, each `window`-skippable. */
  windowsStart = 0;
  keyStart = 0;
  keyEnd = 0;
  valueEnd = 0;

  constructor(wire: CoderTree) {
    if (wire.urn !== Coders.windowedValue) throw new CodecError(`expected a windowed value coder, got '${wire.urn}'`);
    const kv = child(wire, 0);
    if (kv.urn !== Coders.kv) throw new CodecError(`expected key-value elements, got '${kv.urn}'`);
    this.window = compileSkipper(child(wire, 1));
    this.key = compileSkipper(child(kv, 0));
    this.value = compileSkipper(child(kv, 1));
  }

  /** Scans the element at `start`; returns where it ends. */
  scan(buf: Uint8Array, start: number): number {
    this.windowCount = int32At(buf, start + 8);
    let pos = (this.windowsStart = start + 12);
    for (let i = 0; i < this.windowCount; i++) pos = this.window(buf, pos);
    this.keyStart = paneAfter(buf, pos);
    this.keyEnd = this.key(buf, this.keyStart);
    this.valueEnd = this.value(buf, this.keyEnd);
    if (this.valueEnd > buf.length) throw new CodecError(`truncated element at offset ${start}`);
    return this.valueEnd;
  }

  /** The end of the window that starts at `pos`. */
  windowAfter(buf: Uint8Array, pos: number): number {
    return this.window(buf, pos);
  }
}
