// Which user-state kinds the planner lets through at Prepare: exactly those the worker serves
// (src/worker/user-state.ts), by spec kind and protocol URN. The stateful DoFn of a captured
// Python pipeline gets each spec in turn in place of its own bag state.
import { readFileSync } from "node:fs";
import { ParDoPayload, Pipeline, type StateSpec } from "apache-beam/proto/beam_runner_api";
import { describe, expect, it } from "vitest";
import { Coders, Transforms, UserStateProtocols } from "../../src/common/urns.js";
import { UnsupportedPipelineError, planPipeline } from "../../src/driver/planner/index.js";

const { bag: BAG, multimap: MULTIMAP, orderedList: ORDERED_LIST } = UserStateProtocols;

/** The stateful_timer pipeline with its stateful DoFn's state replaced by `spec`, and that DoFn's name. */
function withState(make: (coderId: string) => StateSpec): { pipeline: Pipeline; transform: string } {
  const pipeline = Pipeline.fromBinary(readFileSync(new URL("../fixtures/stateful_timer.pb", import.meta.url)));
  const t = Object.values(pipeline.components!.transforms).find(
    (t) => t.spec?.urn === Transforms.parDo && Object.keys(ParDoPayload.fromBinary(t.spec.payload).stateSpecs).length > 0,
  )!;
  const payload = ParDoPayload.fromBinary(t.spec!.payload);
  const [name, own] = Object.entries(payload.stateSpecs)[0]!;
  if (own.spec.oneofKind !== "bagSpec") throw new Error(`expected the fixture's state to be a bag, got ${own.spec.oneofKind}`);
  payload.stateSpecs = { [name]: make(own.spec.bagSpec.elementCoderId) };
  t.spec!.payload = ParDoPayload.toBinary(payload);
  return { pipeline, transform: t.uniqueName };
}

const plan = (pipeline: Pipeline) => planPipeline(pipeline, { pythonSdkVersion: "2.77.0" });
const protocol = (urn: string) => ({ urn, payload: new Uint8Array() });

const served: Array<[string, (coder: string) => StateSpec]> = [
  ["bag state", (c) => ({ spec: { oneofKind: "bagSpec", bagSpec: { elementCoderId: c } }, protocol: protocol(BAG) })],
  ["value state", (c) => ({ spec: { oneofKind: "readModifyWriteSpec", readModifyWriteSpec: { coderId: c } }, protocol: protocol(BAG) })],
  [
    "combining state",
    (c) => ({
      spec: { oneofKind: "combiningSpec", combiningSpec: { accumulatorCoderId: c, combineFn: { urn: "beam:combinefn:pickled_python:v1", payload: new Uint8Array() } } },
      protocol: protocol(BAG),
    }),
  ],
  ["Python's set state (a bag)", (c) => ({ spec: { oneofKind: "setSpec", setSpec: { elementCoderId: c } }, protocol: protocol(BAG) })],
  ["Go's and Java's set state (a multimap)", (c) => ({ spec: { oneofKind: "setSpec", setSpec: { elementCoderId: c } }, protocol: protocol(MULTIMAP) })],
  ["map state", (c) => ({ spec: { oneofKind: "mapSpec", mapSpec: { keyCoderId: c, valueCoderId: c } }, protocol: protocol(MULTIMAP) })],
  ["map state of an SDK that names no protocol", (c) => ({ spec: { oneofKind: "mapSpec", mapSpec: { keyCoderId: c, valueCoderId: c } } })],
  ["ordered-list state", (c) => ({ spec: { oneofKind: "orderedListSpec", orderedListSpec: { elementCoderId: c } }, protocol: protocol(ORDERED_LIST) })],
  ["ordered-list state of an SDK that names no protocol", (c) => ({ spec: { oneofKind: "orderedListSpec", orderedListSpec: { elementCoderId: c } } })],
];

const rejected: Array<[string, (coder: string) => StateSpec, RegExp]> = [
  [
    "ordered-list state over the bag protocol",
    (c) => ({ spec: { oneofKind: "orderedListSpec", orderedListSpec: { elementCoderId: c } }, protocol: protocol(BAG) }),
    /state '[^']+' is a orderedListSpec over protocol 'beam:user_state:bag:v1'/,
  ],
  [
    "map state over the bag protocol",
    (c) => ({ spec: { oneofKind: "mapSpec", mapSpec: { keyCoderId: c, valueCoderId: c } }, protocol: protocol(BAG) }),
    /state '[^']+' is a mapSpec over protocol 'beam:user_state:bag:v1'; this runner serves bagSpec/,
  ],
  [
    "a protocol no SDK defines",
    (c) => ({ spec: { oneofKind: "bagSpec", bagSpec: { elementCoderId: c } }, protocol: protocol("beam:user_state:made_up:v1") }),
    /state '[^']+' is a bagSpec over protocol 'beam:user_state:made_up:v1'/,
  ],
  ["a spec of no kind", () => ({ spec: { oneofKind: undefined }, protocol: protocol(BAG) }), /state '[^']+' is of a kind this runner does not know/],
];

describe("user state at Prepare", () => {
  it.each(served)("accepts %s", (_, make) => {
    const { pipeline } = withState(make);
    expect(() => plan(pipeline)).not.toThrow();
  });

  it.each(rejected)("rejects %s, naming the transform and the kind", (_, make, message) => {
    const { pipeline, transform } = withState(make);
    expect(() => plan(pipeline)).toThrow(UnsupportedPipelineError);
    expect(() => plan(pipeline)).toThrow(`transform '${transform}': `);
    expect(() => plan(pipeline)).toThrow(message);
  });

  // The worker must split an append into entries, KV<varint sort key, length-prefixed value> by
  // the Fn API; Go's harness writes the value with the element coder the descriptor declares.
  it("declares an ordered-list state's element coder length-prefixed in the stage's descriptor", () => {
    const { pipeline, transform } = withState((c) => ({
      spec: { oneofKind: "orderedListSpec", orderedListSpec: { elementCoderId: c } },
      protocol: protocol(ORDERED_LIST),
    }));
    const original = Object.values(pipeline.components!.transforms).find((t) => t.uniqueName === transform)!;
    const originalSpec = Object.values(ParDoPayload.fromBinary(original.spec!.payload).stateSpecs)[0]!.spec;
    if (originalSpec.oneofKind !== "orderedListSpec") throw new Error("expected an ordered-list spec");

    const stage = plan(pipeline).stages.find((s) => Object.values(s.descriptor.transforms).some((t) => t.uniqueName === transform))!;

    const t = Object.values(stage.descriptor.transforms).find((t) => t.uniqueName === transform)!;
    const spec = Object.values(ParDoPayload.fromBinary(t.spec!.payload).stateSpecs)[0]!.spec;
    if (spec.oneofKind !== "orderedListSpec") throw new Error("expected an ordered-list spec");
    const coder = stage.descriptor.coders[spec.orderedListSpec.elementCoderId]!;
    expect(coder.spec?.urn).toBe(Coders.lengthPrefix);
    expect(coder.componentCoderIds).toEqual([originalSpec.orderedListSpec.elementCoderId]);
  });
});
