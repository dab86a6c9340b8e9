// Small execution plans for scheduler tests, built by hand: the scheduler reads only a stage's
// edges, outputs, timers and upstream stages, so a stage here is those and an empty descriptor.
import { ProcessBundleDescriptor } from "apache-beam/proto/beam_fn_api";
import type { EdgeRead } from "../../src/common/task-spec.js";
import type { Edge, ExecutionPlan, Stage } from "../../src/driver/planner/index.js";

export interface StageShape {
  /** The stage whose output is this stage's main input; absent: an Impulse-rooted stage. */
  reads?: string;
  /** Read the main input grouped (a GroupByKey), so its producer partitions by key. */
  grouped?: boolean;
  /** Stages whose outputs this stage reads as side inputs. */
  sideInputsFrom?: string[];
  /** The stage has a timer family (stateful stages never start early). */
  timers?: boolean;
}

const GROUPED: EdgeRead = { kind: "group", inputWireCoderId: "kv", windowMerge: "none", timestampCombiner: "endOfWindow" };

/** The one materialization each hand-built stage writes. */
export const outputOf = (stageId: string): string => `${stageId}.out`;

const edgeFrom = (producer: string, read: EdgeRead): Edge => ({ pcollection: `${producer}-pc`, read, sources: [outputOf(producer)], wireCoderId: "wire" });

/** A plan of stages in the given (topological) order, keyed by stage id. */
export function handBuiltPlan(shapes: Record<string, StageShape>): ExecutionPlan {
  const readers = (id: string) => Object.values(shapes).filter((s) => s.reads === id);
  const stages = Object.entries(shapes).map(([id, shape]): Stage => {
    const grouped = readers(id).some((r) => r.grouped);
    return {
      id,
      name: `${id}-transforms`,
      environmentId: "env",
      transformIds: [`${id}-transform`],
      sourceTransformId: `${id}-source`,
      main: shape.reads ? { kind: "edge", edge: edgeFrom(shape.reads, shape.grouped ? GROUPED : { kind: "plain" }) } : { kind: "impulse" },
      sideInputs: (shape.sideInputsFrom ?? []).map((producer) => ({
        transformId: `${id}-transform`,
        tag: `side-${producer}`,
        accessPattern: "iterable",
        edge: edgeFrom(producer, { kind: "plain" }),
      })),
      outputs: [
        {
          id: outputOf(id),
          pcollection: `${id}-pc`,
          sinkTransformId: `${id}-sink`,
          wireCoderId: "wire",
          partitionBy: grouped ? "key" : "spread",
          format: grouped ? "keyed" : "plain",
        },
      ],
      timers: shape.timers ? [{ transformId: `${id}-transform`, timerFamilyId: "timer", coderId: "timer-coder" }] : [],
      upstream: [...(shape.reads ? [shape.reads] : []), ...(shape.sideInputsFrom ?? [])],
      descriptor: ProcessBundleDescriptor.create(),
    };
  });
  return { stages, environments: { env: { id: "env", kind: "python-process" } } };
}
