// User state of one task, in memory for the whole task so that timer bundles see what the
// elements' bundles wrote. Every cell belongs to one (transform, state id, window, key), as every
// user StateKey names them. What an SDK sends is fixed by its StateSpec's protocol URN:
//
//   protocol      kinds                        StateKey               get / append / clear
//   bag           bag, value, combining,       BagUserState           every value / add values / drop the cell
//                 Python's set (the SDK de-duplicates, rewriting the bag)
//   multimap      map, set, multimap           MultimapKeysUserState  the map keys / (none) / drop every map key
//                 (Go, Java)                   MultimapUserState      one map key's values / add values / drop that key
//   ordered_list  ordered list                 OrderedListUserState   entries in [start, end) / add entries /
//                                                                     drop the entries in [start, end)
//
// Values are opaque: a get answers with the concatenation of what was appended, since elements
// travel nested-encoded and concatenated. Map keys are compared as their encoded bytes (Beam
// requires deterministic key coders); a map key exists from its first append, even an empty one
// (Java's set state appends a Void value, zero bytes), until it or every key is cleared.
//
// Ordered lists are the one kind whose bytes the runner parses. StateAppendRequest's contract:
// each entry is a KV of a varint sort key (a signed int64, as Beam's VarIntCoder writes it) and
// the value under a length prefix. Python's harness writes exactly that; Go's writes the value
// with the state's element coder, which the planner therefore declares length-prefixed
// (src/driver/planner/length-prefix-ordered-list-values.ts). Entries are kept sorted by sort key,
// equal keys in the order they arrived (as Prism and the FnApiRunner keep them), and a get answers
// with the entries as they were appended. StateKey.ordered_list_user_state is newer than our
// protos and arrives as an unknown field: ordered-list-state-key.ts reads it.
import type {
  StateKey_BagUserState,
  StateKey_MultimapKeysUserState,
  StateKey_MultimapUserState,
  StateRequest,
  StateResponse,
} from "apache-beam/proto/beam_fn_api";
import { ByteReader } from "../codec/byte-io.js";
import type { OrderedListStateKey } from "./ordered-list-state-key.js";

type Operation = StateRequest["request"];
type Answer = StateResponse["response"];

interface Cell {
  transformId: string;
  userStateId: string;
  window: Uint8Array;
  key: Uint8Array;
}

interface MapEntry {
  mapKey: Uint8Array;
  values: Uint8Array[];
}

interface OrderedEntry {
  sortKey: bigint;
  /** The entry as the SDK encoded it: the varint sort key, then the length-prefixed value. */
  encoded: Uint8Array;
}

export class UserState {
  private readonly bags = new Map<string, Uint8Array[]>();
  /** Per cell, its map keys (by their bytes as latin1) in first-append order. */
  private readonly multimaps = new Map<string, Map<string, MapEntry>>();
  /** Per cell, its entries sorted by sort key. */
  private readonly orderedLists = new Map<string, OrderedEntry[]>();

  bag(k: StateKey_BagUserState, op: Operation): Answer {
    const id = cellId(k);
    switch (op.oneofKind) {
      case "get":
        return got(this.bags.get(id) ?? []);
      case "append": {
        const bag = this.bags.get(id) ?? [];
        this.bags.set(id, bag);
        bag.push(op.append.data);
        return appended();
      }
      case "clear":
        this.bags.delete(id);
        return cleared();
      default:
        throw unsupported("BagUserState", op);
    }
  }

  multimapKeys(k: StateKey_MultimapKeysUserState, op: Operation): Answer {
    const id = cellId(k);
    switch (op.oneofKind) {
      case "get":
        return got([...(this.multimaps.get(id)?.values() ?? [])].map((e) => e.mapKey));
      case "clear":
        this.multimaps.delete(id);
        return cleared();
      default:
        // The Fn API defines no append on the keys: values are appended under one map key.
        throw unsupported("MultimapKeysUserState", op);
    }
  }

  multimap(k: StateKey_MultimapUserState, op: Operation): Answer {
    const id = cellId(k);
    const mapKey = latin1(k.mapKey);
    switch (op.oneofKind) {
      case "get":
        return got(this.multimaps.get(id)?.get(mapKey)?.values ?? []);
      case "append": {
        const map = this.multimaps.get(id) ?? new Map<string, MapEntry>();
        this.multimaps.set(id, map);
        const entry = map.get(mapKey) ?? { mapKey: k.mapKey, values: [] };
        map.set(mapKey, entry);
        entry.values.push(op.append.data);
        return appended();
      }
      case "clear": {
        const map = this.multimaps.get(id);
        map?.delete(mapKey);
        if (map?.size === 0) this.multimaps.delete(id);
        return cleared();
      }
      default:
        throw unsupported("MultimapUserState", op);
    }
  }

  orderedList(k: OrderedListStateKey, op: Operation): Answer {
    const id = cellId(k);
    const list = this.orderedLists.get(id) ?? [];
    const { start, end } = k.range;
    switch (op.oneofKind) {
      case "get": {
        const from = lowerBound(list, start);
        return got(list.slice(from, Math.max(from, lowerBound(list, end))).map((e) => e.encoded));
      }
      case "append":
        for (const entry of splitOrderedEntries(op.append.data, k)) list.splice(upperBound(list, entry.sortKey), 0, entry);
        if (list.length > 0) this.orderedLists.set(id, list);
        return appended();
      case "clear": {
        const from = lowerBound(list, start);
        list.splice(from, Math.max(0, lowerBound(list, end) - from));
        if (list.length === 0) this.orderedLists.delete(id);
        return cleared();
      }
      default:
        throw unsupported("OrderedListUserState", op);
    }
  }
}

/** An append's data split into its entries: KV<varint sort key, length-prefixed value>. */
function splitOrderedEntries(data: Uint8Array, k: OrderedListStateKey): OrderedEntry[] {
  const reader = new ByteReader(data);
  const out: OrderedEntry[] = [];
  try {
    while (!reader.done) {
      const start = reader.pos;
      const sortKey = reader.readVarBigInt();
      reader.skip(reader.readVarint());
      out.push({ sortKey, encoded: data.subarray(start, reader.pos) });
    }
  } catch (cause) {
    throw new Error(
      `ordered-list state '${k.userStateId}' of transform '${k.transformId}': an append is not a sequence of ` +
        `KV<varint sort key, length-prefixed value> entries (${data.length} bytes, entry ${out.length + 1} is cut short)`,
      { cause },
    );
  }
  return out;
}

/** The first index whose sort key is >= `sortKey`. */
function lowerBound(list: OrderedEntry[], sortKey: bigint): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.sortKey < sortKey) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose sort key is > `sortKey`: where a new entry goes, after its equals. */
function upperBound(list: OrderedEntry[], sortKey: bigint): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.sortKey <= sortKey) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A cell's identity; the parts are length-prefixed so that no two cells can share one. */
function cellId(k: Cell): string {
  return [k.transformId, k.userStateId, latin1(k.window), latin1(k.key)].map((part) => `${part.length}:${part}`).join("");
}

function got(parts: Uint8Array[]): Answer {
  return { oneofKind: "get", get: { data: Buffer.concat(parts), continuationToken: new Uint8Array() } };
}

function appended(): Answer {
  return { oneofKind: "append", append: {} };
}

function cleared(): Answer {
  return { oneofKind: "clear", clear: {} };
}

function unsupported(stateKey: string, op: Operation): Error {
  return new Error(`${stateKey} does not support the state operation '${op.oneofKind ?? "none"}'`);
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}
