import { describe, expect, it } from "vitest";
import {
  GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS,
  decodeIntervalWindow,
  encodeIntervalWindow,
  mergeIntervalWindows,
  windowMaxTimestamp,
} from "../../src/codec/index.js";

const w = (start: number, end: number) => encodeIntervalWindow({ start: BigInt(start), end: BigInt(end) });
const key = (b: Uint8Array) => Buffer.from(b).toString("latin1");

describe("interval windows", () => {
  it("round-trip through their encoding", () => {
    expect(decodeIntervalWindow(w(-10, 25))).toEqual({ start: -10n, end: 25n });
  });

  it("end one millisecond before their end; the global window ends a day before the end of time", () => {
    expect(windowMaxTimestamp(w(0, 10))).toBe(9n);
    expect(windowMaxTimestamp(new Uint8Array())).toBe(GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS);
  });

  it("merge when they overlap, as sessions do, and stay apart when they only touch", () => {
    const merged = mergeIntervalWindows([w(1, 6), w(3, 8), w(8, 13), w(20, 25), w(2, 7)]);
    expect(decodeIntervalWindow(merged.get(key(w(1, 6)))!)).toEqual({ start: 1n, end: 8n });
    expect(decodeIntervalWindow(merged.get(key(w(2, 7)))!)).toEqual({ start: 1n, end: 8n });
    expect(decodeIntervalWindow(merged.get(key(w(8, 13)))!)).toEqual({ start: 8n, end: 13n });
    expect(decodeIntervalWindow(merged.get(key(w(20, 25)))!)).toEqual({ start: 20n, end: 25n });
  });
});
