// Windows and windowed values as the runner needs them: enough to group by window, merge
// session windows and stamp grouped output with the right timestamp.
import { ByteReader, ByteWriter, decodeTimestampMillis, encodeTimestampMillis } from "./byte-io.js";

/** Largest timestamp Beam allows (BoundedWindow.TIMESTAMP_MAX_VALUE), in milliseconds. */
export const MAX_TIMESTAMP_MILLIS = 9223372036854775n;
export const MIN_TIMESTAMP_MILLIS = -9223372036854775n;
/** GlobalWindow.maxTimestamp(): the end of time less one day. */
export const GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS = MAX_TIMESTAMP_MILLIS - 86_400_000n;

/** Pane of a value that has not been through a trigger firing (PaneInfo.NO_FIRING). */
export const PANE_NO_FIRING = Uint8Array.of(0x0f);
/** The only pane of a batch GroupByKey result in the global window: first, last, on time. */
export const PANE_ON_TIME_ONLY = Uint8Array.of(0x07);
/**
 * The only pane of a batch GroupByKey result in any other window: first and on time but not
 * last, as Beam's Python batch GroupByKey marks it (its default trigger does not know that no
 * late data will come); Beam's own tests check this flag.
 */
export const PANE_ON_TIME_NOT_LAST = Uint8Array.of(0x05);

/** The pane a batch GroupByKey gives a group in the window encoded as `windowBytes`. */
export function groupedPane(windowLength: number): number {
  return windowLength === 0 ? PANE_ON_TIME_ONLY[0]! : PANE_ON_TIME_NOT_LAST[0]!;
}

export interface IntervalWindow {
  /** Inclusive start and exclusive end, in milliseconds. */
  start: bigint;
  end: bigint;
}

export function decodeIntervalWindow(bytes: Uint8Array): IntervalWindow {
  const end = decodeTimestampMillis(bytes, 0);
  const span = new ByteReader(bytes, 8).readVarBigInt();
  return { start: end - span, end };
}

export function encodeIntervalWindow(w: IntervalWindow): Buffer {
  return new ByteWriter().bytes(encodeTimestampMillis(w.end)).varint(w.end - w.start).finish();
}

/** The latest timestamp inside a window: end - 1 ms for an interval window. Global windows have zero bytes. */
export function windowMaxTimestamp(windowBytes: Uint8Array): bigint {
  if (windowBytes.length === 0) return GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS;
  return decodeIntervalWindow(windowBytes).end - 1n;
}

/** Encodes one windowed value in a single window. */
export function encodeWindowedValue(timestamp: Uint8Array, window: Uint8Array, pane: Uint8Array, value: Uint8Array[]): Buffer {
  const w = new ByteWriter().bytes(timestamp).int32BE(1).bytes(window).bytes(pane);
  for (const part of value) w.bytes(part);
  return w.finish();
}

/**
 * Merges overlapping interval windows (session semantics). Returns, for each input window's
 * encoding, the encoding of the merged window that contains it.
 */
export function mergeIntervalWindows(windows: Iterable<Uint8Array>): Map<string, Buffer> {
  const distinct = new Map<string, IntervalWindow>();
  for (const w of windows) distinct.set(Buffer.from(w).toString("latin1"), decodeIntervalWindow(w));
  const sorted = [...distinct.entries()].sort((a, b) => (a[1].start < b[1].start ? -1 : a[1].start > b[1].start ? 1 : 0));
  const result = new Map<string, Buffer>();
  let group: string[] = [];
  let current: IntervalWindow | undefined;
  const flush = (): void => {
    if (!current) return;
    const encoded = encodeIntervalWindow(current);
    for (const k of group) result.set(k, encoded);
  };
  for (const [key, w] of sorted) {
    if (current && w.start < current.end) {
      if (w.end > current.end) current = { start: current.start, end: w.end };
      group.push(key);
    } else {
      flush();
      current = { ...w };
      group = [key];
    }
  }
  flush();
  return result;
}
