// Referential integrity of a pipeline proto, checked before planning. The planner's phases
// index the components maps and walk the transform hierarchy as if the proto were well formed;
// a dangling id or a cycle would surface there as a TypeError or a stack overflow. Here each
// problem is named by the component kind and id it concerns, so the SDK's user learns what is
// wrong rather than where the runner tripped.
import type { IMessageType } from "@protobuf-ts/runtime";
import {
  CombinePayload,
  type Components,
  DockerPayload,
  ExternalPayload,
  ParDoPayload,
  type Pipeline,
  ProcessPayload,
  WindowIntoPayload,
} from "apache-beam/proto/beam_runner_api";
import { Coders, Environments, Transforms } from "../../common/urns.js";
import { MalformedPipelineError } from "./errors.js";

/** Problems reported in one message; more are counted, not listed. */
const MAX_LISTED = 10;

/** Transforms whose payload is a ParDoPayload naming state and timer coders. */
const PAR_DO_PAYLOAD_URNS = new Set<string>([
  Transforms.parDo,
  Transforms.pairWithRestriction,
  Transforms.splitAndSizeRestrictions,
  Transforms.processSizedElementsAndRestrictions,
]);

/** Payloads the planner decodes, by the URN of the transform or environment that carries them. */
const PAYLOAD_TYPES = new Map<string, IMessageType<object>>([
  [Transforms.combinePerKey, CombinePayload],
  [Transforms.combineGlobally, CombinePayload],
  [Transforms.combinePerKeyPrecombine, CombinePayload],
  [Transforms.combinePerKeyMergeAccumulators, CombinePayload],
  [Transforms.combinePerKeyExtractOutputs, CombinePayload],
  [Transforms.combineGroupedValues, CombinePayload],
  [Transforms.windowInto, WindowIntoPayload],
  [Environments.docker, DockerPayload],
  [Environments.external, ExternalPayload],
  [Environments.process, ProcessPayload],
]);

/** Component coders of the standard coders the runner parses (Beam's standard_coders.yaml). */
const CODER_ARITY = new Map<string, number>([
  [Coders.bytes, 0],
  [Coders.stringUtf8, 0],
  [Coders.bool, 0],
  [Coders.varint, 0],
  [Coders.double, 0],
  [Coders.globalWindow, 0],
  [Coders.intervalWindow, 0],
  [Coders.kv, 2],
  [Coders.iterable, 1],
  [Coders.stateBackedIterable, 1],
  [Coders.lengthPrefix, 1],
  [Coders.nullable, 1],
  [Coders.timer, 2],
  [Coders.windowedValue, 2],
  [Coders.paramWindowedValue, 2],
]);

/**
 * Nesting the planner follows by recursion (a coder's components, a composite's parts). Beam's
 * SDKs nest a few levels; thousands would overflow the stack.
 */
export const MAX_NESTING = 1000;

/** Throws MalformedPipelineError listing every dangling reference and cycle found. */
export function validatePipeline(pipeline: Pipeline): void {
  const problems = findProblems(pipeline);
  if (problems.length === 0) return;
  const listed = problems.slice(0, MAX_LISTED).join("; ");
  const more = problems.length > MAX_LISTED ? ` (and ${problems.length - MAX_LISTED} more)` : "";
  throw new MalformedPipelineError(`the pipeline is malformed: ${listed}${more}`, problems);
}

/** Every problem, each a sentence naming the component kind and id. */
export function findProblems(pipeline: Pipeline): string[] {
  const c = pipeline.components;
  if (!c) return ["the pipeline has no components"];
  const problems: string[] = [];
  if (pipeline.rootTransformIds.length === 0) problems.push("the pipeline has no root transforms");
  for (const id of pipeline.rootTransformIds) {
    if (!c.transforms[id]) problems.push(`root transform '${id}' is not defined`);
  }
  checkCoders(c, problems);
  checkWindowingStrategies(c, problems);
  checkPCollections(c, problems);
  checkTransforms(c, problems);
  checkHierarchy(c, problems);
  return problems;
}

const has = (map: Record<string, unknown>, id: string): boolean => Object.prototype.hasOwnProperty.call(map, id);

function checkCoders(c: Components, problems: string[]): void {
  for (const [id, coder] of Object.entries(c.coders)) {
    if (!coder.spec?.urn) problems.push(`coder '${id}' has no URN`);
    const arity = CODER_ARITY.get(coder.spec?.urn ?? "");
    if (arity !== undefined && coder.componentCoderIds.length !== arity) {
      problems.push(`coder '${id}' (${coder.spec!.urn}) has ${coder.componentCoderIds.length} component coders; it must have ${arity}`);
    }
    for (const component of coder.componentCoderIds) {
      if (!has(c.coders, component)) problems.push(`coder '${id}' has component coder '${component}', which is not defined`);
    }
  }
  // A coder that contains itself would have the planner resolve it forever.
  const components = (id: string): string[] => c.coders[id]?.componentCoderIds ?? [];
  const cycles = findCycles(Object.keys(c.coders), components);
  for (const id of cycles) problems.push(`coder '${id}' contains itself among its component coders`);
  if (cycles.length === 0) {
    const deepest = deepestNesting(Object.keys(c.coders), components);
    if (deepest && deepest.depth > MAX_NESTING) problems.push(`coder '${deepest.id}' nests coders ${deepest.depth} deep; at most ${MAX_NESTING} are supported`);
  }
}

function checkWindowingStrategies(c: Components, problems: string[]): void {
  for (const [id, strategy] of Object.entries(c.windowingStrategies)) {
    if (!strategy.windowCoderId) problems.push(`windowing strategy '${id}' names no window coder`);
    else if (!has(c.coders, strategy.windowCoderId)) {
      problems.push(`windowing strategy '${id}' has window coder '${strategy.windowCoderId}', which is not defined`);
    }
    if (!strategy.windowFn?.urn) problems.push(`windowing strategy '${id}' has no window function`);
    if (strategy.environmentId && !has(c.environments, strategy.environmentId)) {
      problems.push(`windowing strategy '${id}' names environment '${strategy.environmentId}', which is not defined`);
    }
  }
}

function checkPCollections(c: Components, problems: string[]): void {
  for (const [id, pc] of Object.entries(c.pcollections)) {
    if (!pc.coderId) problems.push(`pcollection '${id}' names no coder`);
    else if (!has(c.coders, pc.coderId)) problems.push(`pcollection '${id}' has coder '${pc.coderId}', which is not defined`);
    if (!pc.windowingStrategyId) problems.push(`pcollection '${id}' names no windowing strategy`);
    else if (!has(c.windowingStrategies, pc.windowingStrategyId)) {
      problems.push(`pcollection '${id}' has windowing strategy '${pc.windowingStrategyId}', which is not defined`);
    }
  }
}

function checkTransforms(c: Components, problems: string[]): void {
  for (const [id, t] of Object.entries(c.transforms)) {
    const name = `transform '${t.uniqueName || id}'`;
    for (const [tag, pc] of Object.entries(t.inputs)) {
      if (!has(c.pcollections, pc)) problems.push(`${name} has input '${tag}' = pcollection '${pc}', which is not defined`);
    }
    for (const [tag, pc] of Object.entries(t.outputs)) {
      if (!has(c.pcollections, pc)) problems.push(`${name} has output '${tag}' = pcollection '${pc}', which is not defined`);
    }
    for (const sub of t.subtransforms) {
      if (!has(c.transforms, sub)) problems.push(`${name} has subtransform '${sub}', which is not defined`);
    }
    if (t.environmentId && !has(c.environments, t.environmentId)) {
      problems.push(`${name} names environment '${t.environmentId}', which is not defined`);
    }
    if (PAR_DO_PAYLOAD_URNS.has(t.spec?.urn ?? "")) checkParDoPayload(name, t.spec!.payload, c, problems);
    else checkPayload(name, t.spec?.urn ?? "", t.spec?.payload, problems);
  }
  for (const [id, env] of Object.entries(c.environments)) checkPayload(`environment '${id}'`, env.urn, env.payload, problems);
}

function checkPayload(name: string, urn: string, payload: Uint8Array | undefined, problems: string[]): void {
  const type = PAYLOAD_TYPES.get(urn);
  if (!type || !payload) return;
  try {
    type.fromBinary(payload);
  } catch (e) {
    problems.push(`${name} has a ${type.typeName.split(".").pop()} that does not decode (${(e as Error).message})`);
  }
}

function checkParDoPayload(name: string, bytes: Uint8Array, c: Components, problems: string[]): void {
  let payload: ParDoPayload;
  try {
    payload = ParDoPayload.fromBinary(bytes);
  } catch (e) {
    problems.push(`${name} has a ParDo payload that does not decode (${(e as Error).message})`);
    return;
  }
  const coderOf = (what: string, coderId: string): void => {
    if (coderId && !has(c.coders, coderId)) problems.push(`${name} has ${what} with coder '${coderId}', which is not defined`);
  };
  for (const [stateId, spec] of Object.entries(payload.stateSpecs)) {
    const s = spec.spec;
    const what = `state '${stateId}'`;
    switch (s.oneofKind) {
      case "readModifyWriteSpec":
        coderOf(what, s.readModifyWriteSpec.coderId);
        break;
      case "bagSpec":
        coderOf(what, s.bagSpec.elementCoderId);
        break;
      case "orderedListSpec":
        coderOf(what, s.orderedListSpec.elementCoderId);
        break;
      case "combiningSpec":
        coderOf(what, s.combiningSpec.accumulatorCoderId);
        break;
      case "mapSpec":
        coderOf(what, s.mapSpec.keyCoderId);
        coderOf(what, s.mapSpec.valueCoderId);
        break;
      case "setSpec":
        coderOf(what, s.setSpec.elementCoderId);
        break;
      default:
        break;
    }
  }
  for (const [timerId, spec] of Object.entries(payload.timerFamilySpecs)) coderOf(`timer family '${timerId}'`, spec.timerFamilyCoderId);
  if (payload.restrictionCoderId) coderOf("its restriction", payload.restrictionCoderId);
}

/**
 * The transform hierarchy must be a forest: no transform its own ancestor (it would be expanded
 * forever) and none the part of two composites (it would run twice, and a lattice of such
 * sharing expands exponentially).
 */
function checkHierarchy(c: Components, problems: string[]): void {
  const parent = new Map<string, string>();
  for (const [id, t] of Object.entries(c.transforms)) {
    for (const sub of t.subtransforms) {
      const other = parent.get(sub);
      if (other !== undefined && other !== id) problems.push(`transform '${sub}' is a subtransform of both '${other}' and '${id}'`);
      else if (other === id) problems.push(`transform '${id}' lists subtransform '${sub}' twice`);
      else parent.set(sub, id);
    }
  }
  const subs = (id: string): string[] => c.transforms[id]?.subtransforms ?? [];
  const cycles = findCycles(Object.keys(c.transforms), subs);
  for (const id of cycles) problems.push(`transform '${id}' is its own ancestor (a cycle in the subtransforms)`);
  if (cycles.length === 0) {
    const deepest = deepestNesting(Object.keys(c.transforms), subs);
    if (deepest && deepest.depth > MAX_NESTING) {
      problems.push(`transform '${deepest.id}' nests composites ${deepest.depth} deep; at most ${MAX_NESTING} are supported`);
    }
  }
}

/** The node with the longest path below it in an acyclic graph, and that path's length in nodes; iterative. */
function deepestNesting(nodes: string[], edges: (id: string) => string[]): { id: string; depth: number } | undefined {
  const known = new Set(nodes);
  const depth = new Map<string, number>();
  let deepest: { id: string; depth: number } | undefined;
  for (const start of nodes) {
    if (depth.has(start)) continue;
    const stack: { id: string; next: number }[] = [{ id: start, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const out = edges(top.id);
      if (top.next < out.length) {
        const to = out[top.next++]!;
        if (known.has(to) && !depth.has(to)) stack.push({ id: to, next: 0 });
      } else {
        const d = 1 + out.reduce((most, to) => Math.max(most, depth.get(to) ?? 0), 0);
        depth.set(top.id, d);
        if (!deepest || d > deepest.depth) deepest = { id: top.id, depth: d };
        stack.pop();
      }
    }
  }
  return deepest;
}

/**
 * One node of each cycle in a directed graph, found without recursion (a hierarchy or coder
 * nesting thousands deep must not overflow the stack). Edges to unknown nodes are ignored.
 */
function findCycles(nodes: string[], edges: (id: string) => string[]): string[] {
  const state = new Map<string, "open" | "done">();
  const known = new Set(nodes);
  const inCycle: string[] = [];
  for (const start of nodes) {
    if (state.has(start)) continue;
    const stack: { id: string; next: number }[] = [{ id: start, next: 0 }];
    state.set(start, "open");
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const out = edges(top.id);
      if (top.next < out.length) {
        const to = out[top.next++]!;
        const s = state.get(to);
        if (s === "open") inCycle.push(to);
        else if (s === undefined && known.has(to)) {
          state.set(to, "open");
          stack.push({ id: to, next: 0 });
        }
      } else {
        state.set(top.id, "done");
        stack.pop();
      }
    }
  }
  return [...new Set(inCycle)];
}
