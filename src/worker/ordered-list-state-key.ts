// StateKey.ordered_list_user_state, read from the StateKey's unknown fields. Our Beam protos (npm
// apache-beam 2.49.0, the last published) predate it, so protobuf-ts keeps it as an unknown field
// of the StateKey and leaves `type.oneofKind` undefined (the package's readers keep unknown fields
// only with patches/apache-beam+2.49.0.patch). This module decodes that one field against the
// official field numbers of beam_fn_api.proto, and nothing else: when the npm protos learn it,
// use `stateKey.type.orderedListUserState` instead and delete this file.
//
//   message StateKey {
//     oneof type { ...; OrderedListUserState ordered_list_user_state = 9; }
//     message OrderedListUserState {
//       string transform_id = 1; string user_state_id = 2;
//       bytes window = 3;                  // nested-encoded
//       bytes key = 4;                     // nested-encoded
//       OrderedListRange range = 5;
//     }
//   }
//   message OrderedListRange { int64 start = 1; int64 end = 2; }   // sort keys [start, end)
import { BinaryReader, UnknownFieldHandler, WireType } from "@protobuf-ts/runtime";
import type { StateKey } from "apache-beam/proto/beam_fn_api";

const STATE_KEY_ORDERED_LIST_USER_STATE = 9;

export interface OrderedListStateKey {
  transformId: string;
  userStateId: string;
  /** The window, nested-encoded. */
  window: Uint8Array;
  /** The element's key, nested-encoded. */
  key: Uint8Array;
  /**
   * Sort keys [start, end) that a get or a clear covers. proto3 leaves zeros off the wire, so a
   * key without a range reads as [0, 0), which covers nothing (as on Prism and the FnApiRunner);
   * an append ignores it, since every entry carries its own sort key.
   */
  range: { start: bigint; end: bigint };
}

/** The StateKey's ordered_list_user_state, or undefined when it has none. */
export function orderedListStateKeyOf(stateKey: StateKey): OrderedListStateKey | undefined {
  if (stateKey.type.oneofKind !== undefined) return undefined;
  // A message field repeated on the wire is merged by protobuf; the SDKs send it once, so reading
  // every occurrence in order into one result is that merge.
  const fields = UnknownFieldHandler.list(stateKey, STATE_KEY_ORDERED_LIST_USER_STATE).filter((f) => f.wireType === WireType.LengthDelimited);
  if (fields.length === 0) return undefined;
  const out: OrderedListStateKey = { transformId: "", userStateId: "", window: new Uint8Array(), key: new Uint8Array(), range: { start: 0n, end: 0n } };
  for (const field of fields) {
    // An unknown length-delimited field is kept with its length prefix, which bytes() reads.
    const reader = new BinaryReader(new BinaryReader(field.data).bytes());
    while (reader.pos < reader.len) {
      const [no, wireType] = reader.tag();
      if (wireType !== WireType.LengthDelimited) reader.skip(wireType);
      else if (no === 1) out.transformId = reader.string();
      else if (no === 2) out.userStateId = reader.string();
      else if (no === 3) out.window = reader.bytes();
      else if (no === 4) out.key = reader.bytes();
      else if (no === 5) readRange(reader.bytes(), out.range);
      else reader.skip(wireType);
    }
  }
  return out;
}

function readRange(bytes: Uint8Array, range: { start: bigint; end: bigint }): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (wireType === WireType.Varint && no === 1) range.start = reader.int64().toBigInt();
    else if (wireType === WireType.Varint && no === 2) range.end = reader.int64().toBigInt();
    else reader.skip(wireType);
  }
}
