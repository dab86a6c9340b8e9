// StateKey.ordered_list_user_state (field 9), newer than our npm protos: requests carrying it are
// built here field by field with protobuf-ts's BinaryWriter, using beam_fn_api.proto's numbers.
// (test/worker/user-state.test.ts drives the same key built by the Python SDK's own protos.)
import { BinaryWriter, type IBinaryWriter, UnknownFieldHandler, WireType } from "@protobuf-ts/runtime";
import { StateKey, StateRequest } from "apache-beam/proto/beam_fn_api";
import { describe, expect, it } from "vitest";
import { orderedListStateKeyOf } from "../../src/worker/ordered-list-state-key.js";

const MIN_INT64 = -(1n << 63n);
const MAX_INT64 = (1n << 63n) - 1n;

interface OrderedListFields {
  transformId: string;
  userStateId: string;
  window: Uint8Array;
  key: Uint8Array;
  range?: { start: bigint; end: bigint };
}

/** StateKey { ordered_list_user_state = 9 { transform_id = 1, user_state_id = 2, window = 3, key = 4, range = 5 { start = 1, end = 2 } } } */
function writeOrderedListStateKey(w: IBinaryWriter, k: OrderedListFields): IBinaryWriter {
  w.tag(9, WireType.LengthDelimited).fork();
  w.tag(1, WireType.LengthDelimited).string(k.transformId);
  w.tag(2, WireType.LengthDelimited).string(k.userStateId);
  w.tag(3, WireType.LengthDelimited).bytes(k.window);
  w.tag(4, WireType.LengthDelimited).bytes(k.key);
  if (k.range) {
    w.tag(5, WireType.LengthDelimited).fork();
    w.tag(1, WireType.Varint).int64(k.range.start);
    w.tag(2, WireType.Varint).int64(k.range.end);
    w.join();
  }
  return w.join();
}

/** StateRequest { id = 1, instruction_id = 2, state_key = 3, get = 1000 {} }, in the field order protobuf-ts writes. */
function orderedListGet(k: OrderedListFields): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).string("r");
  w.tag(2, WireType.LengthDelimited).string("bundle-1");
  writeOrderedListStateKey(w.tag(3, WireType.LengthDelimited).fork(), k).join();
  w.tag(1000, WireType.LengthDelimited).fork().join();
  return w.finish();
}

const fields: OrderedListFields = {
  transformId: "ParDo(Sort)",
  userStateId: "events",
  window: Uint8Array.of(0x7f, 0xdf, 0x3b, 0x64, 0x5a, 0x1c, 0xac, 0x08),
  key: Uint8Array.of(3, 0x61, 0x62, 0x63),
  range: { start: -5n, end: 1_700_000_000_000_000n },
};

describe("a StateRequest whose StateKey is newer than our protos", () => {
  it("decodes, keeping the key as an unknown field of the StateKey, and re-encodes to the same bytes", () => {
    const bytes = orderedListGet(fields);

    const request = StateRequest.fromBinary(bytes);

    expect(request.id).toBe("r");
    expect(request.request.oneofKind).toBe("get");
    expect(request.stateKey!.type.oneofKind).toBeUndefined();
    expect(UnknownFieldHandler.list(request.stateKey!).map((f) => f.no)).toEqual([9]);
    expect(Buffer.from(StateRequest.toBinary(request))).toEqual(Buffer.from(bytes));
  });
});

describe("orderedListStateKeyOf", () => {
  it("reads the cell and the range with the official field numbers", () => {
    const key = StateRequest.fromBinary(orderedListGet(fields)).stateKey!;

    expect(orderedListStateKeyOf(key)).toEqual({ ...fields, range: { start: -5n, end: 1_700_000_000_000_000n } });
  });

  it("reads the extreme sort keys the SDKs use for a whole list, [min int64, max int64)", () => {
    const key = StateRequest.fromBinary(orderedListGet({ ...fields, range: { start: MIN_INT64, end: MAX_INT64 } })).stateKey!;

    expect(orderedListStateKeyOf(key)!.range).toEqual({ start: MIN_INT64, end: MAX_INT64 });
  });

  it("reads a key without a range as [0, 0), as proto3 defaults it (an append's key has none)", () => {
    const key = StateRequest.fromBinary(orderedListGet({ ...fields, range: undefined })).stateKey!;

    expect(orderedListStateKeyOf(key)!.range).toEqual({ start: 0n, end: 0n });
  });

  it("finds nothing in a key of a kind our protos know, nor in another unknown kind", () => {
    const bag = StateKey.create({ type: { oneofKind: "bagUserState", bagUserState: { transformId: "t", userStateId: "s", window: new Uint8Array(), key: new Uint8Array() } } });
    const multimapEntries = StateKey.fromBinary(new BinaryWriter().tag(10, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string("t").join().finish());

    expect(orderedListStateKeyOf(bag)).toBeUndefined();
    expect(orderedListStateKeyOf(multimapEntries)).toBeUndefined();
  });
});
