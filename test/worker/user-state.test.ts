// User state as a task's State API serves it: TaskStateStore.handle driven with StateRequests as
// they arrive off the wire (encoded, then decoded as the gRPC server decodes them). Bag and
// multimap keys are built with our protos; ordered-list keys (and a key type we do not serve) are
// newer than our protos, so the Python SDK's own protos build those requests, as its harness does.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type StateKey, StateRequest, type StateResponse } from "apache-beam/proto/beam_fn_api";
import { beforeEach, describe, expect, it } from "vitest";
import { ByteReader } from "../../src/codec/byte-io.js";
import { defaultPython } from "../../src/driver/index.js";
import { LocalObjectStore } from "../../src/store/index.js";
import { TaskStateStore } from "../../src/worker/state-store.js";

const bytes = (s: string): Uint8Array => Buffer.from(s, "latin1");
const text = (b: Uint8Array): string => Buffer.from(b).toString("latin1");

/** A request as the harness sends it: encoded, then decoded as the gRPC server does. */
function wire(request: StateRequest): StateRequest {
  return StateRequest.fromBinary(StateRequest.toBinary(request));
}

function request(type: StateKey["type"], op: "get" | "clear" | { append: string }): StateRequest {
  return wire(
    StateRequest.create({
      id: "r",
      instructionId: "bundle-1",
      stateKey: { type },
      request:
        op === "get"
          ? { oneofKind: "get", get: { continuationToken: new Uint8Array() } }
          : op === "clear"
            ? { oneofKind: "clear", clear: {} }
            : { oneofKind: "append", append: { data: bytes(op.append) } },
    }),
  );
}

const cell = { transformId: "ParDo(Count)", userStateId: "seen", window: bytes(""), key: bytes("\x03abc") };
const bag = (c = cell): StateKey["type"] => ({ oneofKind: "bagUserState", bagUserState: c });
const keys = (c = cell): StateKey["type"] => ({ oneofKind: "multimapKeysUserState", multimapKeysUserState: c });
const mapKey = (k: string, c = cell): StateKey["type"] => ({ oneofKind: "multimapUserState", multimapUserState: { ...c, mapKey: bytes(k) } });

let state: TaskStateStore;

beforeEach(() => {
  const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "user-state-")));
  const noCoders = (id: string): never => {
    throw new Error(`user state needs no coder, asked for '${id}'`);
  };
  state = new TaskStateStore(store, [], noCoders, { memoryBudgetBytes: 1 << 20, spillDir: tmpdir() });
});

async function get(type: StateKey["type"]): Promise<string> {
  const response = await state.handle(request(type, "get"));
  if (response.oneofKind !== "get") throw new Error(`expected a get response, got '${response.oneofKind}'`);
  expect(response.get.continuationToken).toHaveLength(0);
  return text(response.get.data);
}

async function send(type: StateKey["type"], op: "clear" | { append: string }): Promise<StateResponse["response"]> {
  return state.handle(request(type, op));
}

describe("bag state (bag, value, combining and Python's set state)", () => {
  it("when values are appended, a get returns them concatenated in order, and a clear empties the bag", async () => {
    await send(bag(), { append: "\x01a" });
    await send(bag(), { append: "\x01b\x01c" });
    expect(await get(bag())).toBe("\x01a\x01b\x01c");

    expect(await send(bag(), "clear")).toEqual({ oneofKind: "clear", clear: {} });
    expect(await get(bag())).toBe("");
  });

  it("keeps a cell per transform, state id, window and key", async () => {
    const cells = [
      cell,
      { ...cell, transformId: "Other" },
      { ...cell, userStateId: "other" },
      { ...cell, window: bytes("\x00\x00\x00\x00\x00\x00\x00\x07\x01") },
      { ...cell, key: bytes("\x03abd") },
    ];
    for (const [i, c] of cells.entries()) await send(bag(c), { append: `\x01${i}` });
    for (const [i, c] of cells.entries()) expect(await get(bag(c))).toBe(`\x01${i}`);
  });
});

describe("multimap state (map, set and multimap state of the Go and Java SDKs)", () => {
  it("when values are appended under map keys, a get of one map key returns its values and the keys list every map key once", async () => {
    await send(mapKey("\x01a"), { append: "\x011" });
    await send(mapKey("\x01b"), { append: "\x012" });
    await send(mapKey("\x01a"), { append: "\x013" });

    expect(await get(mapKey("\x01a"))).toBe("\x011\x013");
    expect(await get(mapKey("\x01b"))).toBe("\x012");
    expect(await get(mapKey("\x01z"))).toBe("");
    expect(await get(keys())).toBe("\x01a\x01b");
  });

  it("when one map key is cleared, its values and its place among the keys are gone", async () => {
    await send(mapKey("\x01a"), { append: "\x011" });
    await send(mapKey("\x01b"), { append: "\x012" });

    await send(mapKey("\x01a"), "clear");

    expect(await get(mapKey("\x01a"))).toBe("");
    expect(await get(keys())).toBe("\x01b");
  });

  it("when the keys are cleared, every map key of the cell is gone and other cells keep theirs", async () => {
    const other = { ...cell, key: bytes("\x03xyz") };
    await send(mapKey("\x01a"), { append: "\x011" });
    await send(mapKey("\x01b"), { append: "\x012" });
    await send(mapKey("\x01a", other), { append: "\x019" });

    expect(await send(keys(), "clear")).toEqual({ oneofKind: "clear", clear: {} });

    expect(await get(keys())).toBe("");
    expect(await get(mapKey("\x01b"))).toBe("");
    expect(await get(keys(other))).toBe("\x01a");
    expect(await get(mapKey("\x01a", other))).toBe("\x019");
  });

  it("lists a map key whose only append was empty (a set element whose value encodes to no bytes)", async () => {
    await send(mapKey("\x01s"), { append: "" });
    expect(await get(keys())).toBe("\x01s");
  });

  it("refuses an append to the keys, which the Fn API does not define", async () => {
    await expect(send(keys(), { append: "\x01a" })).rejects.toThrow(/MultimapKeysUserState does not support the state operation 'append'/);
  });

  it("keeps multimap and bag cells of the same name apart", async () => {
    await send(bag(), { append: "\x01x" });
    await send(mapKey("\x01a"), { append: "\x011" });
    expect(await get(bag())).toBe("\x01x");
    expect(await get(keys())).toBe("\x01a");
  });
});

// Ordered-list requests built by the Python SDK's protos, entries encoded with the coder its
// harness uses, TupleCoder(VarIntCoder, LengthPrefixCoder(value coder)). Two cells' keys, two
// windows of one key, and the ranges the harness sends: [min, max) for a read or clear of the
// whole list, [start, end) for read_range / clear_range, none on an append.
const python = JSON.parse(
  execFileSync(
    defaultPython(),
    [
      "-c",
      `
import base64, json
from apache_beam import coders
from apache_beam.portability.api import beam_fn_api_pb2 as fn

entry = coders.TupleCoder([coders.VarIntCoder(), coders.coders.LengthPrefixCoder(coders.StrUtf8Coder())])
MIN, MAX = -(1 << 63), (1 << 63) - 1
WINDOW_2 = b"\\x80\\x00\\x00\\x00\\x00\\x00\\x00\\x07\\x01"

def key(rng=None, user_key=b"\\x03abc", window=b""):
    k = fn.StateKey(ordered_list_user_state=fn.StateKey.OrderedListUserState(
        transform_id="ParDo(Sort)", user_state_id="events", window=window, key=user_key))
    if rng is not None:
        k.ordered_list_user_state.range.start, k.ordered_list_user_state.range.end = rng
    return k

def req(k, op, entries=()):
    r = fn.StateRequest(id="r", instruction_id="bundle-1", state_key=k)
    if op == "get": r.get.SetInParent()
    elif op == "clear": r.clear.SetInParent()
    else: r.append.data = b"".join(entry.encode(e) for e in entries)
    return base64.b64encode(r.SerializeToString()).decode()

print(json.dumps({
    "append1": req(key(), "append", [(5, "five"), (-3, "minus three"), (5, "five again")]),
    "append2": req(key(), "append", [(0, "zero"), (MIN, "min"), (5, "five thrice"), (100, "hundred")]),
    "appendOtherKey": req(key(user_key=b"\\x03xyz"), "append", [(1, "other key")]),
    "appendOtherWindow": req(key(window=WINDOW_2), "append", [(2, "other window")]),
    "getAll": req(key((MIN, MAX)), "get"),
    "getNoRange": req(key(), "get"),
    "get0to6": req(key((0, 6)), "get"),
    "get6to6": req(key((6, 6)), "get"),
    "get100to0": req(key((100, 0)), "get"),
    "clear0to6": req(key((0, 6)), "clear"),
    "clearAll": req(key((MIN, MAX)), "clear"),
    "getOtherKey": req(key((MIN, MAX), user_key=b"\\x03xyz"), "get"),
    "getOtherWindow": req(key((MIN, MAX), window=WINDOW_2), "get"),
    "entriesGet": base64.b64encode(fn.StateRequest(id="r", instruction_id="bundle-1",
        state_key=fn.StateKey(multimap_entries_user_state=fn.StateKey.MultimapEntriesUserState(
            transform_id="t", user_state_id="s", window=b"", key=b"\\x01k")),
        get=fn.StateGetRequest()).SerializeToString()).decode(),
}))
`,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  ),
) as Record<string, string>;

const fromPython = (name: string): StateRequest => StateRequest.fromBinary(Buffer.from(python[name]!, "base64"));

/** A get's answer decoded as the harness decodes it: (sort key, value) entries. */
async function ordered(name: string): Promise<Array<[bigint, string]>> {
  const response = await state.handle(fromPython(name));
  if (response.oneofKind !== "get") throw new Error(`expected a get response, got '${response.oneofKind}'`);
  const reader = new ByteReader(response.get.data);
  const out: Array<[bigint, string]> = [];
  while (!reader.done) {
    const sortKey = reader.readVarBigInt();
    out.push([sortKey, Buffer.from(reader.readBytes(reader.readVarint())).toString("utf8")]);
  }
  return out;
}

const MIN_INT64 = -(1n << 63n);

describe("ordered-list state (StateKey.ordered_list_user_state, newer than our protos)", () => {
  it("decodes the harness's request, its key kept as an unknown field of the StateKey", () => {
    const request = fromPython("getAll");
    expect(request.request.oneofKind).toBe("get");
    expect(request.stateKey!.type.oneofKind).toBeUndefined();
  });

  describe("when entries were appended out of order, to two keys and two windows", () => {
    beforeEach(async () => {
      for (const name of ["append1", "append2", "appendOtherKey", "appendOtherWindow"]) {
        expect(await state.handle(fromPython(name))).toEqual({ oneofKind: "append", append: {} });
      }
    });

    it("a get of [min, max) returns the cell's entries sorted by sort key, equal keys in the order they were appended", async () => {
      expect(await ordered("getAll")).toEqual([
        [MIN_INT64, "min"],
        [-3n, "minus three"],
        [0n, "zero"],
        [5n, "five"],
        [5n, "five again"],
        [5n, "five thrice"],
        [100n, "hundred"],
      ]);
    });

    it("a get of [start, end) returns the entries in that range only", async () => {
      expect(await ordered("get0to6")).toEqual([
        [0n, "zero"],
        [5n, "five"],
        [5n, "five again"],
        [5n, "five thrice"],
      ]);
      expect(await ordered("get6to6")).toEqual([]);
      expect(await ordered("get100to0")).toEqual([]);
    });

    it("a get without a range covers [0, 0), nothing, as proto3 reads it (and as Prism and the FnApiRunner answer)", async () => {
      expect(await ordered("getNoRange")).toEqual([]);
    });

    it("a clear of [start, end) removes the entries in that range and keeps the rest", async () => {
      expect(await state.handle(fromPython("clear0to6"))).toEqual({ oneofKind: "clear", clear: {} });

      expect(await ordered("getAll")).toEqual([
        [MIN_INT64, "min"],
        [-3n, "minus three"],
        [100n, "hundred"],
      ]);
    });

    it("keeps a list per key and per window: clearing one cell leaves the others", async () => {
      await state.handle(fromPython("clearAll"));

      expect(await ordered("getAll")).toEqual([]);
      expect(await ordered("getOtherKey")).toEqual([[1n, "other key"]]);
      expect(await ordered("getOtherWindow")).toEqual([[2n, "other window"]]);
    });
  });

  it("refuses an append that is not KV<varint, length-prefixed value> entries, naming the state", async () => {
    const request = fromPython("append1");
    if (request.request.oneofKind !== "append") throw new Error("expected an append");
    request.request.append.data = Uint8Array.of(5, 10, 0x61);

    await expect(state.handle(request)).rejects.toThrow(/ordered-list state 'events' of transform 'ParDo\(Sort\)': an append is not a sequence of KV<varint sort key, length-prefixed value> entries/);
  });
});

describe("state keys this runner does not serve", () => {
  it("answers a multimap-entries key (Java's, newer than our protos) with an error naming its field", async () => {
    await expect(state.handle(fromPython("entriesGet"))).rejects.toThrow(/does not serve the state key it was sent \(StateKey field\(s\) 10\)/);
  });
});
