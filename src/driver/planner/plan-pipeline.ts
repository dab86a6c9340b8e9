// The planner: a pure function from a Beam pipeline proto to an execution plan.
// It reads as its phases: validate the proto's references, check what the runner supports,
// expand splittable DoFns, fuse, then describe each stage.
import {
  Components,
  DockerPayload,
  ExternalPayload,
  ParDoPayload,
  Pipeline,
  type PTransform,
  TimeDomain_Enum,
} from "apache-beam/proto/beam_runner_api";
import { Environments, Requirements, ResourceHints, Transforms, UserStateProtocols } from "../../common/urns.js";
import type { EnvironmentSpec } from "../../common/task-spec.js";
import { UnsupportedPipelineError } from "./errors.js";
import { validatePipeline } from "./validate-pipeline.js";
import { expandSplittableDoFns } from "./expand-sdf.js";
import { fuseStages } from "./fuse-stages.js";
import { lengthPrefixOrderedListValues } from "./length-prefix-ordered-list-values.js";
import { liftCombinePerKey } from "./lift-combiners.js";
import { RUNNER_TRANSFORMS } from "./runner-transforms.js";
import type { ExecutionPlan } from "./stage.js";

export interface PlannerOptions {
  /** apache-beam version of the local Python harness; DOCKER environments must match it. */
  pythonSdkVersion: string;
}

const SUPPORTED_REQUIREMENTS = new Set<string>([
  Requirements.splittableDoFn,
  Requirements.statefulProcessing,
  Requirements.stableInput,
  Requirements.bundleFinalization,
]);


/** Transforms an SDK harness executes; any other leaf is rejected at Prepare. */
const SDK_TRANSFORMS = new Set<string>([
  Transforms.parDo,
  Transforms.windowInto,
  Transforms.combinePerKeyPrecombine,
  Transforms.combinePerKeyMergeAccumulators,
  Transforms.combinePerKeyExtractOutputs,
  Transforms.combineGroupedValues,
  Transforms.pairWithRestriction,
  Transforms.splitAndSizeRestrictions,
  Transforms.processSizedElementsAndRestrictions,
  Transforms.mapWindows,
  Transforms.mergeWindows,
  Transforms.toString,
]);

export function planPipeline(pipelineBytesOrProto: Uint8Array | Pipeline, options: PlannerOptions): ExecutionPlan {
  const pipeline =
    pipelineBytesOrProto instanceof Uint8Array ? Pipeline.fromBinary(pipelineBytesOrProto) : Pipeline.clone(pipelineBytesOrProto);
  validatePipeline(pipeline);
  const components = pipeline.components ?? Components.create();
  checkRequirements(pipeline);
  const leaves = leafTransforms(pipeline, components);
  checkTransforms(leaves, components);
  const environments = resolveEnvironments(leaves, components, options);
  lengthPrefixOrderedListValues(leaves, components);
  const expanded = expandSplittableDoFns(leaves, components);
  const stages = fuseStages(expanded.leaves, components, expanded.spreadInput);
  return { stages, environments };
}

function checkRequirements(pipeline: Pipeline): void {
  for (const requirement of pipeline.requirements) {
    if (!SUPPORTED_REQUIREMENTS.has(requirement)) {
      throw new UnsupportedPipelineError(`the pipeline requires '${requirement}', which this runner does not support`);
    }
  }
}

/**
 * The primitive transforms, in topological order. Composites are replaced by their parts,
 * except the runner's own primitives, which some SDKs still give subtransforms, and unlifted
 * CombinePerKeys, which are lifted.
 */
function leafTransforms(pipeline: Pipeline, components: Components): string[] {
  const leaves: string[] = [];
  const visit = (id: string): void => {
    const t = components.transforms[id];
    if (!t) throw new UnsupportedPipelineError(`the pipeline references transform '${id}', which it does not define`);
    const urn = t.spec?.urn ?? "";
    const lifted = liftCombinePerKey(id, t, components);
    if (lifted) leaves.push(...lifted);
    else if (t.subtransforms.length > 0 && !RUNNER_TRANSFORMS.has(urn)) t.subtransforms.forEach(visit);
    else if (!isPassThrough(t)) leaves.push(id);
  };
  pipeline.rootTransformIds.forEach(visit);
  return topologicalOrder(leaves, components);
}

/** A composite that expanded to nothing (e.g. Python's MaybeReshuffle of one element): its outputs are its inputs. */
function isPassThrough(t: PTransform): boolean {
  const inputs = new Set(Object.values(t.inputs));
  const outputs = Object.values(t.outputs);
  return !SDK_TRANSFORMS.has(t.spec?.urn ?? "") && outputs.length > 0 && outputs.every((o) => inputs.has(o));
}

function topologicalOrder(ids: string[], components: Components): string[] {
  const producer = new Map<string, string>();
  for (const id of ids) for (const pc of Object.values(components.transforms[id]!.outputs)) producer.set(pc, id);
  const done = new Set<string>();
  const visiting = new Set<string>();
  const order: string[] = [];
  const visit = (id: string): void => {
    if (done.has(id)) return;
    if (visiting.has(id)) throw new UnsupportedPipelineError("the pipeline graph has a cycle", components.transforms[id]!.uniqueName);
    visiting.add(id);
    for (const [tag, pc] of Object.entries(components.transforms[id]!.inputs)) {
      const p = producer.get(pc);
      if (p) visit(p);
      else {
        throw new UnsupportedPipelineError(`input '${tag}' is pcollection '${pc}', which no transform of the pipeline produces`, components.transforms[id]!.uniqueName);
      }
    }
    visiting.delete(id);
    done.add(id);
    order.push(id);
  };
  ids.forEach(visit);
  return order;
}

function checkTransforms(leaves: string[], components: Components): void {
  for (const id of leaves) {
    const t = components.transforms[id]!;
    const urn = t.spec?.urn ?? "";
    if (RUNNER_TRANSFORMS.has(urn)) {
      checkRunnerTransformShape(t, urn);
      continue;
    }
    if (urn === Transforms.testStream) {
      throw new UnsupportedPipelineError("TestStream (beam:transform:teststream:v1) needs a streaming runner; this runner is batch-only", t.uniqueName);
    }
    if (!SDK_TRANSFORMS.has(urn)) {
      throw new UnsupportedPipelineError(`URN '${urn || "(none)"}' is not supported by this runner`, t.uniqueName);
    }
    if (!t.environmentId) {
      throw new UnsupportedPipelineError(`URN '${urn}' must run in an SDK environment but the transform names none`, t.uniqueName);
    }
    if (urn === Transforms.parDo) checkParDo(t);
  }
}

/** Inputs and outputs a runner transform must have, as [fewest inputs, most inputs]; each has one output. */
const RUNNER_TRANSFORM_INPUTS: Record<string, [number, number]> = {
  [Transforms.impulse]: [0, 0],
  [Transforms.groupByKey]: [1, 1],
  [Transforms.reshuffle]: [1, 1],
  [Transforms.flatten]: [0, Infinity],
};

function checkRunnerTransformShape(t: PTransform, urn: string): void {
  const [fewest, most] = RUNNER_TRANSFORM_INPUTS[urn] ?? [0, Infinity];
  const inputs = Object.keys(t.inputs).length;
  const outputs = Object.keys(t.outputs).length;
  if (inputs < fewest || inputs > most || outputs !== 1) {
    const expected = fewest === most ? `${fewest}` : most === Infinity ? `${fewest} or more` : `${fewest} to ${most}`;
    throw new UnsupportedPipelineError(`'${urn}' has ${inputs} inputs and ${outputs} outputs; it must have ${expected} inputs and 1 output`, t.uniqueName);
  }
}

function checkParDo(t: PTransform): void {
  const payload = ParDoPayload.fromBinary(t.spec!.payload);
  if (payload.requiresTimeSortedInput) {
    throw new UnsupportedPipelineError("time-sorted input (@RequiresTimeSortedInput) is not supported", t.uniqueName);
  }
  // A state spec's protocol URN fixes the StateKeys its SDK harness will use (Prism checks the
  // same): bag -> BagUserState, multimap -> MultimapKeysUserState and MultimapUserState,
  // ordered_list -> OrderedListUserState. The worker (src/worker/user-state.ts) serves all three,
  // for the kinds listed with each: Python's set state is a bag, Go's and Java's a multimap. A
  // spec without a protocol leaves the choice to the SDK, which is served either way.
  const servedKinds: Record<string, string[]> = {
    [UserStateProtocols.bag]: ["bagSpec", "readModifyWriteSpec", "combiningSpec", "setSpec"],
    [UserStateProtocols.multimap]: ["mapSpec", "setSpec"],
    [UserStateProtocols.orderedList]: ["orderedListSpec"],
  };
  for (const [name, spec] of Object.entries(payload.stateSpecs)) {
    const kind = spec.spec.oneofKind;
    const protocol = spec.protocol?.urn ?? "";
    const served = protocol ? servedKinds[protocol] : Object.values(servedKinds).flat();
    if (!kind || !served?.includes(kind)) {
      throw new UnsupportedPipelineError(
        `state '${name}' is ${kind ? `a ${kind}` : "of a kind this runner does not know"}${protocol ? ` over protocol '${protocol}'` : ""}; ` +
          `this runner serves ${Object.entries(servedKinds).map(([urn, kinds]) => `${kinds.join(" / ")} over ${urn}`).join(", ")}`,
        t.uniqueName,
      );
    }
  }
  for (const [name, spec] of Object.entries(payload.timerFamilySpecs)) {
    // In batch both domains fire once the input is exhausted (Beam's batch runners do the same),
    // so processing-time timers (GroupIntoBatches' buffering timer) run like event-time ones.
    if (spec.timeDomain !== TimeDomain_Enum.EVENT_TIME && spec.timeDomain !== TimeDomain_Enum.PROCESSING_TIME) {
      throw new UnsupportedPipelineError(`timer '${name}' uses time domain ${spec.timeDomain}; only event-time and processing-time timers are supported`, t.uniqueName);
    }
  }
}

function resolveEnvironments(leaves: string[], components: Components, options: PlannerOptions): Record<string, EnvironmentSpec> {
  const used = new Set(leaves.map((id) => components.transforms[id]!.environmentId).filter(Boolean));
  const out: Record<string, EnvironmentSpec> = {};
  for (const id of used) {
    const env = components.environments[id];
    const user = leaves.map((l) => components.transforms[l]!).find((t) => t.environmentId === id)!.uniqueName;
    if (!env) throw new UnsupportedPipelineError(`environment '${id}' is not defined in the pipeline`, user);
    const minRam = env.resourceHints[ResourceHints.minRamBytes];
    out[id] = {
      ...resolveEnvironment(id, env.urn, env.payload, options, user),
      ...(minRam && { minRamBytes: Number(Buffer.from(minRam).toString("ascii")) }),
    };
  }
  return out;
}

const PYTHON_SDK_IMAGE = /^(?:.*\/)?beam_python3\.\d+_sdk:(.+)$/;

function resolveEnvironment(id: string, urn: string, payload: Uint8Array, options: PlannerOptions, user: string): EnvironmentSpec {
  switch (urn) {
    case Environments.external: {
      const address = ExternalPayload.fromBinary(payload).endpoint?.url;
      if (!address) throw new UnsupportedPipelineError(`environment '${id}' is EXTERNAL but has no worker pool address`, user);
      return { id, kind: "external", address };
    }
    case Environments.docker: {
      const image = DockerPayload.fromBinary(payload).containerImage;
      const match = PYTHON_SDK_IMAGE.exec(image);
      if (!match) {
        throw new UnsupportedPipelineError(
          `environment '${id}' asks for Docker image '${image}'; without Docker this runner can only run Beam Python SDK ` +
            `images on its local harness (use --environment_type=LOOPBACK or PROCESS for other SDKs)`,
          user,
        );
      }
      const version = match[1]!.replace(/\.dev.*$/, "");
      if (version !== options.pythonSdkVersion) {
        throw new UnsupportedPipelineError(
          `the pipeline was built with apache-beam ${version} but this runner's Python harness is apache-beam ` +
            `${options.pythonSdkVersion}; submit with apache-beam==${options.pythonSdkVersion} or use --environment_type=LOOPBACK`,
          user,
        );
      }
      return { id, kind: "python-process" };
    }
    case Environments.process:
    case Environments.default:
    case "":
      return { id, kind: "python-process" };
    default:
      throw new UnsupportedPipelineError(`environment '${id}' has unsupported type '${urn}'`, user);
  }
}
