// Turns stored records back into the elements a stage consumes: as stored, or grouped by
// encoded key and window (GroupByKey, with session windows merged).
import { ByteReader, decodeTimestampMillis, encodeTimestampMillis } from "../codec/byte-io.js";
import { type CoderTree, splitKv, splitWindowedValue } from "../codec/coders.js";
import { PANE_ON_TIME_ONLY, mergeIntervalWindows, windowMaxTimestamp } from "../codec/windows.js";
import type { ObjectRange, TaskInput } from "../common/task-spec.js";
import { type ObjectStore, readRecords } from "../shuffle/index.js";

const READ_CONCURRENCY = 8;

/** Fetches every range, in order, with bounded concurrency. */
export async function fetchRanges(store: ObjectStore, ranges: ObjectRange[]): Promise<Buffer[]> {
  const out: Buffer[] = new Array(ranges.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ranges.length) {
      const i = next++;
      const r = ranges[i]!;
      out[i] = r.end > r.start ? await store.get(r.key, { start: r.start, end: r.end }) : Buffer.alloc(0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, ranges.length) }, worker));
  return out;
}

/** The encoded elements of one task input (each a windowed value in the input's wire coder). */
export async function readInput(store: ObjectStore, input: TaskInput, coders: (id: string) => CoderTree): Promise<Uint8Array[]> {
  const blocks = await fetchRanges(store, input.ranges);
  const records: Uint8Array[] = [];
  for (const block of blocks) for (const record of readRecords(block)) records.push(record);
  if (input.read.kind === "plain") return records;
  return groupByKeyAndWindow(records, coders(input.read.inputWireCoderId), input.read);
}

interface Group {
  key: Uint8Array;
  window: Uint8Array;
  values: Uint8Array[];
  minTs: bigint;
  maxTs: bigint;
}

/** The bytes as a string, without copying them first: a cheap exact Map key. */
function bytesKey(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}

/** GroupByKey on encoded bytes: one output element per (key, window), values in arrival order. */
export function groupByKeyAndWindow(
  records: Uint8Array[],
  inputWireCoder: CoderTree,
  options: { mergeWindows: boolean; timestampCombiner: "endOfWindow" | "earliest" | "latest" },
): Uint8Array[] {
  const kvCoder = inputWireCoder.components[0]!;
  // Only the earliest / latest combiners look at element timestamps; decoding them costs.
  const needTimestamps = options.timestampCombiner !== "endOfWindow";
  const groups = new Map<string, Group>();
  const add = (id: string, key: Uint8Array, window: Uint8Array, value: Uint8Array, ts: bigint): void => {
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { key, window, values: [], minTs: ts, maxTs: ts }));
    g.values.push(value);
    if (ts < g.minTs) g.minTs = ts;
    if (ts > g.maxTs) g.maxTs = ts;
  };
  const byKey = options.mergeWindows ? new Map<string, { key: Uint8Array; entries: { window: Uint8Array; value: Uint8Array; ts: bigint }[] }>() : undefined;
  for (const record of records) {
    const wv = splitWindowedValue(inputWireCoder, new ByteReader(record));
    const { key, value } = splitKv(kvCoder, wv.value);
    const k = bytesKey(key);
    const ts = needTimestamps ? decodeTimestampMillis(wv.timestamp) : 0n;
    if (byKey) {
      let slot = byKey.get(k);
      if (!slot) byKey.set(k, (slot = { key, entries: [] }));
      for (const window of wv.windows) slot.entries.push({ window, value, ts });
    } else {
      // Encoded keys are self-delimiting, so key bytes followed by window bytes identify a group.
      for (const window of wv.windows) add(k + bytesKey(window), key, window, value, ts);
    }
  }
  // Session windows merge per key: every window of a key is known only once all input is in.
  for (const [k, { key, entries }] of byKey ?? []) {
    const merged = mergeIntervalWindows(entries.map((e) => e.window));
    for (const e of entries) {
      const window = merged.get(bytesKey(e.window)) ?? e.window;
      add(k + bytesKey(window), key, window, e.value, e.ts);
    }
  }
  const endOfWindowCache = new Map<string, Uint8Array>();
  const endOfWindow = (window: Uint8Array): Uint8Array => {
    const w = bytesKey(window);
    let ts = endOfWindowCache.get(w);
    if (!ts) endOfWindowCache.set(w, (ts = encodeTimestampMillis(windowMaxTimestamp(window))));
    return ts;
  };
  return [...groups.values()].map((g) => encodeGroup(g, options.timestampCombiner, endOfWindow));
}

function encodeGroup(g: Group, combiner: "endOfWindow" | "earliest" | "latest", endOfWindow: (window: Uint8Array) => Uint8Array): Uint8Array {
  const ts =
    combiner === "earliest" ? encodeTimestampMillis(g.minTs) : combiner === "latest" ? encodeTimestampMillis(g.maxTs) : endOfWindow(g.window);
  let size = 8 + 4 + g.window.length + PANE_ON_TIME_ONLY.length + g.key.length + 4;
  for (const v of g.values) size += v.length;
  // One allocation per group: this runs once per key and window of every shuffle.
  const out = Buffer.allocUnsafe(size);
  out.set(ts, 0);
  let pos = out.writeInt32BE(1, 8);
  out.set(g.window, pos);
  pos += g.window.length;
  out.set(PANE_ON_TIME_ONLY, pos);
  pos += PANE_ON_TIME_ONLY.length;
  out.set(g.key, pos);
  pos += g.key.length;
  pos = out.writeInt32BE(g.values.length, pos);
  for (const v of g.values) {
    out.set(v, pos);
    pos += v.length;
  }
  return out;
}
