// Turns stored records back into the elements a stage consumes: as stored, or grouped by
// encoded key and window (GroupByKey, with session windows merged).
import { ByteReader, ByteWriter, encodeTimestampMillis, decodeTimestampMillis } from "../codec/byte-io.js";
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

/** GroupByKey on encoded bytes: one output element per (key, window), values in arrival order. */
export function groupByKeyAndWindow(
  records: Uint8Array[],
  inputWireCoder: CoderTree,
  options: { mergeWindows: boolean; timestampCombiner: "endOfWindow" | "earliest" | "latest" },
): Uint8Array[] {
  const kvCoder = inputWireCoder.components[0]!;
  const byKey = new Map<string, { key: Uint8Array; entries: { window: Uint8Array; value: Uint8Array; ts: bigint }[] }>();
  for (const record of records) {
    const wv = splitWindowedValue(inputWireCoder, new ByteReader(record));
    const { key, value } = splitKv(kvCoder, wv.value);
    const k = Buffer.from(key).toString("latin1");
    let slot = byKey.get(k);
    if (!slot) byKey.set(k, (slot = { key, entries: [] }));
    const ts = decodeTimestampMillis(wv.timestamp);
    for (const window of wv.windows) slot.entries.push({ window, value, ts });
  }
  const out: Uint8Array[] = [];
  for (const { key, entries } of byKey.values()) {
    const merged = options.mergeWindows ? mergeIntervalWindows(entries.map((e) => e.window)) : undefined;
    const groups = new Map<string, Group>();
    for (const e of entries) {
      const window = merged?.get(Buffer.from(e.window).toString("latin1")) ?? e.window;
      const w = Buffer.from(window).toString("latin1");
      let g = groups.get(w);
      if (!g) groups.set(w, (g = { key, window, values: [], minTs: e.ts, maxTs: e.ts }));
      g.values.push(e.value);
      if (e.ts < g.minTs) g.minTs = e.ts;
      if (e.ts > g.maxTs) g.maxTs = e.ts;
    }
    for (const g of groups.values()) out.push(encodeGroup(g, options.timestampCombiner));
  }
  return out;
}

function encodeGroup(g: Group, combiner: "endOfWindow" | "earliest" | "latest"): Uint8Array {
  const ts = combiner === "earliest" ? g.minTs : combiner === "latest" ? g.maxTs : windowMaxTimestamp(g.window);
  const w = new ByteWriter()
    .bytes(encodeTimestampMillis(ts))
    .int32BE(1)
    .bytes(g.window)
    .bytes(PANE_ON_TIME_ONLY)
    .bytes(g.key)
    .int32BE(g.values.length);
  for (const v of g.values) w.bytes(v);
  return w.finish();
}
