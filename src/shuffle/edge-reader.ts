// Turns stored records back into the elements a stage consumes: as stored, or grouped by
// encoded key and window (GroupByKey, with merging windows merged: Sessions by the runner, any
// other merging WindowFn by the SDK through a WindowMerger). Ranges are fetched with
// bounded concurrency and consumed in order as they arrive, and grouping spills to local disk
// past a memory budget, so a task's input never has to fit in memory at once.
import type { CoderTree } from "../codec/coders.js";
import { WindowedKvScanner } from "../codec/skippers.js";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { type FeedContent, type InputFeed, type ObjectRange, type TaskInput, rangeOf } from "../common/task-spec.js";
import { Coders } from "../common/urns.js";
import type { ElementChunk } from "./grouped-output-encoder.js";
import { GroupingReducer } from "./grouping-reducer.js";
import { GrowableBuffer, readVarintAt, varintEnd } from "./growable-buffer.js";
import { hashBytes } from "./keyed-record.js";
import type { OverflowValues } from "./overflow-values.js";
import { appendKeyedRecords } from "./shuffle-writer.js";
import type { KeyWindows, MergeWindowsFn } from "./window-merging.js";
import { ObjectNotFoundError, type ObjectStore } from "../store/index.js";

const READ_CONCURRENCY = 8;
// Decompression runs on libuv's thread pool while this thread groups earlier blocks.
const gunzipAsync = promisify(gunzip);
/** Feed polling backs off from the first to the second; a feed silent for the third fails the task. */
const FEED_POLL_MIN_MS = 25;
const FEED_POLL_MAX_MS = 1000;
const FEED_TIMEOUT_MS = 15 * 60 * 1000;
const CHUNK_BYTES = 1 << 20;

export interface ReadOptions {
  /** Input bytes a grouping holds in memory before spilling sorted runs. */
  memoryBudgetBytes: number;
  /** Local directory for spilled runs (a Lambda's /tmp). */
  spillDir: string;
  /** Where values of huge groups go, when the consumer reads grouped values as a state-backed iterable. */
  overflow?: OverflowValues;
  /** Merges windows with the pipeline's WindowFn, for a grouped read whose windows the SDK merges. */
  windowMerger?: WindowMerger;
}

/** Runs a WindowFn's merge, which the runner cannot run itself, for every key of a partition. */
export interface WindowMerger {
  /**
   * Takes each key's distinct windows (the iterable may be read lazily, once) and resolves to
   * how each key's windows merge.
   */
  merge(keys: Iterable<KeyWindows>): Promise<MergeWindowsFn>;
}

/** The ranges of an input: those known at launch, then those its feeds list as they commit. */
async function* inputRanges(store: ObjectStore, input: TaskInput): AsyncGenerator<ObjectRange[]> {
  yield input.ranges;
  for (const feed of input.feeds ?? []) yield* feedRanges(store, feed);
}

/** Polls a feed until it lists every expected output, yielding the task's ranges of new ones. */
async function* feedRanges(store: ObjectStore, feed: InputFeed): AsyncGenerator<ObjectRange[]> {
  let seen = 0;
  let wait = FEED_POLL_MIN_MS;
  const deadline = Date.now() + FEED_TIMEOUT_MS;
  while (seen < feed.expected) {
    let content: FeedContent = { outputs: [] };
    try {
      content = JSON.parse((await store.get(feed.key)).toString("utf8")) as FeedContent;
    } catch (e) {
      if (!(e instanceof ObjectNotFoundError)) throw e;
    }
    if (content.failed) throw new Error(`the input of this task failed upstream: ${content.failed}`);
    const fresh = content.outputs.slice(seen);
    if (fresh.length > 0) {
      seen += fresh.length;
      wait = FEED_POLL_MIN_MS;
      yield fresh.map((o) => rangeOf(o, feed.partition));
      continue;
    }
    if (Date.now() > deadline) throw new Error(`input feed '${feed.key}' listed ${seen} of ${feed.expected} outputs after ${FEED_TIMEOUT_MS / 1000} s`);
    await delay(wait);
    wait = Math.min(wait * 2, FEED_POLL_MAX_MS);
  }
}

/** Fetches the non-empty ranges of each batch, up to READ_CONCURRENCY ahead, yielding them in order. */
async function* fetchInOrder(store: ObjectStore, batches: AsyncIterable<ObjectRange[]>): AsyncGenerator<{ range: ObjectRange; bytes: Buffer }> {
  for await (const batch of batches) yield* fetchBatch(store, batch);
}

async function* fetchBatch(store: ObjectStore, ranges: ObjectRange[]): AsyncGenerator<{ range: ObjectRange; bytes: Buffer }> {
  const todo = ranges.filter((r) => r.end > r.start);
  const inFlight: { range: ObjectRange; bytes: Promise<Buffer> }[] = [];
  let next = 0;
  const launch = (): void => {
    while (inFlight.length < READ_CONCURRENCY && next < todo.length) {
      const range = todo[next++]!;
      const stored = store.get(range.key, { start: range.start, end: range.end });
      const bytes = range.compression === "gzip" ? stored.then((b) => gunzipAsync(b)) : stored;
      bytes.catch(() => undefined); // awaited below, in order; an early failure must not go unhandled
      inFlight.push({ range, bytes });
    }
  };
  launch();
  while (inFlight.length > 0) {
    const head = inFlight.shift()!;
    const bytes = await head.bytes;
    launch();
    yield { range: head.range, bytes };
  }
}

/** The main input of a task, as chunks of whole encoded elements in the input's wire coder. */
export async function* readInputChunks(
  store: ObjectStore,
  input: TaskInput,
  coders: (id: string) => CoderTree,
  options: ReadOptions,
): AsyncGenerator<ElementChunk> {
  if (input.read.kind === "plain") {
    const out = new GrowableBuffer(CHUNK_BYTES + (1 << 16));
    let ends: number[] = [];
    for await (const { bytes } of fetchInOrder(store, inputRanges(store, input))) {
      for (let pos = 0; pos < bytes.length; ) {
        const length = readVarintAt(bytes, pos);
        const start = varintEnd.pos;
        pos = start + length;
        out.range(bytes, start, pos);
        ends.push(out.length);
        if (out.length >= CHUNK_BYTES) {
          yield { bytes: out.take(), ends };
          ends = [];
        }
      }
    }
    if (out.length > 0) yield { bytes: out.take(), ends };
    return;
  }
  const { inputWireCoderId, windowMerge, timestampCombiner } = input.read;
  const inputWire = coders(inputWireCoderId);
  const { windowMerger, ...grouping } = options;
  const reducer = new GroupingReducer({ ...grouping, mergeWindows: windowMerge !== "none", timestampCombiner });
  try {
    for await (const { range, bytes } of fetchInOrder(store, inputRanges(store, input))) {
      reducer.addBlock(range.format === "keyed" ? bytes : toKeyedRecords(bytes, inputWire));
    }
    if (windowMerge === "sdk") {
      if (!windowMerger) throw new Error("this input's windows are merged by the SDK's WindowFn, but the task has no window-merging descriptor");
      yield* reducer.chunks(await windowMerger.merge(reducer.keyWindows()));
    } else {
      yield* reducer.chunks();
    }
  } finally {
    // Also when the consumer stops early (`return()` from its loop) or the merge fails: the
    // reducer closes the runs it is reading and deletes its spill files.
    reducer.close();
  }
}

/** Every element of an input, each its own buffer (side inputs); grouped values all inline. */
export async function readElements(
  store: ObjectStore,
  input: TaskInput,
  coders: (id: string) => CoderTree,
  options: Omit<ReadOptions, "overflow">,
): Promise<Uint8Array[]> {
  const elements: Uint8Array[] = [];
  const inline = { memoryBudgetBytes: options.memoryBudgetBytes, spillDir: options.spillDir };
  for await (const chunk of readInputChunks(store, input, coders, inline)) {
    let start = 0;
    for (const end of chunk.ends) {
      elements.push(chunk.bytes.subarray(start, end));
      start = end;
    }
  }
  return elements;
}

/**
 * Whether the consumer decodes grouped values with Beam's state-backed iterable coder, so a
 * huge group may hand part of its values over through the State API.
 */
export function readsStateBackedValues(wire: CoderTree): boolean {
  const kv = wire.components[0];
  return kv?.urn === Coders.kv && kv.components[1]?.urn === Coders.stateBackedIterable;
}

/** Plain records of windowed KVs (a materialization that is also read ungrouped) as keyed records. */
function toKeyedRecords(block: Buffer, wire: CoderTree): Buffer {
  const out = new GrowableBuffer(block.length + (block.length >> 2) + 64);
  const scanner = new WindowedKvScanner(wire);
  for (let pos = 0; pos < block.length; ) {
    const length = readVarintAt(block, pos);
    const start = varintEnd.pos;
    pos = start + length;
    if (scanner.scan(block, start) !== pos) throw new Error(`a shuffle record at offset ${start} does not hold one windowed value`);
    appendKeyedRecords(out, scanner, hashBytes(block, scanner.keyStart, scanner.keyEnd), block, start, pos);
  }
  return out.view();
}
