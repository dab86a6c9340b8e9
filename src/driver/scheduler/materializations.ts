// The materialized PCollections of one job as their producers' tasks commit, and the inputs
// tasks read from them: a reader is handed byte ranges of committed outputs only.
import { type ObjectRange, type SideInputSpec, type TaskInput, type TaskOutputResult, rangeOf } from "../../common/task-spec.js";
import type { Edge, Stage } from "../planner/index.js";

/**
 * An input under both limits runs as one task instead of one per partition. Each task costs a
 * bundle round trip (on Lambda an invocation, seconds if its environment is cold) and a
 * bundle-level DoFn (BatchElements, finish_bundle, a per-bundle connection) sees its input in
 * pieces: below about a thousand small elements that costs more than the parallelism saves, and
 * Beam's own runners run such inputs as one bundle. `elements: 0` always splits.
 */
export interface SmallInputOptions {
  elements: number;
  bytes: number;
}

export const DEFAULT_SMALL_INPUT: SmallInputOptions = { elements: 1000, bytes: 1 << 20 };

/** One materialized PCollection (in one encoding) as its producer's tasks commit. */
export class Materialization {
  /** Committed task outputs, in commit order. */
  readonly committed: TaskOutputResult[] = [];
  /** Committed merge outputs, when merging (push-merge.ts). */
  readonly merged: TaskOutputResult[] = [];
  /** Tasks that will commit (known once the producer launched all its tasks). */
  expectedTasks?: number;
  /** Merge factor, when this materialization is merged. */
  factor?: number;

  /** `ordinal` names its objects (see src/store/layout.ts). */
  constructor(
    readonly id: string,
    readonly ordinal: number,
  ) {}

  /** What readers consume: merged objects when merging, else the task outputs. */
  get outputs(): TaskOutputResult[] {
    return this.factor ? this.merged : this.committed;
  }

  /** How many `outputs` there will be. */
  get expectedOutputs(): number {
    return this.factor ? Math.ceil(this.expectedTasks! / this.factor) : this.expectedTasks!;
  }

  get complete(): boolean {
    return this.expectedTasks !== undefined && this.outputs.length === this.expectedOutputs;
  }
}

/** Every materialization of a job, by id. */
export class Materializations {
  private readonly byId = new Map<string, Materialization>();

  constructor(
    stages: Stage[],
    private readonly smallInput: SmallInputOptions,
  ) {
    for (const stage of stages) {
      for (const o of stage.outputs) this.byId.set(o.id, new Materialization(o.id, this.byId.size));
    }
  }

  get(id: string): Materialization {
    const m = this.byId.get(id);
    if (!m) throw new Error(`no stage writes materialization '${id}'`);
    return m;
  }

  all(): IterableIterator<Materialization> {
    return this.byId.values();
  }

  /** The materializations `stage` writes. */
  of(stage: Stage): Materialization[] {
    return stage.outputs.map((o) => this.get(o.id));
  }

  allComplete(ids: string[]): boolean {
    return ids.every((id) => this.get(id).complete);
  }

  /** Records a committed task's outputs. */
  addCommitted(outputs: TaskOutputResult[]): void {
    for (const out of outputs) this.get(out.id).committed.push(out);
  }

  /**
   * Whether the outputs committed so far for `edge` are under the small-input limits. Every
   * partition of a key-partitioned edge in one task still keeps each key in one task.
   */
  isSmall(edge: Edge): boolean {
    let elements = 0;
    let bytes = 0;
    for (const source of edge.sources) {
      for (const out of this.get(source).outputs) {
        elements += out.elements;
        bytes += out.offsets[out.offsets.length - 1]! - out.offsets[0]!;
      }
    }
    return elements < this.smallInput.elements && bytes < this.smallInput.bytes;
  }

  /** The byte ranges a task reads from complete inputs: one partition of every source, or all. */
  staticInput(edge: Edge, partition: number | "all"): TaskInput {
    const ranges: ObjectRange[] = [];
    for (const source of edge.sources) {
      for (const out of this.get(source).outputs) ranges.push(rangeOf(out, partition));
    }
    return { read: edge.read, wireCoderId: edge.wireCoderId, ranges };
  }

  /** A stage's side inputs, each read whole (they are complete before the stage starts). */
  sideInputs(stage: Stage): SideInputSpec[] {
    return stage.sideInputs.map((si) => ({
      transformId: si.transformId,
      tag: si.tag,
      accessPattern: si.accessPattern,
      input: this.staticInput(si.edge, "all"),
    }));
  }
}
