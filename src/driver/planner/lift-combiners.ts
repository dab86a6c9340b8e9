// Combiner lifting, for SDKs that submit Combine.perKey unlifted (the Python SDK lifts before
// submitting; others, or Python with --experiments=pre_optimize=none, do not):
//   CombinePerKey(fn)  =>  Precombine -> GroupByKey -> MergeAccumulators -> ExtractOutputs
// so that values are combined before they are shuffled and only accumulators cross the wire.
import { type Coder, CombinePayload, type Components, type PTransform } from "apache-beam/proto/beam_runner_api";
import { addCoder } from "../../codec/coders.js";
import { Coders, Transforms } from "../../common/urns.js";

/** Returns the lifted parts of a CombinePerKey composite, or undefined to expand it as it is. */
export function liftCombinePerKey(id: string, t: PTransform, components: Components): string[] | undefined {
  if (t.spec?.urn !== Transforms.combinePerKey || !t.environmentId) return undefined;
  const inputs = Object.values(t.inputs);
  const outputs = Object.values(t.outputs);
  if (inputs.length !== 1 || outputs.length !== 1) return undefined;
  const input = components.pcollections[inputs[0]!]!;
  const inputCoder = components.coders[input.coderId];
  const strategy = components.windowingStrategies[input.windowingStrategyId];
  // Lifting is only sound when each key and window fires once: the default trigger.
  if (inputCoder?.spec?.urn !== Coders.kv || !strategy || (strategy.trigger && strategy.trigger.trigger.oneofKind !== "default")) {
    return undefined;
  }
  const payload = CombinePayload.fromBinary(t.spec.payload);
  const keyCoder = inputCoder.componentCoderIds[0]!;
  const accumulator = payload.accumulatorCoderId;
  const coder = (urn: string, ...parts: string[]): Coder => ({ spec: { urn, payload: new Uint8Array() }, componentCoderIds: parts });
  const keyAccumulator = addCoder(components.coders, `${id}/key_accumulator`, coder(Coders.kv, keyCoder, accumulator));
  const accumulators = addCoder(components.coders, `${id}/accumulators`, coder(Coders.iterable, accumulator));
  const keyAccumulators = addCoder(components.coders, `${id}/key_accumulators`, coder(Coders.kv, keyCoder, accumulators));

  const pcollection = (suffix: string, coderId: string): string => {
    const pcId = `${id}/${suffix}`;
    components.pcollections[pcId] = { ...input, uniqueName: `${t.uniqueName}/${suffix}`, coderId };
    return pcId;
  };
  const precombined = pcollection("precombined", keyAccumulator);
  const grouped = pcollection("grouped", keyAccumulators);
  const merged = pcollection("merged", keyAccumulator);

  const part = (suffix: string, urn: string, from: Record<string, string>, to: Record<string, string>, environmentId = t.environmentId): string => {
    const partId = `${id}/${suffix}`;
    components.transforms[partId] = {
      ...t,
      uniqueName: `${t.uniqueName}/${suffix}`,
      spec: { urn, payload: urn === Transforms.groupByKey ? new Uint8Array() : t.spec!.payload },
      subtransforms: [],
      inputs: from,
      outputs: to,
      environmentId,
    };
    return partId;
  };
  return [
    part("Precombine", Transforms.combinePerKeyPrecombine, t.inputs, { out: precombined }),
    part("Group", Transforms.groupByKey, { in: precombined }, { out: grouped }, ""),
    part("Merge", Transforms.combinePerKeyMergeAccumulators, { in: grouped }, { out: merged }),
    part("ExtractOutputs", Transforms.combinePerKeyExtractOutputs, { in: merged }, t.outputs),
  ];
}
