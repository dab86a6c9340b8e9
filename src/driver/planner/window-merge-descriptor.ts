// A merging WindowFn other than Sessions runs in the SDK: the runner asks for its merge through
// the Fn API's beam:transform:merge_windows:v1, in a descriptor of its own that travels with the
// stage reading the GroupByKey (as Beam's FnApiRunner does in GenericMergingWindowFn):
//
//   source (WindowedValue<KV<bytes nonce, Iterable<W>>>, global window)
//     -> merge_windows (payload: the WindowFn's FunctionSpec)
//     -> sink (WindowedValue<KV<bytes nonce, KV<Iterable<W>, Iterable<KV<W, Iterable<W>>>>>>)
//
// W is the windowing strategy's window coder, length-prefixed where the runner cannot parse it:
// exactly the window coder of the grouped input's wire coder, so the windows the runner sends
// and receives are byte for byte those in its shuffle records.
import { ProcessBundleDescriptor } from "apache-beam/proto/beam_fn_api";
import { type Coder, type Components, FunctionSpec, type WindowingStrategy } from "apache-beam/proto/beam_runner_api";
import { addCoder, lengthPrefixUnknownCoders } from "../../codec/coders.js";
import { Coders, Transforms, WindowFns } from "../../common/urns.js";
import { WORKER_ENDPOINT_PLACEHOLDER, dataTransform } from "./data-transforms.js";

const SOURCE = "merge_windows/source";
const MERGE = "merge_windows/merge";
const SINK = "merge_windows/sink";
const INPUT = "merge_windows/input";
const OUTPUT = "merge_windows/output";
const GLOBAL_WINDOWING = "merge_windows/global_windowing";

/** The descriptor that merges windows of `strategy` in `environmentId`'s SDK harness. */
export function windowMergeDescriptor(id: string, components: Components, strategy: WindowingStrategy, environmentId: string): ProcessBundleDescriptor {
  const coders = components.coders;
  const coder = (name: string, urn: string, ...parts: string[]): string => {
    const c: Coder = { spec: { urn, payload: new Uint8Array() }, componentCoderIds: parts };
    return addCoder(coders, `merge_windows/${name}`, c);
  };
  const window = lengthPrefixUnknownCoders(coders, strategy.windowCoderId);
  const nonce = coder("nonce", Coders.bytes);
  const globalWindow = coder("global_window", Coders.globalWindow);
  const windows = coder("windows", Coders.iterable, window);
  const input = coder("input", Coders.kv, nonce, windows);
  const merges = coder("merges", Coders.iterable, coder("merge", Coders.kv, window, windows));
  const output = coder("output", Coders.kv, nonce, coder("result", Coders.kv, windows, merges));
  const wireInput = coder("wire_input", Coders.windowedValue, input, globalWindow);
  const wireOutput = coder("wire_output", Coders.windowedValue, output, globalWindow);

  const pcollection = (name: string, coderId: string) => ({
    uniqueName: name,
    coderId,
    isBounded: 2 /* BOUNDED */,
    windowingStrategyId: GLOBAL_WINDOWING,
    displayData: [],
  });
  return ProcessBundleDescriptor.create({
    id,
    transforms: {
      [SOURCE]: dataTransform(SOURCE, Transforms.dataSource, wireInput, {}, { out: INPUT }),
      [MERGE]: {
        uniqueName: MERGE,
        spec: { urn: Transforms.mergeWindows, payload: FunctionSpec.toBinary(strategy.windowFn!) },
        subtransforms: [],
        inputs: { input: INPUT },
        outputs: { output: OUTPUT },
        displayData: [],
        environmentId,
        annotations: {},
      },
      [SINK]: dataTransform(SINK, Transforms.dataSink, wireOutput, { in: OUTPUT }, {}),
    },
    pcollections: { [INPUT]: pcollection(INPUT, input), [OUTPUT]: pcollection(OUTPUT, output) },
    windowingStrategies: {
      [GLOBAL_WINDOWING]: {
        windowFn: { urn: WindowFns.global, payload: new Uint8Array() },
        mergeStatus: 1 /* NON_MERGING */,
        windowCoderId: globalWindow,
        trigger: { trigger: { oneofKind: "default", default: {} } },
        accumulationMode: 1 /* DISCARDING */,
        outputTime: 1 /* END_OF_WINDOW */,
        closingBehavior: 1 /* EMIT_ALWAYS */,
        allowedLateness: 0n,
        onTimeBehavior: 1 /* FIRE_ALWAYS */,
        assignsToOneWindow: true,
        environmentId: "",
      },
    },
    coders,
    environments: components.environments,
    // Nothing reads state, but the Python harness opens a state channel to whatever address the
    // descriptor names, even none.
    stateApiServiceDescriptor: { url: WORKER_ENDPOINT_PLACEHOLDER },
  });
}
