// Ordered-list state is the one kind of user state whose bytes the worker parses: it must sort the
// entries of an append by their sort keys. StateAppendRequest (beam_fn_api.proto) says each entry
// is a KV of a varint sort key and the value under a length prefix (beam:coder:length_prefix:v1).
//
//   Python's harness writes  varint(sort key) | length prefix | value   whatever the descriptor says
//                            (its coder is TupleCoder(VarInt, LengthPrefix(spec coder)), taken from
//                            the DoFn, not from the descriptor)
//   Go's harness writes      varint(sort key) | value encoded with the spec's element coder as the
//                            descriptor declares it (a varint for an int: no length prefix)
//
// So the planner declares every ordered-list spec's element coder length-prefixed, and Go writes,
// and reads back, what the Fn API says. Prism, Beam's Go runner, instead keeps the coder and
// measures each value by its coder's URN, which only works for the handful of URNs it lists.
import { type Components, ParDoPayload } from "apache-beam/proto/beam_runner_api";
import { addCoder } from "../../codec/coders.js";
import { Coders, Transforms } from "../../common/urns.js";

export function lengthPrefixOrderedListValues(leaves: string[], components: Components): void {
  for (const id of leaves) {
    const t = components.transforms[id]!;
    if (t.spec?.urn !== Transforms.parDo) continue;
    const payload = ParDoPayload.fromBinary(t.spec.payload);
    let changed = false;
    for (const state of Object.values(payload.stateSpecs)) {
      if (state.spec.oneofKind !== "orderedListSpec") continue;
      const spec = state.spec.orderedListSpec;
      if (components.coders[spec.elementCoderId]?.spec?.urn === Coders.lengthPrefix) continue;
      spec.elementCoderId = addCoder(components.coders, `${spec.elementCoderId}_lp`, {
        spec: { urn: Coders.lengthPrefix, payload: new Uint8Array() },
        componentCoderIds: [spec.elementCoderId],
      });
      changed = true;
    }
    if (changed) t.spec = { urn: t.spec.urn, payload: ParDoPayload.toBinary(payload) };
  }
}
