// The elements of beam:transform:merge_windows:v1, against bytes the Python SDK's own coders wrote
// (apache_beam.coders: WindowedValueCoder of TupleCoder / IterableCoder / IntervalWindowCoder,
// in the global window).
import type { Coder } from "apache-beam/proto/beam_runner_api";
import { describe, expect, it } from "vitest";
import { CodecError, encodeIntervalWindow, encodeMergeWindowsInput, readMergeWindowsOutput, resolveCoder } from "../../src/codec/index.js";
import { Coders } from "../../src/common/urns.js";

const coder = (urn: string, ...components: string[]): Coder => ({ spec: { urn, payload: new Uint8Array() }, componentCoderIds: components });
const CODERS: Record<string, Coder> = {
  nonce: coder(Coders.bytes),
  window: coder(Coders.intervalWindow),
  global: coder(Coders.globalWindow),
  windows: coder(Coders.iterable, "window"),
  merge: coder(Coders.kv, "window", "windows"),
  merges: coder(Coders.iterable, "merge"),
  result: coder(Coders.kv, "windows", "merges"),
  output: coder(Coders.kv, "nonce", "result"),
  wireOutput: coder(Coders.windowedValue, "output", "global"),
  wrongShape: coder(Coders.windowedValue, "merge", "global"),
};
const wireOutput = resolveCoder(CODERS, "wireOutput");
const w = (start: number, end: number) => encodeIntervalWindow({ start: BigInt(start * 1000), end: BigInt(end * 1000) });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("merge_windows elements", () => {
  it("encodes an input element as the Python SDK does: KV(nonce, windows) in the global window", () => {
    // (b'key-1', [IntervalWindow(1, 2), IntervalWindow(3, 5)])
    expect(hex(encodeMergeWindowsInput(Buffer.from("key-1"), [w(1, 2), w(3, 5)]))).toBe(
      "7fdf3b645a1cac09000000010f056b65792d310000000280000000000007d0e8078000000000001388d00f",
    );
  });

  it("reads an output element: the unmerged windows and each merged window with the windows it took", () => {
    // (b'key-1', ([IntervalWindow(1, 2)], [(IntervalWindow(3, 9), [IntervalWindow(3, 5), IntervalWindow(4, 9)])]))
    const bytes = Buffer.from(
      "7fdf3b645a1cac09000000010f056b65792d310000000180000000000007d0e807000000018000000000002328f02e000000028000000000001388d00f80000000000023288827",
      "hex",
    );
    const [out, ...rest] = readMergeWindowsOutput(wireOutput, Buffer.concat([bytes, bytes]));
    expect(rest).toHaveLength(1);
    expect(Buffer.from(out!.nonce).toString()).toBe("key-1");
    expect(out!.unmerged.map(hex)).toEqual([hex(w(1, 2))]);
    expect(out!.merges.map((m) => [hex(m.window), m.from.map(hex)])).toEqual([[hex(w(3, 9)), [hex(w(3, 5)), hex(w(4, 9))]]]);
  });

  it("reads iterables of unknown length, which Python writes as -1 and blocks", () => {
    // (b'k', (generator of [IntervalWindow(1, 2)], generator of [(IntervalWindow(3, 9), generator of [IntervalWindow(3, 5)])]))
    const bytes = Buffer.from(
      "7fdf3b645a1cac09000000010f016bffffffff0180000000000007d0e80700ffffffff018000000000002328f02effffffff018000000000001388d00f0000",
      "hex",
    );
    const [out] = readMergeWindowsOutput(wireOutput, bytes);
    expect(out!.unmerged.map(hex)).toEqual([hex(w(1, 2))]);
    expect(out!.merges.map((m) => [hex(m.window), m.from.map(hex)])).toEqual([[hex(w(3, 9)), [hex(w(3, 5))]]]);
  });

  it("refuses an output coder of another shape, naming what it found", () => {
    expect(() => readMergeWindowsOutput(resolveCoder(CODERS, "wrongShape"), new Uint8Array())).toThrow(CodecError);
    expect(() => readMergeWindowsOutput(resolveCoder(CODERS, "wrongShape"), new Uint8Array())).toThrow(/'beam:coder:interval_window:v1' where 'beam:coder:bytes:v1'/);
  });
});
