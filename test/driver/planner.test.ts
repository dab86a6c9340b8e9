// The planner on real pipeline protos captured from the Python SDK (scripts/capture-pipelines.py).
import { readFileSync } from "node:fs";
import { RemoteGrpcPort } from "apache-beam/proto/beam_fn_api";
import { DockerPayload, ExternalPayload, FunctionSpec, MergeStatus_Enum, ParDoPayload, Pipeline } from "apache-beam/proto/beam_runner_api";
import { describe, expect, it } from "vitest";
import { isRunnerKnownCoder, resolveCoder, type CoderTree } from "../../src/codec/index.js";
import { Coders, Environments, SideInputAccess, Transforms, WindowFns } from "../../src/common/urns.js";
import { type ExecutionPlan, type Stage, UnsupportedPipelineError, planPipeline } from "../../src/driver/planner/index.js";

const fixture = (name: string): Pipeline => Pipeline.fromBinary(readFileSync(new URL(`../fixtures/${name}.pb`, import.meta.url)));
const plan = (name: string, version = "2.77.0"): ExecutionPlan => planPipeline(fixture(name), { pythonSdkVersion: version });

function allRunnerKnown(tree: CoderTree): boolean {
  // Below a length prefix the bytes are opaque to the runner, so anything goes there.
  if (tree.urn === "beam:coder:length_prefix:v1") return true;
  return isRunnerKnownCoder(tree.urn) && tree.components.every(allRunnerKnown);
}

const urnsOf = (stage: Stage): string[] => stage.transformIds.map((id) => stage.descriptor.transforms[id]!.spec!.urn);

describe("planning wordcount (ReadFromText, Count.PerElement, WriteToText)", () => {
  const p = plan("wordcount_files");

  it("expands the splittable read and spreads the restrictions over tasks", () => {
    const process = p.stages.find((s) => urnsOf(s)[0] === Transforms.processSizedElementsAndRestrictions)!;
    expect(process).toBeDefined();
    expect(process.main.kind).toBe("edge");
    const split = p.stages.find((s) => urnsOf(s).includes(Transforms.splitAndSizeRestrictions))!;
    expect(urnsOf(split)).toContain(Transforms.pairWithRestriction);
    expect(process.upstream).toContain(split.id);
    // However few the restrictions, the scheduler spreads them (no small-input shortcut).
    expect(p.stages.filter((s) => s.splitsRestrictions).map((s) => s.id)).toEqual([process.id]);
  });

  it("reads each GroupByKey's output as a grouped edge partitioned by key", () => {
    const grouped = p.stages.filter((s) => s.main.kind === "edge" && s.main.edge.read.kind === "group");
    const gbks = Object.values(fixture("wordcount_files").components!.transforms).filter((t) => t.spec?.urn === Transforms.groupByKey);
    expect(gbks.length).toBeGreaterThanOrEqual(2);
    expect(grouped.length).toBe(gbks.length);
    for (const stage of grouped) {
      const edge = stage.main.kind === "edge" ? stage.main.edge : undefined;
      for (const source of edge!.sources) {
        const producer = p.stages.find((s) => s.outputs.some((o) => o.id === source))!;
        expect(producer.outputs.find((o) => o.id === source)!.partitionBy).toBe("key");
      }
    }
  });

  it("orders stages so that every stage comes after the stages it reads", () => {
    const seen = new Set<string>();
    for (const s of p.stages) {
      for (const u of s.upstream) expect(seen.has(u)).toBe(true);
      seen.add(s.id);
    }
  });

  it("length-prefixes every coder the runner must parse", () => {
    for (const s of p.stages) {
      const coders = s.descriptor.coders;
      const wire = [
        ...s.outputs.map((o) => o.wireCoderId),
        ...(s.main.kind === "edge" ? [s.main.edge.wireCoderId] : []),
        ...s.sideInputs.map((si) => si.edge.wireCoderId),
      ];
      for (const id of wire) expect(allRunnerKnown(resolveCoder(coders, id)), `${s.id}: ${id}`).toBe(true);
    }
  });

  it("gives each stage one data source and a sink per materialized output", () => {
    for (const s of p.stages) {
      const urns = Object.values(s.descriptor.transforms).map((t) => t.spec!.urn);
      expect(urns.filter((u) => u === Transforms.dataSource)).toHaveLength(1);
      expect(urns.filter((u) => u === Transforms.dataSink)).toHaveLength(s.outputs.length);
    }
  });

  it("keeps runner transforms (Impulse, GroupByKey) out of every stage", () => {
    for (const s of p.stages) {
      expect(urnsOf(s)).not.toContain(Transforms.groupByKey);
      expect(urnsOf(s)).not.toContain(Transforms.impulse);
    }
  });
});

describe("planning side inputs", () => {
  it("materializes each side input and starts the consumer only after its producer", () => {
    const p = plan("side_inputs");
    const consumer = p.stages.find((s) => s.sideInputs.length > 0)!;
    expect(consumer.sideInputs.map((si) => si.accessPattern).sort()).toEqual(["iterable", "iterable", "iterable", "iterable", "multimap"]); // Python builds AsDict on iterable access
    for (const si of consumer.sideInputs) {
      for (const source of si.edge.sources) {
        const producer = p.stages.find((s) => s.outputs.some((o) => o.id === source))!;
        expect(consumer.upstream).toContain(producer.id);
      }
    }
  });

  it("fuses the reader of side inputs into its main input's stage, which waits for them and is ordered after their stages", () => {
    const p = plan("side_inputs");
    const consumer = p.stages.find((s) => s.sideInputs.length > 0)!;
    const names = consumer.transformIds.map((id) => consumer.descriptor.transforms[id]!.uniqueName);
    // Main's Create (its FlatMap after the Impulse) and the Map that reads the side inputs: one stage.
    expect(names.some((n) => n.startsWith("Main/"))).toBe(true);
    expect(names.some((n) => n.startsWith("Map(use)"))).toBe(true);
    const order = p.stages.map((s) => s.id);
    for (const u of consumer.upstream) expect(order.indexOf(u)).toBeLessThan(order.indexOf(consumer.id));
  });

  it("does not fuse a reader whose side input is computed from its own main input (that stage would wait for itself)", () => {
    const p = plan("side_input_of_its_own_input");
    const namesOf = (s: Stage) => s.transformIds.map((id) => s.descriptor.transforms[id]!.uniqueName);
    const reader = p.stages.find((s) => namesOf(s).includes("Share"))!;
    expect(reader.sideInputs).toHaveLength(1);
    expect(namesOf(reader)).toEqual(["Share"]);
    expect(reader.upstream).toContain(p.stages.find((s) => namesOf(s).includes("Double"))!.id);
    // And no stage reads, however indirectly, what it writes itself.
    const byId = new Map(p.stages.map((s) => [s.id, s]));
    const reaches = (from: string, to: string, seen = new Set<string>()): boolean =>
      from === to || (!seen.has(from) && (seen.add(from), byId.get(from)!.upstream.some((u) => reaches(u, to, seen))));
    for (const s of p.stages) for (const u of s.upstream) expect(reaches(u, s.id), `${s.id} depends on itself through ${u}`).toBe(false);
  });
});

describe("planning a stateful DoFn with a timer", () => {
  const p = plan("stateful_timer");
  const stateful = p.stages.find((s) => s.timers.length > 0)!;

  it("roots it in its own stage whose input is partitioned by key", () => {
    expect(stateful.main.kind).toBe("edge");
    const edge = stateful.main.kind === "edge" ? stateful.main.edge : undefined;
    const producer = p.stages.find((s) => s.outputs.some((o) => o.id === edge!.sources[0]))!;
    expect(producer.outputs.find((o) => o.id === edge!.sources[0])!.partitionBy).toBe("key");
  });

  it("declares its timer family with a coder the runner can parse", () => {
    expect(stateful.timers).toHaveLength(1);
    expect(allRunnerKnown(resolveCoder(stateful.descriptor.coders, stateful.timers[0]!.coderId))).toBe(true);
    expect(stateful.descriptor.timerApiServiceDescriptor).toBeDefined();
  });
});

describe("planning Flatten and multi-output ParDo", () => {
  it("reads a Flatten's output as the union of its inputs", () => {
    const p = plan("flatten_partition_multi_output");
    const unions = p.stages.filter((s) => s.main.kind === "edge" && s.main.edge.sources.length >= 3);
    expect(unions.length).toBeGreaterThan(0);
  });
});

describe("Reshuffle", () => {
  it("is done by the runner, without the SDK's random keys and GroupByKey", () => {
    const pipeline = fixture("side_inputs");
    const reshuffles = Object.values(pipeline.components!.transforms).filter((t) => t.spec?.urn === Transforms.reshuffle);
    expect(reshuffles.length).toBeGreaterThan(0);
    const p = planPipeline(pipeline, { pythonSdkVersion: "2.77.0" });
    const names = p.stages.flatMap((s) => s.transformIds.map((id) => s.descriptor.transforms[id]!.uniqueName));
    for (const r of reshuffles) expect(names.filter((n) => n.startsWith(`${r.uniqueName}/`))).toEqual([]);
    const outputs = new Set(reshuffles.flatMap((r) => Object.values(r.outputs)));
    const edges = p.stages.flatMap((s) => (s.main.kind === "edge" ? [s.main.edge] : []));
    expect(edges.filter((e) => outputs.has(e.pcollection) && e.read.kind === "plain")).toHaveLength(reshuffles.length);
  });
});

describe("runner transforms back to back (GroupByKey into Reshuffle, Flatten and GroupByKey)", () => {
  it("plans a pass-through stage for each GroupByKey whose output another runner transform reads", () => {
    const pipeline = fixture("runner_transforms_back_to_back");
    const transforms = pipeline.components!.transforms;
    const runnerUrns = new Set<string>([Transforms.groupByKey, Transforms.flatten, Transforms.reshuffle]);
    const readByRunner = Object.values(transforms).filter(
      (t) =>
        t.spec?.urn === Transforms.groupByKey &&
        Object.values(transforms).some((c) => runnerUrns.has(c.spec?.urn ?? "") && Object.values(c.inputs).includes(Object.values(t.outputs)[0]!)),
    );
    expect(readByRunner.map((t) => t.uniqueName).sort()).toEqual(["GroupA", "GroupB"]);
    const p = planPipeline(pipeline, { pythonSdkVersion: "2.77.0" });
    const passThrough = p.stages.filter((s) => s.passThrough);
    expect(passThrough.map((s) => s.name).sort()).toEqual(["GroupA (pass-through)", "GroupB (pass-through)"]);
    for (const s of passThrough) {
      expect(s.transformIds).toEqual([]);
      expect(s.main.kind === "edge" && s.main.edge.read.kind).toBe("group");
      expect(s.outputs.every((o) => o.pcollection === s.passThrough!.pcollection)).toBe(true);
    }
  });

  it("gives every stage its own id, and orders each after the stages it reads", () => {
    const p = plan("runner_transforms_back_to_back");
    expect(new Set(p.stages.map((s) => s.id)).size).toBe(p.stages.length);
    const seen = new Set<string>();
    for (const s of p.stages) {
      for (const u of s.upstream) expect(seen.has(u), `${s.id} reads ${u} before it is planned`).toBe(true);
      seen.add(s.id);
    }
  });
});

describe("a splittable DoFn with a side input (Beam DataFrame's read_csv)", () => {
  it("gives each expanded part the side input, and fuses the parts that wait for the same one", () => {
    const p = plan("dataframe_read_csv");
    const partsOf = (suffix: string) => p.stages.filter((s) => s.transformIds.some((id) => s.descriptor.transforms[id]!.uniqueName.endsWith(`ParDo(_ReadFromPandasDoFn)/${suffix}`)));
    const [pair] = partsOf("PairWithRestriction");
    const [process] = partsOf("Process");
    expect(pair).toBeDefined();
    expect(partsOf("SplitAndSizeRestrictions")).toEqual([pair]);
    expect(process).toBeDefined();
    expect(process).not.toBe(pair);
    for (const stage of [pair!, process!]) expect(stage.sideInputs.length).toBeGreaterThan(0);
    expect(process!.upstream).toContain(pair!.id);
  });
});

describe("combiner lifting", () => {
  it("lifts a CombinePerKey the SDK submitted unlifted, so only accumulators are shuffled", () => {
    const pipeline = fixture("combiners_unoptimized");
    const combines = Object.values(pipeline.components!.transforms).filter((t) => t.spec?.urn === Transforms.combinePerKey);
    expect(combines.length).toBeGreaterThan(0);
    const p = planPipeline(pipeline, { pythonSdkVersion: "2.77.0" });
    const urns = p.stages.flatMap(urnsOf);
    for (const urn of [Transforms.combinePerKeyPrecombine, Transforms.combinePerKeyMergeAccumulators, Transforms.combinePerKeyExtractOutputs]) {
      expect(urns.filter((u) => u === urn).length).toBe(combines.length);
    }
    // No CombinePerKey was expanded into its unlifted parts (GroupByKey + CombineValues).
    expect(urns).not.toContain(Transforms.combineGroupedValues);
  });

  it("leaves an already lifted pipeline as the SDK sent it", () => {
    const pipeline = fixture("wordcount_files");
    const precombines = Object.values(pipeline.components!.transforms).filter((t) => t.spec?.urn === Transforms.combinePerKeyPrecombine).length;
    const planned = plan("wordcount_files").stages.flatMap(urnsOf).filter((u) => u === Transforms.combinePerKeyPrecombine).length;
    expect(planned).toBe(precombines);
  });
});

describe("planning custom merging WindowFns (BoundedSessions: a GroupByKey and a lifted CombinePerKey)", () => {
  const pipeline = fixture("bounded_sessions");
  const p = plan("bounded_sessions");
  const groupedBy = (merge: string) => p.stages.filter((s) => s.main.kind === "edge" && s.main.edge.read.kind === "group" && s.main.edge.read.windowMerge === merge);
  const portCoder = (stage: Stage, urn: string) => {
    const t = Object.values(stage.windowMergeDescriptor!.transforms).find((x) => x.spec?.urn === urn)!;
    return RemoteGrpcPort.fromBinary(t.spec!.payload).coderId;
  };

  it("leaves the merge of each GroupByKey whose WindowFn is not Sessions to the SDK", () => {
    expect(groupedBy("sdk")).toHaveLength(2);
    expect(groupedBy("sessions")).toHaveLength(0);
    expect(plan("windowing").stages.filter((s) => s.main.kind === "edge" && s.main.edge.read.kind === "group" && s.main.edge.read.windowMerge === "sessions")).toHaveLength(1);
  });

  it("gives exactly those stages a descriptor that runs the WindowFn's merge: source, merge_windows, sink", () => {
    for (const s of p.stages) expect(s.windowMergeDescriptor !== undefined, s.name).toBe(groupedBy("sdk").includes(s));
    const strategies = Object.values(pipeline.components!.windowingStrategies).filter((w) => w.mergeStatus === MergeStatus_Enum.NEEDS_MERGE);
    for (const s of groupedBy("sdk")) {
      const d = s.windowMergeDescriptor!;
      const transforms = Object.values(d.transforms);
      expect(transforms.map((t) => t.spec!.urn).sort()).toEqual([Transforms.mergeWindows, Transforms.dataSink, Transforms.dataSource].sort());
      const merge = transforms.find((t) => t.spec!.urn === Transforms.mergeWindows)!;
      expect(merge.environmentId).toBe(s.environmentId);
      const windowFn = FunctionSpec.fromBinary(merge.spec!.payload);
      expect(windowFn.urn).toBe("beam:window_fn:pickled_python:v1");
      expect(strategies.some((w) => Buffer.from(w.windowFn!.payload).equals(Buffer.from(windowFn.payload)))).toBe(true);
      for (const pc of Object.values(d.pcollections)) expect(d.windowingStrategies[pc.windowingStrategyId]!.windowFn!.urn).toBe(WindowFns.global);
      expect(d.stateApiServiceDescriptor).toBeDefined();
    }
  });

  it("sends and receives windows in the grouped input's own window coder, in shapes the runner parses", () => {
    for (const s of groupedBy("sdk")) {
      const coders = s.windowMergeDescriptor!.coders;
      const read = s.main.kind === "edge" && s.main.edge.read.kind === "group" ? s.main.edge.read : undefined;
      const window = coders[read!.inputWireCoderId]!.componentCoderIds[1]!;
      const input = resolveCoder(coders, portCoder(s, Transforms.dataSource));
      const output = resolveCoder(coders, portCoder(s, Transforms.dataSink));
      for (const tree of [input, output]) {
        expect(allRunnerKnown(tree)).toBe(true);
        expect(tree.urn).toBe(Coders.windowedValue);
        expect(tree.components[1]!.urn).toBe(Coders.globalWindow);
      }
      const inputWindows = coders[coders[coders[portCoder(s, Transforms.dataSource)]!.componentCoderIds[0]!]!.componentCoderIds[1]!]!;
      expect(inputWindows.spec!.urn).toBe(Coders.iterable);
      expect(inputWindows.componentCoderIds).toEqual([window]);
      // KV(bytes nonce, KV(Iterable(W), Iterable(KV(W, Iterable(W)))))
      const kv = output.components[0]!;
      expect([kv.urn, kv.components[0]!.urn, kv.components[1]!.urn]).toEqual([Coders.kv, Coders.bytes, Coders.kv]);
      const [unmerged, merges] = kv.components[1]!.components;
      expect([unmerged!.urn, merges!.urn, merges!.components[0]!.urn]).toEqual([Coders.iterable, Coders.iterable, Coders.kv]);
      expect(merges!.components[0]!.components[1]).toEqual(unmerged);
    }
  });
});

describe("rejecting what the runner cannot run, at Prepare", () => {
  it("refuses a side input read from a GroupByKey whose windows only the SDK can merge", () => {
    const pipeline = fixture("bounded_sessions");
    const transforms = Object.values(pipeline.components!.transforms);
    const grouped = Object.values(transforms.find((t) => t.uniqueName === "Group")!.outputs)[0]!;
    const reader = transforms.find((t) => t.uniqueName === "TagSums")!;
    const payload = ParDoPayload.fromBinary(reader.spec!.payload);
    payload.sideInputs.side = { accessPattern: { urn: SideInputAccess.iterable, payload: new Uint8Array() }, viewFn: undefined, windowMappingFn: undefined };
    reader.spec = { urn: reader.spec!.urn, payload: ParDoPayload.toBinary(payload) };
    reader.inputs.side = grouped;
    expect(() => planPipeline(pipeline, { pythonSdkVersion: "2.77.0" })).toThrow(/transform 'TagSums': side input 'side' reads a GroupByKey whose custom merging WindowFn/);
  });

  it("refuses a merging WindowFn of another environment than the stage reading its GroupByKey", () => {
    const pipeline = fixture("bounded_sessions");
    // A second environment, defined (a dangling one would be rejected as malformed first).
    pipeline.components!.environments.java = {
      ...Object.values(pipeline.components!.environments)[0]!,
      urn: Environments.external,
      payload: ExternalPayload.toBinary({ endpoint: { url: "localhost:50000", authentication: undefined }, params: {} }),
    };
    for (const w of Object.values(pipeline.components!.windowingStrategies)) if (w.mergeStatus === MergeStatus_Enum.NEEDS_MERGE) w.environmentId = "java";
    expect(() => planPipeline(pipeline, { pythonSdkVersion: "2.77.0" })).toThrow(/merging WindowFn of environment 'java'/);
  });

  it("names the transform with an unsupported URN", () => {
    const pipeline = fixture("wordcount_files");
    const [id, t] = Object.entries(pipeline.components!.transforms).find(([, t]) => t.spec?.urn === Transforms.parDo && t.uniqueName.includes("FlatMap"))!;
    pipeline.components!.transforms[id] = { ...t, spec: { urn: "beam:transform:made_up:v1", payload: new Uint8Array() } };
    expect(() => planPipeline(pipeline, { pythonSdkVersion: "2.77.0" })).toThrow(UnsupportedPipelineError);
    expect(() => planPipeline(pipeline, { pythonSdkVersion: "2.77.0" })).toThrow(`transform '${t.uniqueName}': URN 'beam:transform:made_up:v1'`);
  });

  it("refuses a Docker environment built by another SDK version, before any work starts", () => {
    const pipeline = fixture("wordcount_files");
    const env = Object.values(pipeline.components!.environments)[0]!;
    expect(env.urn).toBe(Environments.docker);
    expect(DockerPayload.fromBinary(env.payload).containerImage).toMatch(/beam_python3\.11_sdk:2\.77\.0$/);
    expect(() => planPipeline(pipeline, { pythonSdkVersion: "2.70.0" })).toThrow(/built with apache-beam 2\.77\.0 but this runner's Python harness is apache-beam 2\.70\.0/);
  });

  it("refuses requirements it does not honour", () => {
    const pipeline = fixture("wordcount_files");
    pipeline.requirements.push("beam:requirement:pardo:time_sorted_input:v1");
    expect(() => planPipeline(pipeline, { pythonSdkVersion: "2.77.0" })).toThrow(/requires 'beam:requirement:pardo:time_sorted_input:v1'/);
  });
});
