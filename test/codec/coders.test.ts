import type { Coder } from "apache-beam/proto/beam_runner_api";
import { describe, expect, it } from "vitest";
import {
  ByteReader,
  ByteWriter,
  decodeTimestampMillis,
  encodeTimestampMillis,
  encodeVarint,
  lengthPrefixUnknownCoders,
  resolveCoder,
  splitElements,
  splitKv,
  splitWindowedValue,
} from "../../src/codec/index.js";
import { Coders } from "../../src/common/urns.js";

const coder = (urn: string, ...components: string[]): Coder => ({ spec: { urn, payload: new Uint8Array() }, componentCoderIds: components });

describe("varints", () => {
  it.each([0, 1, 127, 128, 300, 2 ** 31, 2 ** 53 - 1])("round-trips %d", (n) => {
    expect(new ByteReader(encodeVarint(n)).readVarint()).toBe(n);
  });

  it("encodes negative int64s as ten bytes of two's complement, as Beam's VarIntCoder does", () => {
    const bytes = encodeVarint(-1n);
    expect(bytes.length).toBe(10);
    expect(new ByteReader(bytes).readVarBigInt()).toBe(-1n);
  });
});

describe("timestamps", () => {
  it("flip the sign bit so that encoded bytes sort like the times they hold", () => {
    const times = [-5000n, -1n, 0n, 1n, 86_400_000n];
    const encoded = times.map((t) => encodeTimestampMillis(t));
    const sorted = [...encoded].sort((a, b) => Buffer.compare(a, b));
    expect(sorted).toEqual(encoded);
    expect(encoded.map((e) => decodeTimestampMillis(e))).toEqual(times);
  });
});

describe("lengthPrefixUnknownCoders", () => {
  it("wraps each unknown component and leaves known structure alone", () => {
    const coders: Record<string, Coder> = {
      pickled: coder("beam:coder:pickled_python:v1"),
      str: coder(Coders.stringUtf8),
      kv: coder(Coders.kv, "str", "pickled"),
    };
    const id = lengthPrefixUnknownCoders(coders, "kv");
    const tree = resolveCoder(coders, id);
    expect(tree.urn).toBe(Coders.kv);
    expect(tree.components[0]!.urn).toBe(Coders.stringUtf8);
    expect(tree.components[1]!.urn).toBe(Coders.lengthPrefix);
    expect(tree.components[1]!.components[0]!.urn).toBe("beam:coder:pickled_python:v1");
  });

  it("returns the same id when nothing needs wrapping", () => {
    const coders: Record<string, Coder> = { b: coder(Coders.bytes), it: coder(Coders.iterable, "b") };
    expect(lengthPrefixUnknownCoders(coders, "it")).toBe("it");
  });
});

describe("windowed values", () => {
  const coders: Record<string, Coder> = {
    str: coder(Coders.stringUtf8),
    v: coder(Coders.varint),
    kv: coder(Coders.kv, "str", "v"),
    win: coder(Coders.intervalWindow),
    wv: coder(Coders.windowedValue, "kv", "win"),
  };
  const wv = resolveCoder(coders, "wv");

  function element(key: string, value: number, windows: Buffer[]): Buffer {
    const w = new ByteWriter().bytes(encodeTimestampMillis(42n)).int32BE(windows.length);
    for (const win of windows) w.bytes(win);
    return w.byte(0x0f).varint(Buffer.byteLength(key)).bytes(Buffer.from(key)).varint(value).finish();
  }
  const window = (end: bigint, span: number) => new ByteWriter().bytes(encodeTimestampMillis(end)).varint(span).finish();

  it("splits an element into timestamp, windows, pane and value without copying", () => {
    const bytes = element("key", 300, [window(10n, 10), window(20n, 10)]);
    const parts = splitWindowedValue(wv, new ByteReader(bytes));
    expect(decodeTimestampMillis(parts.timestamp)).toBe(42n);
    expect(parts.windows.map((w) => Buffer.from(w))).toEqual([window(10n, 10), window(20n, 10)]);
    expect(Buffer.from(parts.pane)).toEqual(Buffer.of(0x0f));
    const { key, value } = splitKv(wv.components[0]!, parts.value);
    expect(Buffer.from(key)).toEqual(Buffer.from([3, ...Buffer.from("key")]));
    expect(new ByteReader(value).readVarint()).toBe(300);
  });

  it("splits a data block into its elements", () => {
    const a = element("a", 1, [window(10n, 10)]);
    const b = element("bb", 2, []);
    expect(splitElements(wv, Buffer.concat([a, b])).map((e) => Buffer.from(e))).toEqual([a, b]);
  });

  it("reports a truncated element instead of reading past it", () => {
    const bytes = element("key", 300, [window(10n, 10)]);
    expect(() => splitElements(wv, bytes.subarray(0, bytes.length - 2))).toThrow(/truncated/);
  });
});
