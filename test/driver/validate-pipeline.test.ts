// Referential integrity at Prepare: one minimal hand-made pipeline, broken one way per test.
import { ParDoPayload, Pipeline, WindowingStrategy } from "apache-beam/proto/beam_runner_api";
import { describe, expect, it } from "vitest";
import { Coders, Environments, Transforms, WindowFns } from "../../src/common/urns.js";
import { MalformedPipelineError, UnsupportedPipelineError, planPipeline, validatePipeline } from "../../src/driver/planner/index.js";
import { MAX_NESTING } from "../../src/driver/planner/validate-pipeline.js";

const spec = (urn: string, payload: Uint8Array = new Uint8Array()) => ({ urn, payload });

/** Impulse -> ParDo inside a composite 'Root', in the global window. */
function pipeline(): Pipeline {
  return Pipeline.create({
    rootTransformIds: ["root"],
    components: {
      coders: {
        bytes: { spec: spec(Coders.bytes), componentCoderIds: [] },
        global: { spec: spec(Coders.globalWindow), componentCoderIds: [] },
        kv: { spec: spec(Coders.kv), componentCoderIds: ["bytes", "bytes"] },
      },
      windowingStrategies: { ws: WindowingStrategy.create({ windowFn: spec(WindowFns.global), windowCoderId: "global" }) },
      pcollections: {
        impulsed: { uniqueName: "impulsed", coderId: "bytes", windowingStrategyId: "ws", isBounded: 2, displayData: [] },
        mapped: { uniqueName: "mapped", coderId: "bytes", windowingStrategyId: "ws", isBounded: 2, displayData: [] },
      },
      transforms: {
        root: { uniqueName: "Root", subtransforms: ["impulse", "map"], inputs: {}, outputs: { out: "mapped" }, displayData: [], environmentId: "", annotations: {} },
        impulse: { uniqueName: "Root/Impulse", spec: spec(Transforms.impulse), subtransforms: [], inputs: {}, outputs: { out: "impulsed" }, displayData: [], environmentId: "", annotations: {} },
        map: {
          uniqueName: "Root/Map",
          spec: spec(Transforms.parDo, ParDoPayload.toBinary(ParDoPayload.create({ doFn: spec("beam:dofn:pickled_python_info:v1") }))),
          subtransforms: [],
          inputs: { in: "impulsed" },
          outputs: { out: "mapped" },
          displayData: [],
          environmentId: "py",
          annotations: {},
        },
      },
      environments: { py: { urn: Environments.process, payload: new Uint8Array(), displayData: [], capabilities: [], dependencies: [], resourceHints: {} } },
    },
  });
}

/** The message validatePipeline rejects `p` with. */
function rejection(p: Pipeline): string {
  try {
    validatePipeline(p);
  } catch (e) {
    expect(e).toBeInstanceOf(MalformedPipelineError);
    expect(e).toBeInstanceOf(UnsupportedPipelineError);
    return (e as Error).message;
  }
  throw new Error("the pipeline was accepted");
}

describe("validating a pipeline's references at Prepare", () => {
  it("accepts the minimal pipeline, which the planner then plans", () => {
    expect(() => validatePipeline(pipeline())).not.toThrow();
    expect(planPipeline(pipeline(), { pythonSdkVersion: "2.77.0" }).stages.length).toBeGreaterThan(0);
  });

  it("rejects a pipeline without components or root transforms", () => {
    expect(rejection(Pipeline.create())).toMatch(/the pipeline has no components/);
    const p = pipeline();
    p.rootTransformIds = [];
    expect(rejection(p)).toMatch(/the pipeline has no root transforms/);
  });

  it("names a root transform that is not defined", () => {
    const p = pipeline();
    p.rootTransformIds.push("ghost");
    expect(rejection(p)).toMatch(/root transform 'ghost' is not defined/);
  });

  it("names a pcollection whose coder is missing or not defined", () => {
    const p = pipeline();
    p.components!.pcollections.mapped!.coderId = "nope";
    p.components!.pcollections.impulsed!.coderId = "";
    const message = rejection(p);
    expect(message).toMatch(/pcollection 'mapped' has coder 'nope', which is not defined/);
    expect(message).toMatch(/pcollection 'impulsed' names no coder/);
  });

  it("names a pcollection whose windowing strategy is missing or not defined", () => {
    const p = pipeline();
    p.components!.pcollections.mapped!.windowingStrategyId = "nope";
    p.components!.pcollections.impulsed!.windowingStrategyId = "";
    const message = rejection(p);
    expect(message).toMatch(/pcollection 'mapped' has windowing strategy 'nope', which is not defined/);
    expect(message).toMatch(/pcollection 'impulsed' names no windowing strategy/);
  });

  it("names a coder whose component coder is not defined", () => {
    const p = pipeline();
    p.components!.coders.kv!.componentCoderIds = ["bytes", "gone"];
    expect(rejection(p)).toMatch(/coder 'kv' has component coder 'gone', which is not defined/);
  });

  it("names a coder that contains itself, directly or through another", () => {
    const p = pipeline();
    p.components!.coders.kv!.componentCoderIds = ["bytes", "kv"];
    expect(rejection(p)).toMatch(/coder 'kv' contains itself/);
    const q = pipeline();
    q.components!.coders.a = { spec: spec(Coders.iterable), componentCoderIds: ["b"] };
    q.components!.coders.b = { spec: spec(Coders.iterable), componentCoderIds: ["a"] };
    expect(rejection(q)).toMatch(/coder '[ab]' contains itself/);
  });

  it("names a standard coder with the wrong number of component coders", () => {
    const p = pipeline();
    p.components!.coders.kv!.componentCoderIds = ["bytes"];
    expect(rejection(p)).toMatch(/coder 'kv' \(beam:coder:kv:v1\) has 1 component coders; it must have 2/);
  });

  it("names a coder without a URN", () => {
    const p = pipeline();
    p.components!.coders.bytes!.spec = undefined;
    expect(rejection(p)).toMatch(/coder 'bytes' has no URN/);
  });

  it("names a windowing strategy whose window coder is missing or not defined, or that has no window function", () => {
    const p = pipeline();
    p.components!.windowingStrategies.ws!.windowCoderId = "nope";
    expect(rejection(p)).toMatch(/windowing strategy 'ws' has window coder 'nope', which is not defined/);
    p.components!.windowingStrategies.ws!.windowCoderId = "";
    expect(rejection(p)).toMatch(/windowing strategy 'ws' names no window coder/);
    const q = pipeline();
    q.components!.windowingStrategies.ws!.windowFn = undefined;
    expect(rejection(q)).toMatch(/windowing strategy 'ws' has no window function/);
  });

  it("names a windowing strategy whose environment is not defined", () => {
    const p = pipeline();
    p.components!.windowingStrategies.ws!.environmentId = "java";
    expect(rejection(p)).toMatch(/windowing strategy 'ws' names environment 'java', which is not defined/);
  });

  it("names a transform whose input or output is not a defined pcollection", () => {
    const p = pipeline();
    p.components!.transforms.map!.inputs.in = "nowhere";
    p.components!.transforms.impulse!.outputs.out = "void";
    const message = rejection(p);
    expect(message).toMatch(/transform 'Root\/Map' has input 'in' = pcollection 'nowhere', which is not defined/);
    expect(message).toMatch(/transform 'Root\/Impulse' has output 'out' = pcollection 'void', which is not defined/);
  });

  it("names a transform whose subtransform is not defined", () => {
    const p = pipeline();
    p.components!.transforms.root!.subtransforms.push("missing");
    expect(rejection(p)).toMatch(/transform 'Root' has subtransform 'missing', which is not defined/);
  });

  it("names a transform that is its own subtransform, or its own ancestor through another", () => {
    const p = pipeline();
    p.components!.transforms.map!.subtransforms = ["map"];
    expect(rejection(p)).toMatch(/transform 'map' is its own ancestor/);
    const q = pipeline();
    q.components!.transforms.map!.subtransforms = ["root"];
    expect(rejection(q)).toMatch(/transform '(root|map)' is its own ancestor/);
  });

  it("names a transform that is the part of two composites", () => {
    const p = pipeline();
    p.components!.transforms.other = { ...p.components!.transforms.root!, uniqueName: "Other", subtransforms: ["map"] };
    p.rootTransformIds.push("other");
    expect(rejection(p)).toMatch(/transform 'map' is a subtransform of both 'root' and 'other'/);
  });

  it("names a transform whose environment is not defined", () => {
    const p = pipeline();
    p.components!.transforms.map!.environmentId = "java";
    expect(rejection(p)).toMatch(/transform 'Root\/Map' names environment 'java', which is not defined/);
  });

  it("names a ParDo whose payload does not decode, or whose state names an undefined coder", () => {
    const p = pipeline();
    p.components!.transforms.map!.spec = spec(Transforms.parDo, new Uint8Array([0x0a, 0xff, 0xff, 0xff]));
    expect(rejection(p)).toMatch(/transform 'Root\/Map' has a ParDo payload that does not decode/);
    const q = pipeline();
    const payload = ParDoPayload.create({
      doFn: spec("beam:dofn:pickled_python_info:v1"),
      stateSpecs: { count: { spec: { oneofKind: "bagSpec", bagSpec: { elementCoderId: "lost" } }, protocol: undefined } },
      timerFamilySpecs: { fire: { timeDomain: 1, timerFamilyCoderId: "lost-timer" } },
    });
    q.components!.transforms.map!.spec = spec(Transforms.parDo, ParDoPayload.toBinary(payload));
    const message = rejection(q);
    expect(message).toMatch(/transform 'Root\/Map' has state 'count' with coder 'lost', which is not defined/);
    expect(message).toMatch(/transform 'Root\/Map' has timer family 'fire' with coder 'lost-timer', which is not defined/);
  });

  it("names an environment or a Combine whose payload does not decode", () => {
    const p = pipeline();
    p.components!.environments.py!.payload = new Uint8Array([0xff, 0x01]);
    expect(rejection(p)).toMatch(/environment 'py' has a ProcessPayload that does not decode/);
    const q = pipeline();
    q.components!.transforms.map!.spec = spec(Transforms.combinePerKeyPrecombine, new Uint8Array([0x0f]));
    expect(rejection(q)).toMatch(/transform 'Root\/Map' has a CombinePayload that does not decode/);
  });

  it("names a coder nested deeper than the planner follows", () => {
    const p = pipeline();
    for (let i = 0; i <= MAX_NESTING; i++) p.components!.coders[`c${i}`] = { spec: spec(Coders.iterable), componentCoderIds: [`c${i + 1}`] };
    p.components!.coders[`c${MAX_NESTING + 1}`] = { spec: spec(Coders.bytes), componentCoderIds: [] };
    expect(rejection(p)).toMatch(new RegExp(`coder 'c0' nests coders ${MAX_NESTING + 2} deep; at most ${MAX_NESTING}`));
  });

  it("names a composite nested deeper than the planner follows", () => {
    const p = pipeline();
    for (let i = 0; i <= MAX_NESTING; i++) {
      p.components!.transforms[`n${i}`] = { ...p.components!.transforms.root!, uniqueName: `N${i}`, subtransforms: i < MAX_NESTING ? [`n${i + 1}`] : [] };
    }
    expect(rejection(p)).toMatch(new RegExp(`transform 'n0' nests composites ${MAX_NESTING + 1} deep`));
  });

  it("lists ten problems and counts the rest, and keeps them all on the error", () => {
    const p = pipeline();
    for (let i = 0; i < 15; i++) p.rootTransformIds.push(`ghost-${i}`);
    let error: MalformedPipelineError | undefined;
    try {
      validatePipeline(p);
    } catch (e) {
      error = e as MalformedPipelineError;
    }
    expect(error!.problems).toHaveLength(15);
    expect(error!.message).toMatch(/\(and 5 more\)$/);
  });

  it("finds a cycle in a hierarchy nested far deeper than the stack would allow recursion", () => {
    const p = pipeline();
    const depth = 30_000;
    for (let i = 0; i < depth; i++) {
      p.components!.transforms[`n${i}`] = { ...p.components!.transforms.root!, uniqueName: `N${i}`, subtransforms: [`n${(i + 1) % depth}`] };
    }
    p.rootTransformIds.push("n0");
    expect(rejection(p)).toMatch(/is its own ancestor/);
  });

  it("has the planner name a leaf reading a pcollection no transform produces", () => {
    const p = pipeline();
    // Defined, so referentially sound, but produced by nothing.
    p.components!.pcollections.orphan = { ...p.components!.pcollections.mapped!, uniqueName: "orphan" };
    p.components!.transforms.map!.inputs.in = "orphan";
    expect(() => planPipeline(p, { pythonSdkVersion: "2.77.0" })).toThrow(/transform 'Root\/Map': input 'in' is pcollection 'orphan', which no transform of the pipeline produces/);
  });

  it("has the planner name a runner transform with the wrong number of inputs or outputs", () => {
    const p = pipeline();
    p.components!.transforms.impulse!.outputs.again = "impulsed";
    expect(() => planPipeline(p, { pythonSdkVersion: "2.77.0" })).toThrow(/transform 'Root\/Impulse': 'beam:transform:impulse:v1' has 0 inputs and 2 outputs; it must have 0 inputs and 1 output/);
  });

  it("is run by the planner before any phase, so a dangling reference is named rather than a TypeError", () => {
    const p = pipeline();
    delete p.components!.coders.bytes;
    expect(() => planPipeline(p, { pythonSdkVersion: "2.77.0" })).toThrow(/pcollection 'impulsed' has coder 'bytes', which is not defined/);
  });
});
