// Splittable DoFns are the runner's to expand (the Python SDK leaves them whole):
//   ParDo(sdf)  =>  PairWithRestriction -> SplitAndSizeRestrictions -> || -> ProcessSizedElementsAndRestrictions
// The boundary (||) before Process is where the runner spreads restrictions over tasks, which is
// what makes a read of many files or ranges parallel.
import { Coder, type Components, ParDoPayload, type PTransform } from "apache-beam/proto/beam_runner_api";
import { addCoder } from "../../codec/coders.js";
import { Coders, Transforms } from "../../common/urns.js";

export interface ExpandedTransforms {
  leaves: string[];
  /** Transforms that must start a new stage so that their input is spread over tasks. */
  spreadInput: Set<string>;
}

export function expandSplittableDoFns(leaves: string[], components: Components): ExpandedTransforms {
  const out: string[] = [];
  const spreadInput = new Set<string>();
  for (const id of leaves) {
    const t = components.transforms[id]!;
    if (t.spec?.urn !== Transforms.parDo) {
      out.push(id);
      continue;
    }
    const payload = ParDoPayload.fromBinary(t.spec.payload);
    if (!payload.restrictionCoderId) {
      out.push(id);
      continue;
    }
    const [pair, split, process] = expandOne(id, t, payload, components);
    out.push(pair, split, process);
    spreadInput.add(process);
  }
  return { leaves: out, spreadInput };
}

function expandOne(id: string, t: PTransform, payload: ParDoPayload, components: Components): [string, string, string] {
  const mainTag = Object.keys(t.inputs).find((tag) => !(tag in payload.sideInputs))!;
  const mainInput = t.inputs[mainTag]!;
  const mainPcoll = components.pcollections[mainInput]!;
  const kv = (a: string, b: string): Coder => ({ spec: { urn: Coders.kv, payload: new Uint8Array() }, componentCoderIds: [a, b] });
  const doubleCoder = addCoder(components.coders, "sdf_size_double", { spec: { urn: Coders.double, payload: new Uint8Array() }, componentCoderIds: [] });
  const pairedCoder = addCoder(components.coders, `${mainPcoll.coderId}_paired`, kv(mainPcoll.coderId, payload.restrictionCoderId));
  const sizedCoder = addCoder(components.coders, `${mainPcoll.coderId}_sized`, kv(pairedCoder, doubleCoder));

  const pcoll = (suffix: string, coderId: string): string => {
    const newId = `${mainInput}${suffix}`;
    components.pcollections[newId] = { ...mainPcoll, uniqueName: `${mainPcoll.uniqueName}${suffix}`, coderId };
    return newId;
  };
  const paired = pcoll("/paired", pairedCoder);
  const sized = pcoll("/sized", sizedCoder);

  const part = (suffix: string, urn: string, input: string, outputs: Record<string, string>): string => {
    const newId = `${id}/${suffix}`;
    components.transforms[newId] = {
      ...t,
      uniqueName: `${t.uniqueName}/${suffix}`,
      spec: { urn, payload: t.spec!.payload },
      subtransforms: [],
      inputs: { ...t.inputs, [mainTag]: input },
      outputs,
    };
    return newId;
  };
  return [
    part("PairWithRestriction", Transforms.pairWithRestriction, mainInput, { out: paired }),
    part("SplitAndSizeRestrictions", Transforms.splitAndSizeRestrictions, paired, { out: sized }),
    part("Process", Transforms.processSizedElementsAndRestrictions, sized, t.outputs),
  ];
}
