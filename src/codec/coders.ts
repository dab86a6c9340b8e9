// The coders the runner must read itself. Everything else crosses the runner as opaque,
// length-prefixed bytes: `lengthPrefixUnknownCoders` rewrites a coder so that every component the
// runner does not know is wrapped in beam:coder:length_prefix:v1, which the SDK then writes for us.
import type { Coder } from "apache-beam/proto/beam_runner_api";
import { Coders } from "../common/urns.js";
import { ByteReader, CodecError, decodeTimestampMillis } from "./byte-io.js";

/** A coder with its components resolved into a tree. */
export interface CoderTree {
  readonly urn: string;
  readonly components: readonly CoderTree[];
}

const RUNNER_KNOWN = new Set<string>([
  Coders.bytes,
  Coders.stringUtf8,
  Coders.kv,
  Coders.bool,
  Coders.varint,
  Coders.double,
  Coders.iterable,
  Coders.stateBackedIterable,
  Coders.timer,
  Coders.intervalWindow,
  Coders.globalWindow,
  Coders.lengthPrefix,
  Coders.windowedValue,
  Coders.nullable,
]);

export function isRunnerKnownCoder(urn: string): boolean {
  return RUNNER_KNOWN.has(urn);
}

export function resolveCoder(coders: Record<string, Coder>, id: string): CoderTree {
  const coder = coders[id];
  if (!coder) throw new CodecError(`coder '${id}' is not in the pipeline's components`);
  return {
    urn: coder.spec?.urn ?? "",
    components: coder.componentCoderIds.map((c) => resolveCoder(coders, c)),
  };
}

/**
 * Returns the id of a coder equal to `id` except that every component the runner cannot parse
 * is wrapped in a length prefix. New coders are added to `coders` (ids derived from `id`).
 */
export function lengthPrefixUnknownCoders(coders: Record<string, Coder>, id: string): string {
  const coder = coders[id];
  if (!coder) throw new CodecError(`coder '${id}' is not in the pipeline's components`);
  const urn = coder.spec?.urn ?? "";
  if (urn === Coders.lengthPrefix) return id;
  if (!isRunnerKnownCoder(urn)) {
    return addCoder(coders, `${id}_lp`, { spec: { urn: Coders.lengthPrefix, payload: new Uint8Array() }, componentCoderIds: [id] });
  }
  const components = coder.componentCoderIds.map((c) => lengthPrefixUnknownCoders(coders, c));
  if (components.every((c, i) => c === coder.componentCoderIds[i])) return id;
  return addCoder(coders, `${id}_lp`, { spec: coder.spec, componentCoderIds: components });
}

/** Adds `coder` under `preferredId` (or a fresh variant of it) unless an identical one exists. */
export function addCoder(coders: Record<string, Coder>, preferredId: string, coder: Coder): string {
  let candidate = preferredId;
  for (let i = 1; coders[candidate]; i++) {
    if (sameCoder(coders[candidate]!, coder)) return candidate;
    candidate = `${preferredId}_${i}`;
  }
  coders[candidate] = coder;
  return candidate;
}

function sameCoder(a: Coder, b: Coder): boolean {
  return (
    a.spec?.urn === b.spec?.urn &&
    Buffer.compare(Buffer.from(a.spec?.payload ?? []), Buffer.from(b.spec?.payload ?? [])) === 0 &&
    a.componentCoderIds.join("\0") === b.componentCoderIds.join("\0")
  );
}

/** Advances `r` past one value encoded (nested) with `coder`. */
export function skipValue(coder: CoderTree, r: ByteReader): void {
  switch (coder.urn) {
    case Coders.bytes:
    case Coders.stringUtf8:
    case Coders.lengthPrefix:
      r.skip(r.readVarint());
      return;
    case Coders.varint:
      r.skipVarint();
      return;
    case Coders.bool:
      r.skip(1);
      return;
    case Coders.double:
      r.skip(8);
      return;
    case Coders.globalWindow:
      return;
    case Coders.intervalWindow:
      r.skip(8);
      r.skipVarint();
      return;
    case Coders.kv:
      skipValue(child(coder, 0), r);
      skipValue(child(coder, 1), r);
      return;
    case Coders.nullable:
      if (r.readByte() === 1) skipValue(child(coder, 0), r);
      return;
    case Coders.iterable:
    case Coders.stateBackedIterable:
      skipIterable(child(coder, 0), r);
      return;
    case Coders.windowedValue:
      splitWindowedValue(coder, r);
      return;
    case Coders.timer:
      skipTimer(coder, r);
      return;
    default:
      throw new CodecError(`the runner cannot parse coder '${coder.urn}'; it should have been length-prefixed`);
  }
}

function child(coder: CoderTree, i: number): CoderTree {
  const c = coder.components[i];
  if (!c) throw new CodecError(`coder '${coder.urn}' is missing component ${i}`);
  return c;
}

function skipIterable(element: CoderTree, r: ByteReader): void {
  const count = r.readInt32BE();
  if (count >= 0) {
    for (let i = 0; i < count; i++) skipValue(element, r);
    return;
  }
  // Count -1 announces blocks: a varint block size, the block's elements, ..., a zero, or a
  // varint -1 and a length-prefixed state token for the rest (a state-backed iterable).
  for (;;) {
    const block = r.readVarBigInt();
    if (block === 0n) return;
    if (block === -1n) {
      r.skip(r.readVarint());
      return;
    }
    for (let i = 0; i < block; i++) skipValue(element, r);
  }
}

function skipTimer(coder: CoderTree, r: ByteReader): void {
  splitTimer(coder, r);
}

/** One beam:coder:timer:v1 value, as byte ranges of the original buffer. */
export interface TimerParts {
  /** User key, dynamic tag and windows: what makes two settings the same timer. */
  identity: Uint8Array;
  cleared: boolean;
  /** The fire timestamp in milliseconds (0 when cleared). */
  fireAt: bigint;
  whole: Uint8Array;
}

/** Reads one timer: key, dynamic tag, windows, clear bit, then (unless cleared) fire and hold timestamps and pane. */
export function splitTimer(coder: CoderTree, r: ByteReader): TimerParts {
  if (coder.urn !== Coders.timer) throw new CodecError(`expected a timer coder, got '${coder.urn}'`);
  const start = r.pos;
  skipValue(child(coder, 0), r); // user key
  r.skip(r.readVarint()); // dynamic timer tag
  skipIterable(child(coder, 1), r); // windows
  const identity = r.buf.subarray(start, r.pos);
  const cleared = r.readByte() === 1;
  let fireAt = 0n;
  if (!cleared) {
    fireAt = decodeTimestampMillis(r.readBytes(8));
    r.skip(8); // hold timestamp
    skipPane(r);
  }
  return { identity, cleared, fireAt, whole: r.buf.subarray(start, r.pos) };
}

function skipPane(r: ByteReader): void {
  const first = r.readByte();
  const encoding = first >> 4;
  if (encoding === 1) r.skipVarint();
  else if (encoding === 2) {
    r.skipVarint();
    r.skipVarint();
  }
}

/** The parts of one windowed value, as byte ranges of the original buffer. */
export interface WindowedValueParts {
  /** 8 bytes: the event time, sign-flipped big-endian milliseconds. */
  timestamp: Uint8Array;
  /** Each window's encoding (a value may be in several windows). */
  windows: Uint8Array[];
  pane: Uint8Array;
  value: Uint8Array;
  /** The whole encoded element. */
  whole: Uint8Array;
}

/** Reads one beam:coder:windowed_value:v1 element, returning its parts without copying. */
export function splitWindowedValue(coder: CoderTree, r: ByteReader): WindowedValueParts {
  if (coder.urn !== Coders.windowedValue) throw new CodecError(`expected a windowed value coder, got '${coder.urn}'`);
  const start = r.pos;
  const timestamp = r.readBytes(8);
  const windowCoder = child(coder, 1);
  const windowCount = r.readInt32BE();
  const windows: Uint8Array[] = [];
  for (let i = 0; i < windowCount; i++) {
    const ws = r.pos;
    skipValue(windowCoder, r);
    windows.push(r.buf.subarray(ws, r.pos));
  }
  const paneStart = r.pos;
  skipPane(r);
  const pane = r.buf.subarray(paneStart, r.pos);
  const valueStart = r.pos;
  skipValue(child(coder, 0), r);
  return { timestamp, windows, pane, value: r.buf.subarray(valueStart, r.pos), whole: r.buf.subarray(start, r.pos) };
}

/** Splits an encoded KV into its encoded key and encoded value. */
export function splitKv(kvCoder: CoderTree, bytes: Uint8Array): { key: Uint8Array; value: Uint8Array } {
  if (kvCoder.urn !== Coders.kv) throw new CodecError(`expected a KV coder, got '${kvCoder.urn}'`);
  const r = new ByteReader(bytes);
  skipValue(child(kvCoder, 0), r);
  const keyEnd = r.pos;
  skipValue(child(kvCoder, 1), r);
  return { key: bytes.subarray(0, keyEnd), value: bytes.subarray(keyEnd, r.pos) };
}

/** Splits a concatenation of encoded elements (one Fn API data block) into the elements. */
export function splitElements(coder: CoderTree, data: Uint8Array): Uint8Array[] {
  const r = new ByteReader(data);
  const out: Uint8Array[] = [];
  while (!r.done) {
    const start = r.pos;
    skipValue(coder, r);
    out.push(data.subarray(start, r.pos));
  }
  return out;
}
