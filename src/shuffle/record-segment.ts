// Keyed records a reducer holds in memory: the blocks as fetched, indexed once on arrival, and
// put in the order a run reads them (sorted, or grouped by a hash table) without moving a byte.
import { endianness } from "node:os";
import { readVarintAt, varintEnd } from "./growable-buffer.js";
import { HASH_BYTES, KeyedRecordView, compareKeyed } from "./keyed-record.js";

if (endianness() !== "LE") throw new Error("the shuffle's sort packs (hash, index) pairs assuming a little-endian machine");

/**
 * Records held in memory: where each one's parts are (parsed once, on arrival) and its hash,
 * eight uint32 per record side by side, so visiting records in sorted (random) order costs one
 * cache miss for the metadata rather than one per field.
 */
const STRIDE = 8;
const BLOCK = 0;
const START = 7;
const KEY_START = 1;
const KEY_END = 2;
const WINDOW_START = 3;
const WINDOW_END = 4;
const END = 5;
const HASH = 6;

export class RecordSegment {
  readonly blocks: Buffer[] = [];
  meta = new Uint32Array(STRIDE * 1024);
  count = 0;
  bytes = 0;

  addBlock(buf: Buffer): void {
    const b = this.blocks.length;
    this.blocks.push(buf);
    this.bytes += buf.length;
    const view = new KeyedRecordView();
    let pos = 0;
    while (pos < buf.length) {
      const length = readVarintAt(buf, pos);
      const start = varintEnd.pos;
      const end = start + length;
      if (end > buf.length || length < HASH_BYTES) throw new Error(`shuffle block is truncated at offset ${pos}`);
      view.parse(buf, start, end);
      if ((this.count + 1) * STRIDE > this.meta.length) {
        const next = new Uint32Array(this.meta.length * 2);
        next.set(this.meta);
        this.meta = next;
      }
      const m = this.meta;
      const at = this.count++ * STRIDE;
      m[at + BLOCK] = b;
      m[at + START] = start;
      m[at + KEY_START] = view.keyStart;
      m[at + KEY_END] = view.keyEnd;
      m[at + WINDOW_START] = view.windowStart;
      m[at + WINDOW_END] = view.windowEnd;
      m[at + END] = end;
      m[at + HASH] = view.hash;
      pos = end;
    }
  }

  hashOf(i: number): number {
    return this.meta[i * STRIDE + HASH]!;
  }

  view(i: number, into: KeyedRecordView): KeyedRecordView {
    const m = this.meta;
    const at = i * STRIDE;
    into.buf = this.blocks[m[at + BLOCK]!]!;
    into.start = m[at + START]!;
    into.hash = m[at + HASH]!;
    into.keyStart = m[at + KEY_START]!;
    into.keyEnd = m[at + KEY_END]!;
    into.windowStart = m[at + WINDOW_START]!;
    into.windowEnd = m[at + WINDOW_END]!;
    into.valueEnd = m[at + END]!;
    return into;
  }

  /**
   * Record indices with each group's records together, groups in order of first arrival: a hash
   * table instead of a sort. When all input fits in memory nothing has to be merged with other
   * runs, and reading records in nearly arrival order is what the cache likes best.
   */
  groupedOrder(): Uint32Array {
    const n = this.count;
    const m = this.meta;
    let size = 1024;
    while (size < n * 2) size *= 2;
    const mask = size - 1;
    // Slot: [hash, head index + 1]; 0 marks an empty slot.
    const table = new Uint32Array(size * 2);
    const next = new Int32Array(n).fill(-1);
    const tail = new Int32Array(n);
    const head = new Uint8Array(n);
    const a = new KeyedRecordView();
    const b = new KeyedRecordView();
    for (let i = 0; i < n; i++) {
      const hash = m[i * STRIDE + HASH]!;
      for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
        const h = table[2 * slot + 1]!;
        if (h === 0) {
          table[2 * slot] = hash;
          table[2 * slot + 1] = i + 1;
          tail[i] = i;
          head[i] = 1;
          break;
        }
        if (table[2 * slot] === hash && compareKeyed(this.view(h - 1, a), this.view(i, b)) === 0) {
          next[tail[h - 1]!] = i;
          tail[h - 1] = i;
          break;
        }
      }
    }
    const order = new Uint32Array(n);
    let k = 0;
    for (let i = 0; i < n; i++) if (head[i]) for (let j = i; j >= 0; j = next[j]!) order[k++] = j;
    return order;
  }

  /**
   * Record indices in (hash, key, window, arrival) order. The engine's native typed-array sort
   * on (hash << 32 | index) allocates nothing per record; records of different keys with equal
   * hashes are then ordered by their bytes.
   */
  sortedOrder(): Uint32Array {
    const n = this.count;
    const packed = new BigUint64Array(n);
    const halves = new Uint32Array(packed.buffer);
    const m = this.meta;
    for (let i = 0; i < n; i++) {
      halves[2 * i] = i;
      halves[2 * i + 1] = m[i * STRIDE + HASH]!;
    }
    packed.sort();
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = halves[2 * i]!;
    // Equal hashes are adjacent; unless two keys (or windows) collide they are one group already.
    const a = new KeyedRecordView();
    const b = new KeyedRecordView();
    for (let i = 0; i < n; ) {
      const h = halves[2 * i + 1]!;
      let j = i + 1;
      while (j < n && halves[2 * j + 1] === h) j++;
      if (j - i > 1) {
        this.view(order[i]!, a);
        let same = true;
        for (let k = i + 1; k < j && same; k++) same = compareKeyed(a, this.view(order[k]!, b)) === 0;
        if (!same) {
          const slice = Array.from(order.subarray(i, j)).sort((x, y) => compareKeyed(this.view(x, a), this.view(y, b)) || x - y);
          order.set(slice, i);
        }
      }
      i = j;
    }
    return order;
  }
}
