// The elements of the Fn API's beam:transform:merge_windows:v1, which runs a WindowFn's merge in
// the SDK for a runner that cannot run the WindowFn itself:
//
//   input   KV<nonce, Iterable<window>>                                     one per key
//   output  KV<nonce, KV<Iterable<unmerged window>,
//                        Iterable<KV<merged window, Iterable<window merged into it>>>>>
//
// The nonce is opaque bytes that pair an output with its input. Both travel as windowed values in
// the global window. Windows stay encoded throughout: with the window coder the grouping reads
// them with, they are the same bytes as in the shuffle's records, so they can be compared as bytes.
import { ByteReader, ByteWriter, CodecError, encodeTimestampMillis } from "./byte-io.js";
import { type CoderTree, skipValue, splitWindowedValue } from "./coders.js";
import { Coders } from "../common/urns.js";
import { MIN_TIMESTAMP_MILLIS, PANE_NO_FIRING } from "./windows.js";

const MIN_TIMESTAMP = encodeTimestampMillis(MIN_TIMESTAMP_MILLIS);

/** One merge: `window` is the merge result of `from` (which may include `window` itself). */
export interface WindowMergeResult {
  window: Uint8Array;
  from: Uint8Array[];
}

export interface MergeWindowsOutput {
  nonce: Uint8Array;
  /** Windows the WindowFn left as they were. */
  unmerged: Uint8Array[];
  merges: WindowMergeResult[];
}

/** Encodes one input element: WindowedValue(global window, KV(bytes nonce, Iterable(window))). */
export function encodeMergeWindowsInput(nonce: Uint8Array, windows: readonly Uint8Array[]): Buffer {
  const w = new ByteWriter().bytes(MIN_TIMESTAMP).int32BE(1).bytes(PANE_NO_FIRING);
  w.varint(nonce.length).bytes(nonce).int32BE(windows.length);
  for (const window of windows) w.bytes(window);
  return w.finish();
}

/**
 * Reads the output elements in one data block, given the sink's windowed-value coder (whose value
 * coder has the output's shape, with the window coder the input used).
 */
export function readMergeWindowsOutput(wire: CoderTree, data: Uint8Array): MergeWindowsOutput[] {
  const window = outputWindowCoder(wire);
  const r = new ByteReader(data);
  const out: MergeWindowsOutput[] = [];
  while (!r.done) {
    const value = new ByteReader(splitWindowedValue(wire, r).value);
    const nonce = value.readBytes(value.readVarint());
    const unmerged = readIterable(value, () => readWindow(window, value));
    const merges = readIterable(value, () => ({ window: readWindow(window, value), from: readIterable(value, () => readWindow(window, value)) }));
    if (!value.done) throw new CodecError("a merge_windows output element has bytes after its merges");
    out.push({ nonce, unmerged, merges });
  }
  return out;
}

/** The window coder inside WindowedValue(KV(bytes, KV(Iterable(W), Iterable(KV(W, Iterable(W)))))). */
function outputWindowCoder(wire: CoderTree): CoderTree {
  const shape = (tree: CoderTree | undefined, urn: string): CoderTree => {
    if (tree?.urn !== urn) throw new CodecError(`the merge_windows output coder has '${tree?.urn ?? "nothing"}' where '${urn}' belongs`);
    return tree;
  };
  const kv = shape(shape(wire, Coders.windowedValue).components[0], Coders.kv);
  shape(kv.components[0], Coders.bytes);
  const result = shape(kv.components[1], Coders.kv);
  shape(shape(result.components[1], Coders.iterable).components[0], Coders.kv);
  const window = shape(result.components[0], Coders.iterable).components[0];
  if (!window) throw new CodecError("the merge_windows output coder has no window coder");
  return window;
}

function readWindow(coder: CoderTree, r: ByteReader): Uint8Array {
  const start = r.pos;
  skipValue(coder, r);
  return r.buf.subarray(start, r.pos);
}

/** Reads an iterable: a count and the elements, or -1 and blocks of elements ending with 0. */
function readIterable<T>(r: ByteReader, readElement: () => T): T[] {
  const out: T[] = [];
  const count = r.readInt32BE();
  if (count >= 0) {
    for (let i = 0; i < count; i++) out.push(readElement());
    return out;
  }
  for (;;) {
    const block = r.readVarBigInt();
    if (block === 0n) return out;
    if (block < 0n) throw new CodecError("a merge_windows output holds a state-backed iterable, which the runner did not ask for");
    for (let i = 0n; i < block; i++) out.push(readElement());
  }
}
