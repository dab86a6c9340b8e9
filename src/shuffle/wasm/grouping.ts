// AssemblyScript (compiled to WebAssembly by scripts/build-wasm.sh, not by tsc): the reduce
// side's per-record loops for keyed shuffle records (src/shuffle/keyed-record.ts), run over
// memory the JavaScript side lays out (src/shuffle/wasm-grouping.ts). Every function works on
// raw addresses; nothing here allocates.
//
// Record payload: hash u32 BE | timestamp 8 | varint window length, window | varint key length,
// key | value. Records are framed as varint length + payload.

// Per-record metadata, eight u32: payload start and end, key, window, hash.
const STRIDE: usize = 32;
const START = 0;
const END = 4;
const KEY_START = 8;
const KEY_END = 12;
const WINDOW_START = 16;
const WINDOW_END = 20;
const HASH = 24;

let varintEnd: usize = 0;

@inline function readVarint(p: usize): u32 {
  let result: u32 = 0;
  let shift: u32 = 0;
  while (true) {
    const b = <u32>load<u8>(p);
    p++;
    result |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
    shift += 7;
  }
  varintEnd = p;
  return result;
}

/** Records in [ptr, ptr + len), or -1 if the last one is cut short. */
export function countRecords(ptr: usize, len: usize): i32 {
  const end = ptr + len;
  let p = ptr;
  let n: i32 = 0;
  while (p < end) {
    const length = readVarint(p);
    p = varintEnd + <usize>length;
    n++;
  }
  return p == end ? n : -1;
}

/** Fills metadata for every record in [ptr, ptr + len), from record `first` on. */
export function indexRecords(ptr: usize, len: usize, meta: usize, first: i32): i32 {
  const end = ptr + len;
  let p = ptr;
  let m = meta + <usize>first * STRIDE;
  let n = first;
  while (p < end) {
    const length = readVarint(p);
    const start = varintEnd;
    const recordEnd = start + <usize>length;
    const windowLength = readVarint(start + 12);
    const windowStart = varintEnd;
    const windowEnd = windowStart + <usize>windowLength;
    const keyLength = readVarint(windowEnd);
    const keyStart = varintEnd;
    const keyEnd = keyStart + <usize>keyLength;
    if (keyEnd > recordEnd || recordEnd > end) return -1;
    store<u32>(m + START, <u32>start);
    store<u32>(m + END, <u32>recordEnd);
    store<u32>(m + KEY_START, <u32>keyStart);
    store<u32>(m + KEY_END, <u32>keyEnd);
    store<u32>(m + WINDOW_START, <u32>windowStart);
    store<u32>(m + WINDOW_END, <u32>windowEnd);
    store<u32>(m + HASH, bswap<u32>(load<u32>(start)));
    m += STRIDE;
    n++;
    p = recordEnd;
  }
  return n;
}

@inline function sameGroup(a: usize, b: usize): bool {
  if (load<u32>(a + HASH) != load<u32>(b + HASH)) return false;
  const aKey = <usize>load<u32>(a + KEY_START);
  const bKey = <usize>load<u32>(b + KEY_START);
  const keyLength = <usize>load<u32>(a + KEY_END) - aKey;
  if (<usize>load<u32>(b + KEY_END) - bKey != keyLength) return false;
  if (memory.compare(aKey, bKey, keyLength) != 0) return false;
  const aWindow = <usize>load<u32>(a + WINDOW_START);
  const bWindow = <usize>load<u32>(b + WINDOW_START);
  const windowLength = <usize>load<u32>(a + WINDOW_END) - aWindow;
  if (<usize>load<u32>(b + WINDOW_END) - bWindow != windowLength) return false;
  return memory.compare(aWindow, bWindow, windowLength) == 0;
}

/** The size of the largest group's values, set by `group`. */
export let largestGroupBytes: u32 = 0;

/**
 * Groups records by (hash, key, window) with an open-addressing table of `mask + 1` slots
 * (hash, first record + 1), chaining each group's records in arrival order, and writes `order`:
 * groups in order of first arrival, each group's records together.
 */
export function group(n: i32, meta: usize, table: usize, mask: u32, next: usize, tail: usize, bytes: usize, order: usize): void {
  memory.fill(table, 0, (<usize>mask + 1) * 8);
  for (let i: i32 = 0; i < n; i++) {
    const m = meta + <usize>i * STRIDE;
    const hash = load<u32>(m + HASH);
    const valueBytes = load<u32>(m + END) - load<u32>(m + KEY_END);
    let slot = hash & mask;
    while (true) {
      const s = table + <usize>slot * 8;
      const head = load<u32>(s + 4);
      if (head == 0) {
        store<u32>(s, hash);
        store<u32>(s + 4, <u32>i + 1);
        store<i32>(next + <usize>i * 4, -1);
        store<i32>(tail + <usize>i * 4, i);
        store<u32>(bytes + <usize>i * 4, valueBytes);
        break;
      }
      const h = <i32>head - 1;
      if (load<u32>(s) == hash && sameGroup(meta + <usize>h * STRIDE, m)) {
        store<i32>(next + <usize>load<i32>(tail + <usize>h * 4) * 4, i);
        store<i32>(tail + <usize>h * 4, i);
        store<i32>(next + <usize>i * 4, -1);
        store<u32>(bytes + <usize>h * 4, load<u32>(bytes + <usize>h * 4) + valueBytes);
        // Marks i as not the first of its group.
        store<u32>(bytes + <usize>i * 4, 0xffffffff);
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  let k: usize = 0;
  let largest: u32 = 0;
  for (let i: i32 = 0; i < n; i++) {
    const b = load<u32>(bytes + <usize>i * 4);
    if (b == 0xffffffff) continue;
    if (b > largest) largest = b;
    for (let j = i; j >= 0; j = load<i32>(next + <usize>j * 4)) {
      store<i32>(order + k * 4, j);
      k++;
    }
  }
  largestGroupBytes = largest;
}

/** Bytes written by the last `emit`, and elements in it. */
export let emittedBytes: u32 = 0;
export let emittedElements: u32 = 0;

@inline function timestampAt(p: usize): u64 {
  return bswap<u64>(load<u64>(p));
}

/**
 * Writes GroupByKey output elements for the groups starting at order[from] into `out` while
 * they fit in `capacity` bytes, each element's end offset into `ends`; returns the order index
 * to continue from. `combiner`: 0 end of window, 1 earliest, 2 latest. `globalEnd` holds the
 * encoded end-of-window timestamp of the global window; an interval window ends 1 ms before
 * its encoded end (its first 8 bytes).
 */
export function emit(
  order: usize,
  n: i32,
  from: i32,
  meta: usize,
  out: usize,
  capacity: u32,
  ends: usize,
  combiner: i32,
  globalEnd: usize,
  globalPane: u8,
  windowedPane: u8,
): i32 {
  let o: usize = out;
  const limit = out + <usize>capacity;
  let elements: u32 = 0;
  let i = from;
  while (i < n) {
    const first = meta + <usize>load<i32>(order + <usize>i * 4) * STRIDE;
    // The group's extent and size, so that it is written only if it fits.
    let j = i + 1;
    let valueBytes: usize = <usize>(load<u32>(first + END) - load<u32>(first + KEY_END));
    while (j < n) {
      const m = meta + <usize>load<i32>(order + <usize>j * 4) * STRIDE;
      if (!sameGroup(first, m)) break;
      valueBytes += <usize>(load<u32>(m + END) - load<u32>(m + KEY_END));
      j++;
    }
    const keyStart = <usize>load<u32>(first + KEY_START);
    const keyLength = <usize>load<u32>(first + KEY_END) - keyStart;
    const windowStart = <usize>load<u32>(first + WINDOW_START);
    const windowLength = <usize>load<u32>(first + WINDOW_END) - windowStart;
    const size: usize = <usize>17 + windowLength + keyLength + valueBytes;
    if (o + size > limit) break;
    const element = o;
    o += 8;
    store<u32>(o, bswap<u32>(1));
    o += 4;
    memory.copy(o, windowStart, windowLength);
    o += windowLength;
    store<u8>(o, windowLength == 0 ? globalPane : windowedPane);
    o += 1;
    memory.copy(o, keyStart, keyLength);
    o += keyLength;
    store<u32>(o, bswap<u32>(<u32>(j - i)));
    o += 4;
    let earliest: u64 = 0xffffffffffffffff;
    let latest: u64 = 0;
    for (let k = i; k < j; k++) {
      const m = meta + <usize>load<i32>(order + <usize>k * 4) * STRIDE;
      const valueStart = <usize>load<u32>(m + KEY_END);
      const valueLength = <usize>load<u32>(m + END) - valueStart;
      memory.copy(o, valueStart, valueLength);
      o += valueLength;
      const ts = timestampAt(<usize>load<u32>(m + START) + 4);
      if (ts < earliest) earliest = ts;
      if (ts > latest) latest = ts;
    }
    let ts: u64;
    if (combiner == 1) ts = earliest;
    else if (combiner == 2) ts = latest;
    else if (windowLength == 0) ts = timestampAt(globalEnd);
    else ts = timestampAt(windowStart) - 1;
    store<u64>(element, bswap<u64>(ts));
    store<u32>(ends + <usize>elements * 4, <u32>(o - out));
    elements++;
    i = j;
  }
  emittedBytes = <u32>(o - out);
  emittedElements = elements;
  return i;
}
