// How a key's windows merge, as the reducer's callers tell it: Sessions by the runner, any other
// merging WindowFn by the SDK (the worker asks it with each key's distinct windows).
import { mergeIntervalWindows } from "../codec/windows.js";

/**
 * How one key's windows merge: a window's encoding (as a latin1 string) to the encoding of the
 * window it merges into. A window the map does not hold stays as it is.
 */
export type WindowMapping = ReadonlyMap<string, Buffer>;

/** Merges one key's windows (distinct encodings). */
export type MergeWindowsFn = (key: Buffer, windows: Buffer[]) => WindowMapping;

/** One key's distinct windows, as a WindowFn merges them. */
export interface KeyWindows {
  key: Buffer;
  windows: Buffer[];
}

/** Sessions: overlapping interval windows merge, whatever the key. */
export const mergeSessionWindows: MergeWindowsFn = (_key, windows) => mergeIntervalWindows(windows);
