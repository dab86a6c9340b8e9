// A reducer whose consumer stops early (a DoFn failing mid-bundle on a warm Lambda, a merge that
// fails) must release its spilled runs at once: the worker process lives on, and descriptors or
// spill files it leaks pile up over the tasks it runs. Descriptors are read from /proc/self/fd.
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Coder } from "apache-beam/proto/beam_runner_api";
import { afterAll, describe, expect, it } from "vitest";
import { encodeTimestampMillis, resolveCoder } from "../../src/codec/index.js";
import type { TaskInput } from "../../src/common/task-spec.js";
import { Coders } from "../../src/common/urns.js";
import { GroupingReducer, GrowableBuffer, hashBytes } from "../../src/shuffle/index.js";
import { writeKeyedRecordFrom } from "../../src/shuffle/keyed-record.js";
import { groupingKernel } from "../../src/shuffle/wasm-grouping.js";
import { LocalObjectStore } from "../../src/store/index.js";
import { readInputChunks } from "../../src/shuffle/edge-reader.js";

const MEMORY_BUDGET_BYTES = 16 << 10;

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "grouping-release-"));
  tempDirs.push(dir);
  return dir;
}

/** Framed keyed records in the global window: 200 values per block over 500 keys, 16 KB a block. */
function keyedBlocks(count = 20): Buffer[] {
  const blocks: Buffer[] = [];
  for (let b = 0; b < count; b++) {
    const out = new GrowableBuffer(1 << 16);
    for (let i = 0; i < 200; i++) {
      const n = b * 200 + i;
      const key = Buffer.from(`key-${n % 500}`);
      // timestamp | key (length-prefixed, as the KV coder writes it) | value; no window bytes
      const element = Buffer.concat([encodeTimestampMillis(BigInt(n)), Buffer.from([key.length]), key, Buffer.alloc(60, n)]);
      const keyEnd = 8 + 1 + key.length;
      writeKeyedRecordFrom(out, hashBytes(element, 8, keyEnd), element, 0, 8, 8, 8, keyEnd, element.length);
    }
    blocks.push(Buffer.from(out.view()));
  }
  return blocks;
}

/** A reducer over `keyedBlocks` that has spilled several sorted runs under `spillDir`. */
function spilledReducer(spillDir: string, mergeWindows = false): GroupingReducer {
  const reducer = new GroupingReducer({ mergeWindows, timestampCombiner: "endOfWindow", memoryBudgetBytes: MEMORY_BUDGET_BYTES, spillDir, chunkBytes: 1024, useKernel: false });
  for (const block of keyedBlocks()) reducer.addBlock(block);
  expect(reducer.spilledRuns).toBeGreaterThan(2);
  return reducer;
}

/** Descriptors of this process open on a file under `dir` (deleted files included). */
function descriptorsUnder(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) open.push(target);
    } catch {
      // closed between the listing and the read: not open
    }
  }
  return open;
}

function spillFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((p) => p.includes("run-"));
}

describe.skipIf(!existsSync("/proc/self/fd"))("a grouping reducer stopped early", () => {
  it("when the consumer breaks out of its loop, closes every spilled run and deletes the spill files", async () => {
    const spillDir = tempDir();
    const reducer = spilledReducer(spillDir);
    let chunks = 0;
    for (const _chunk of reducer.chunks()) {
      expect(descriptorsUnder(spillDir).length, "runs open while they are read").toBeGreaterThan(0);
      if (++chunks === 2) break;
    }
    expect(descriptorsUnder(spillDir)).toEqual([]);
    expect(spillFilesUnder(spillDir)).toEqual([]);
  });

  it("when the consumer throws, closes every spilled run and deletes the spill files", async () => {
    const spillDir = tempDir();
    const reducer = spilledReducer(spillDir);
    const consume = async (): Promise<void> => {
      for (const _chunk of reducer.chunks()) throw new Error("the DoFn failed");
    };
    await expect(consume()).rejects.toThrow("the DoFn failed");
    expect(descriptorsUnder(spillDir)).toEqual([]);
    expect(spillFilesUnder(spillDir)).toEqual([]);
  });

  it("when a window merger fails part-way through each key's windows, close() releases the runs it was reading", () => {
    const spillDir = tempDir();
    const reducer = spilledReducer(spillDir, true);
    const keys = reducer.keyWindows();
    keys.next();
    expect(descriptorsUnder(spillDir).length, "runs open while they are read").toBeGreaterThan(0);
    reducer.close();
    expect(descriptorsUnder(spillDir)).toEqual([]);
    expect(spillFilesUnder(spillDir)).toEqual([]);
  });

  it("when a task stops reading its grouped input, the edge reader releases the reducer's runs", async () => {
    const spillDir = tempDir();
    const store = new LocalObjectStore(tempDir());
    const ranges = [];
    // Past 1 MB of output, so the reader hands out a chunk while runs are still being read.
    for (const [i, block] of keyedBlocks(200).entries()) {
      await store.put(`map-${i}`, block);
      ranges.push({ key: `map-${i}`, start: 0, end: block.length, format: "keyed" as const });
    }
    const coder = (urn: string, ...components: string[]): Coder => ({ spec: { urn, payload: new Uint8Array() }, componentCoderIds: components });
    const coders: Record<string, Coder> = {
      bytes: coder(Coders.bytes),
      kv: coder(Coders.kv, "bytes", "bytes"),
      global: coder(Coders.globalWindow),
      wv: coder(Coders.windowedValue, "kv", "global"),
    };
    const input: TaskInput = { read: { kind: "group", inputWireCoderId: "wv", windowMerge: "none", timestampCombiner: "endOfWindow" }, wireCoderId: "wv", ranges };
    const chunks = readInputChunks(store, input, (id) => resolveCoder(coders, id), { memoryBudgetBytes: 256 << 10, spillDir });
    for await (const _chunk of chunks) {
      expect(descriptorsUnder(spillDir).length, "runs open while they are read").toBeGreaterThan(0);
      break;
    }
    expect(descriptorsUnder(spillDir)).toEqual([]);
    expect(spillFilesUnder(spillDir)).toEqual([]);
  });
});

describe.skipIf(!groupingKernel())("a grouping reducer closed while the WebAssembly kernel writes its output", () => {
  it("frees the kernel for the next reducer", () => {
    const reducer = new GroupingReducer({ mergeWindows: false, timestampCombiner: "endOfWindow", memoryBudgetBytes: 64 << 20, spillDir: tempDir() });
    // Past the kernel's smallest chunk (64 KB), so output is left after the first chunk.
    for (const block of keyedBlocks(40)) reducer.addBlock(block);
    const chunks = reducer.chunks();
    expect(chunks.next().done).toBe(false);
    expect(groupingKernel()!.busy).toBe(true);
    reducer.close();
    expect(groupingKernel()!.busy).toBe(false);
  });
});
