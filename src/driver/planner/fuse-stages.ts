// Greedy fusion. Each SDK transform joins the stage of its main input's producer when nothing
// forces a boundary; otherwise it roots a new stage that reads a runner edge. The runner
// materializes exactly the PCollections that cross a boundary.
//
// A transform roots a new stage when its main input comes from a runner transform (Impulse,
// GroupByKey, Flatten, Reshuffle), from another environment, when it reads a side input its
// producer's stage cannot wait for (one computed from that stage's own output), when it is
// stateful (its input must be partitioned by key) or when the planner wants its input spread over
// tasks (the Process step of a splittable DoFn).
import {
  type Components,
  ParDoPayload,
  type PTransform,
  type Coder,
  type WindowingStrategy,
  MergeStatus_Enum,
  OutputTime_Enum,
} from "apache-beam/proto/beam_runner_api";
import { ProcessBundleDescriptor } from "apache-beam/proto/beam_fn_api";
import { addCoder, lengthPrefixUnknownCoders } from "../../codec/coders.js";
import { Coders, SideInputAccess, Transforms, WindowFns } from "../../common/urns.js";
import type { EdgeRead } from "../../common/task-spec.js";
import { WORKER_ENDPOINT_PLACEHOLDER, dataTransform } from "./data-transforms.js";
import { UnsupportedPipelineError } from "./errors.js";
import { windowMergeDescriptor } from "./window-merge-descriptor.js";
import { RUNNER_TRANSFORMS } from "./runner-transforms.js";
import type { Edge, Stage, StageOutput } from "./stage.js";

interface StageBuilder extends Omit<Stage, "descriptor" | "windowMergeDescriptor" | "outputs" | "upstream"> {
  outputs: Map<string, StageOutput>;
  upstream: Set<string>;
  /** Root key: stages reading the same runner edge in the same environment share one stage. */
  rootKey?: string;
}

export function fuseStages(leaves: string[], components: Components, spreadInput: Set<string>): Stage[] {
  return new Fuser(components, spreadInput).fuse(leaves);
}

class Fuser {
  private readonly producer = new Map<string, string>();
  private readonly stageOf = new Map<string, StageBuilder>();
  private readonly stages: StageBuilder[] = [];
  private readonly stageById = new Map<string, StageBuilder>();
  private readonly roots = new Map<string, StageBuilder>();
  private readonly materializedBy = new Map<string, StageBuilder>();

  constructor(
    private readonly components: Components,
    private readonly spreadInput: Set<string>,
  ) {}

  fuse(leaves: string[]): Stage[] {
    for (const id of leaves) for (const pc of Object.values(this.transform(id).outputs)) this.producer.set(pc, id);
    this.lengthPrefixPCollectionCoders();
    for (const id of leaves) {
      if (!isRunnerTransform(this.transform(id))) this.place(id);
    }
    return this.inDependencyOrder().map((s) => this.finish(s));
  }

  /**
   * The stages, each after those it reads, otherwise in the order they were made. A stage that
   * took in a side-input reader waits for a side input whose stage may have been made after it.
   */
  private inDependencyOrder(): StageBuilder[] {
    const ordered: StageBuilder[] = [];
    const placed = new Set<string>();
    const visit = (stage: StageBuilder): void => {
      if (placed.has(stage.id)) return;
      placed.add(stage.id);
      for (const id of stage.upstream) visit(this.stageById.get(id)!);
      ordered.push(stage);
    };
    for (const stage of this.stages) visit(stage);
    return ordered;
  }

  private transform(id: string): PTransform {
    return this.components.transforms[id]!;
  }

  /** The SDK and the runner must agree on bytes the runner parses, so unknown coders get a length prefix. */
  private lengthPrefixPCollectionCoders(): void {
    for (const pc of Object.values(this.components.pcollections)) {
      pc.coderId = lengthPrefixUnknownCoders(this.components.coders, pc.coderId);
    }
  }

  private wireCoder(pcollection: string): string {
    const pc = this.components.pcollections[pcollection]!;
    const strategy = this.components.windowingStrategies[pc.windowingStrategyId]!;
    const windowCoder = lengthPrefixUnknownCoders(this.components.coders, strategy.windowCoderId);
    const coder: Coder = { spec: { urn: Coders.windowedValue, payload: new Uint8Array() }, componentCoderIds: [pc.coderId, windowCoder] };
    return addCoder(this.components.coders, `wv_${pc.coderId}_${windowCoder}`, coder);
  }

  /** WindowedValue(KV(K, Iterable(V))) with the iterable replaced by a state-backed iterable. */
  private withStateBackedValues(wireId: string): string {
    const coders = this.components.coders;
    const wire = coders[wireId]!;
    const kv = coders[wire.componentCoderIds[0]!]!;
    const values = kv.spec?.urn === Coders.kv ? coders[kv.componentCoderIds[1]!] : undefined;
    if (!values || values.spec?.urn !== Coders.iterable) return wireId;
    const stateBacked = addCoder(coders, `${kv.componentCoderIds[1]}_state_backed`, {
      spec: { urn: Coders.stateBackedIterable, payload: new Uint8Array() },
      componentCoderIds: [...values.componentCoderIds],
    });
    const kvId = addCoder(coders, `${wire.componentCoderIds[0]}_state_backed`, { spec: kv.spec, componentCoderIds: [kv.componentCoderIds[0]!, stateBacked] });
    return addCoder(coders, `${wireId}_state_backed`, { spec: wire.spec, componentCoderIds: [kvId, ...wire.componentCoderIds.slice(1)] });
  }

  private place(id: string): void {
    const t = this.transform(id);
    const payload = PAR_DO_PAYLOAD_URNS.has(t.spec?.urn ?? "") ? ParDoPayload.fromBinary(t.spec!.payload) : undefined;
    const sideTags = new Set(Object.keys(payload?.sideInputs ?? {}));
    const mainTags = Object.keys(t.inputs).filter((tag) => !sideTags.has(tag));
    if (mainTags.length !== 1) {
      throw new UnsupportedPipelineError(`expected one main input, found ${mainTags.length}`, t.uniqueName);
    }
    const main = t.inputs[mainTags[0]!]!;
    const stateful = !!payload && (Object.keys(payload.stateSpecs).length > 0 || Object.keys(payload.timerFamilySpecs).length > 0);
    const producerId = this.producer.get(main);
    if (!producerId) throw new UnsupportedPipelineError(`main input '${main}' has no producer`, t.uniqueName);
    const producerStage = this.stageOf.get(producerId);

    // Side inputs must be complete before a stage runs: a transform reading one joins its
    // producer's stage, which then waits for them, unless they are computed from that stage (it
    // would wait for itself). FnApiRunner fuses so too; a stage of its own would materialize the
    // whole main input once more (a third of a side-input job's time in the bench).
    const sideInputsReady = producerStage !== undefined && [...sideTags].every((tag) => !this.computedFrom(t.inputs[tag]!, producerStage));
    const fusable =
      producerStage && producerStage.environmentId === t.environmentId && sideInputsReady && !stateful && !this.spreadInput.has(id);
    let stage: StageBuilder;
    if (fusable) {
      stage = producerStage;
    } else {
      const shareable = sideTags.size === 0 && !stateful;
      const rootKey = `${main}\0${t.environmentId}`;
      const existing = shareable ? this.roots.get(rootKey) : undefined;
      stage = existing ?? this.newStage(t, main, stateful);
      if (shareable && !existing) this.roots.set(rootKey, stage);
      if (this.spreadInput.has(id)) stage.splitsRestrictions = true;
    }
    stage.transformIds.push(id);
    this.stageOf.set(id, stage);

    for (const tag of sideTags) {
      const access = payload!.sideInputs[tag]!.accessPattern?.urn ?? SideInputAccess.iterable;
      if (access !== SideInputAccess.iterable && access !== SideInputAccess.multimap) {
        throw new UnsupportedPipelineError(`side input '${tag}' uses access pattern '${access}'`, t.uniqueName);
      }
      const edge = this.edgeFor(t.inputs[tag]!, "spread", t);
      if (edge.read.kind === "group" && edge.read.windowMerge === "sdk") {
        throw new UnsupportedPipelineError(
          `side input '${tag}' reads a GroupByKey whose custom merging WindowFn only the SDK can merge, which the runner does for main inputs only`,
          t.uniqueName,
        );
      }
      stage.sideInputs.push({ transformId: id, tag, accessPattern: access === SideInputAccess.multimap ? "multimap" : "iterable", edge });
      this.linkUpstream(stage, edge);
    }
    if (stateful) this.addTimers(stage, id, t, payload);
  }

  /** Whether `pcollection` is computed from the output of `stage` (or inside it). */
  private computedFrom(pcollection: string, stage: StageBuilder, seen = new Set<string>()): boolean {
    if (seen.has(pcollection)) return false;
    seen.add(pcollection);
    const producerId = this.producer.get(pcollection);
    if (!producerId) return false;
    const producerStage = this.stageOf.get(producerId);
    if (producerStage) return this.reaches(producerStage, stage);
    // A runner transform (GroupByKey, Flatten, Reshuffle): what it reads.
    return Object.values(this.transform(producerId).inputs).some((input) => this.computedFrom(input, stage, seen));
  }

  /** Whether `from` is `to` or reads, through its upstream stages, what `to` wrote. */
  private reaches(from: StageBuilder, to: StageBuilder, seen = new Set<string>()): boolean {
    if (from === to) return true;
    if (seen.has(from.id)) return false;
    seen.add(from.id);
    return [...from.upstream].some((id) => this.reaches(this.stageById.get(id)!, to, seen));
  }

  private newStage(t: PTransform, main: string, stateful: boolean): StageBuilder {
    const producer = this.transform(this.producer.get(main)!);
    // The edge first: describing it may add the stages it reads from (pass-through stages).
    const mainRead: StageBuilder["main"] =
      producer.spec?.urn === Transforms.impulse ? { kind: "impulse" } : { kind: "edge", edge: this.edgeFor(main, stateful ? "key" : "spread", t) };
    const id = `s${this.stages.length + 1}`;
    const stage: StageBuilder = {
      id,
      name: "",
      environmentId: t.environmentId,
      transformIds: [],
      sourceTransformId: `${id}/source`,
      main: mainRead,
      sideInputs: [],
      outputs: new Map(),
      timers: [],
      upstream: new Set(),
    };
    if (stage.main.kind === "edge") this.linkUpstream(stage, stage.main.edge);
    this.stages.push(stage);
    this.stageById.set(id, stage);
    return stage;
  }

  private linkUpstream(stage: StageBuilder, edge: Edge): void {
    for (const source of edge.sources) stage.upstream.add(this.materializedBy.get(source)!.id);
  }

  /** Describes how a consumer reads `pcollection`, and makes its producers materialize it. */
  private edgeFor(pcollection: string, partitionBy: "key" | "spread", consumer: PTransform): Edge {
    const producer = this.transform(this.producer.get(pcollection)!);
    const urn = producer.spec?.urn;
    let read: EdgeRead = { kind: "plain" };
    let encodedAs = pcollection;
    let sourcesOf = pcollection;
    if (urn === Transforms.groupByKey) {
      const input = Object.values(producer.inputs)[0]!;
      read = { kind: "group", inputWireCoderId: this.wireCoder(input), ...this.groupingOf(input) };
      partitionBy = "key";
      encodedAs = input;
      sourcesOf = input;
    } else if (urn === Transforms.reshuffle) {
      // Reshuffle needs no keys and no grouping: its input is materialized and spread over tasks.
      sourcesOf = Object.values(producer.inputs)[0]!;
      // It is the identity, so a GroupByKey's output is read through it as it is, grouped and in
      // the GroupByKey output's coder (the stage's source decodes with the edge's coder).
      if (this.transform(this.producer.get(sourcesOf)!).spec?.urn === Transforms.groupByKey) {
        return { ...this.edgeFor(sourcesOf, partitionBy, consumer), pcollection };
      }
    } else if (urn === Transforms.impulse) {
      throw new UnsupportedPipelineError("reading an Impulse output as a side input or through a Flatten is not supported", consumer.uniqueName);
    }
    const encoding = this.wireCoder(encodedAs);
    const grouped = read.kind === "group";
    const sources = this.materializedSources(sourcesOf, consumer).map((source) => this.materialize(source, encoding, partitionBy, grouped, consumer));
    return { pcollection, read, sources, wireCoderId: this.wireCoder(pcollection) };
  }

  private groupingOf(input: string): Pick<Extract<EdgeRead, { kind: "group" }>, "windowMerge" | "timestampCombiner"> {
    const strategy = this.windowingOf(input);
    const windowFn = strategy.windowFn?.urn ?? WindowFns.global;
    // Sessions are merged by the runner; any other WindowFn that needs merging, by the SDK.
    const windowMerge = windowFn === WindowFns.sessions ? "sessions" : strategy.mergeStatus === MergeStatus_Enum.NEEDS_MERGE ? "sdk" : "none";
    const timestampCombiner =
      strategy.outputTime === OutputTime_Enum.LATEST_IN_PANE ? "latest" : strategy.outputTime === OutputTime_Enum.EARLIEST_IN_PANE ? "earliest" : "endOfWindow";
    return { windowMerge, timestampCombiner };
  }

  private windowingOf(pcollection: string): WindowingStrategy {
    return this.components.windowingStrategies[this.components.pcollections[pcollection]!.windowingStrategyId]!;
  }

  /** For a stage whose grouped main input the SDK merges: the descriptor that runs the merge. */
  private windowMergeDescriptorOf(s: StageBuilder): ProcessBundleDescriptor | undefined {
    if (s.main.kind !== "edge" || s.main.edge.read.kind !== "group" || s.main.edge.read.windowMerge !== "sdk") return undefined;
    const gbk = this.transform(this.producer.get(s.main.edge.pcollection)!);
    const strategy = this.windowingOf(Object.values(gbk.inputs)[0]!);
    if (s.passThrough) {
      // A pass-through stage starts no harness, so nothing could merge its windows.
      throw new UnsupportedPipelineError("its output, grouped with a merging WindowFn of the SDK, is read directly by another runner transform", gbk.uniqueName);
    }
    // The worker runs the merge on the stage's harness; a WindowFn of another SDK would need a second one.
    if (strategy.environmentId && strategy.environmentId !== s.environmentId) {
      throw new UnsupportedPipelineError(
        `its input is grouped with a merging WindowFn of environment '${strategy.environmentId}', but the stage reading it runs in '${s.environmentId}'`,
        gbk.uniqueName,
      );
    }
    return windowMergeDescriptor(`${s.id}/merge_windows`, this.components, strategy, s.environmentId);
  }

  /** Follows Flattens back to the PCollections that stages actually produce. */
  private materializedSources(pcollection: string, consumer: PTransform): string[] {
    const producer = this.transform(this.producer.get(pcollection)!);
    const urn = producer.spec?.urn;
    if (urn === Transforms.flatten || urn === Transforms.reshuffle) {
      return Object.values(producer.inputs).flatMap((input) => this.materializedSources(input, consumer));
    }
    if (urn === Transforms.groupByKey || urn === Transforms.impulse) return [this.passThrough(pcollection, consumer)];
    return [pcollection];
  }

  /**
   * A runner transform's output read by another runner transform has no SDK stage to write it:
   * a pass-through stage reads it as its consumers would and materializes it unchanged. It takes
   * the environment of the SDK transform downstream only so that it has one; it starts no harness.
   */
  private passThrough(pcollection: string, consumer: PTransform): string {
    const producerId = this.producer.get(pcollection)!;
    if (!this.stageOf.has(producerId)) {
      const stage = this.newStage(consumer, pcollection, false);
      stage.passThrough = { pcollection };
      stage.name = `${this.transform(producerId).uniqueName} (pass-through)`;
      this.stageOf.set(producerId, stage);
    }
    return pcollection;
  }

  /** Makes the producing stage write `pcollection` encoded with `wireCoderId`; returns the materialization's id. */
  private materialize(pcollection: string, wireCoderId: string, partitionBy: "key" | "spread", grouped: boolean, consumer: PTransform): string {
    const stage = this.stageOf.get(this.producer.get(pcollection)!)!;
    if (partitionBy === "key" && this.components.coders[this.components.coders[wireCoderId]!.componentCoderIds[0]!]!.spec?.urn !== Coders.kv) {
      throw new UnsupportedPipelineError(`its input '${pcollection}' must be key-value pairs to be grouped or keyed by the runner`, consumer.uniqueName);
    }
    const id = `${pcollection}@${wireCoderId}`;
    const existing = stage.outputs.get(id);
    if (existing) {
      if (partitionBy === "key") existing.partitionBy = "key";
      // Keyed records serve only groupings; one ungrouped reader keeps the elements as they are.
      if (!grouped) existing.format = "plain";
      return id;
    }
    this.materializedBy.set(id, stage);
    const format = grouped ? "keyed" : "plain";
    stage.outputs.set(id, { id, pcollection, sinkTransformId: `${stage.id}/sink/${id}`, wireCoderId, partitionBy, format });
    return id;
  }

  private addTimers(stage: StageBuilder, id: string, t: PTransform, payload: ParDoPayload): void {
    let changed = false;
    for (const [family, spec] of Object.entries(payload.timerFamilySpecs)) {
      const coderId = lengthPrefixUnknownCoders(this.components.coders, spec.timerFamilyCoderId);
      if (coderId !== spec.timerFamilyCoderId) {
        spec.timerFamilyCoderId = coderId;
        changed = true;
      }
      stage.timers.push({ transformId: id, timerFamilyId: family, coderId });
    }
    if (changed) t.spec = { urn: t.spec!.urn, payload: ParDoPayload.toBinary(payload) };
  }

  private finish(s: StageBuilder): Stage {
    const transforms: Record<string, PTransform> = {};
    const pcollections = new Set<string>();
    for (const id of s.transformIds) {
      const t = this.transform(id);
      transforms[id] = t;
      for (const pc of [...Object.values(t.inputs), ...Object.values(t.outputs)]) pcollections.add(pc);
    }
    const mainPcollection = s.main.kind === "edge" ? s.main.edge.pcollection : (s.passThrough?.pcollection ?? this.mainInputOf(s));
    if (s.passThrough) pcollections.add(mainPcollection);
    // A grouped main input is decoded as Beam's state-backed iterable, so the worker may hand a
    // huge group's values over through the State API instead of in one element. A pass-through
    // stage writes its elements as they are read, so it keeps every value inline.
    const main: Stage["main"] =
      s.main.kind === "edge" && s.main.edge.read.kind === "group" && !s.passThrough
        ? { kind: "edge", edge: { ...s.main.edge, wireCoderId: this.withStateBackedValues(s.main.edge.wireCoderId) } }
        : s.main;
    const mainWire = main.kind === "edge" ? main.edge.wireCoderId : this.wireCoder(mainPcollection);
    const consumers = s.transformIds.filter((id) => Object.values(this.transform(id).inputs).includes(mainPcollection));
    transforms[s.sourceTransformId] = dataTransform(s.sourceTransformId, Transforms.dataSource, mainWire, {}, { out: mainPcollection });
    for (const out of s.outputs.values()) {
      if (s.passThrough && !sameEncoding(this.components.coders, out.wireCoderId, mainWire)) {
        throw new UnsupportedPipelineError(
          `the output of '${s.name}' is read by another runner transform with a different coder, which needs an SDK transform between them`,
          s.passThrough.pcollection,
        );
      }
      transforms[out.sinkTransformId] = dataTransform(out.sinkTransformId, Transforms.dataSink, out.wireCoderId, { in: out.pcollection }, {});
    }
    const descriptor = ProcessBundleDescriptor.create({
      id: s.id,
      transforms,
      pcollections: Object.fromEntries([...pcollections].map((pc) => [pc, this.components.pcollections[pc]!])),
      windowingStrategies: this.components.windowingStrategies,
      coders: this.components.coders,
      environments: this.components.environments,
      stateApiServiceDescriptor: { url: WORKER_ENDPOINT_PLACEHOLDER },
      timerApiServiceDescriptor: s.timers.length > 0 ? { url: WORKER_ENDPOINT_PLACEHOLDER } : undefined,
    });
    return {
      ...s,
      main,
      windowMergeDescriptor: this.windowMergeDescriptorOf(s),
      name: s.passThrough ? s.name : s.transformIds.map((id) => this.transform(id).uniqueName).join(" + "),
      mainConsumer: consumers.length === 1 ? consumers[0] : undefined,
      outputs: [...s.outputs.values()],
      upstream: [...s.upstream],
      descriptor,
    };
  }

  private mainInputOf(s: StageBuilder): string {
    const first = this.transform(s.transformIds[0]!);
    const payload = PAR_DO_PAYLOAD_URNS.has(first.spec?.urn ?? "") ? ParDoPayload.fromBinary(first.spec!.payload) : undefined;
    const tag = Object.keys(first.inputs).find((k) => !(k in (payload?.sideInputs ?? {})))!;
    return first.inputs[tag]!;
  }
}

/** Whether two coders write the same bytes: the same URNs and payloads, component by component. */
function sameEncoding(coders: Record<string, Coder>, a: string, b: string): boolean {
  if (a === b) return true;
  const x = coders[a];
  const y = coders[b];
  if (!x || !y || x.spec?.urn !== y.spec?.urn) return false;
  if (!Buffer.from(x.spec?.payload ?? []).equals(Buffer.from(y.spec?.payload ?? []))) return false;
  return x.componentCoderIds.length === y.componentCoderIds.length && x.componentCoderIds.every((c, i) => sameEncoding(coders, c, y.componentCoderIds[i]!));
}

/** Transforms whose payload is a ParDoPayload: ParDo and the expanded parts of a splittable DoFn. */
const PAR_DO_PAYLOAD_URNS = new Set<string>([
  Transforms.parDo,
  Transforms.pairWithRestriction,
  Transforms.splitAndSizeRestrictions,
  Transforms.processSizedElementsAndRestrictions,
]);

function isRunnerTransform(t: PTransform): boolean {
  return RUNNER_TRANSFORMS.has(t.spec?.urn ?? "");
}
