// Push-based merge (docs/shuffle.md): when a materialization's M × R reaches a threshold, merge
// tasks concatenate groups of F committed map outputs, in commit order, while the map stage is
// still running; the last, partial group is merged when the last map commits. Readers then get
// ⌈M/F⌉ merged objects instead of M map outputs. Merge tasks retry like any task.
import { TASK_SPEC_VERSION, type TaskOutputResult } from "../../common/task-spec.js";
import type { JobKeys } from "../../store/index.js";
import type { Stage } from "../planner/index.js";
import type { AttemptRunner } from "./attempts.js";
import type { Materialization } from "./materializations.js";
import type { MergeTemplate } from "./task-template.js";

export interface MergeOptions {
  /** Merge a materialization when (map tasks × partitions) reaches this. */
  threshold: number;
  /** Map outputs per merge task. */
  factor: number;
}

export const DEFAULT_MERGE: MergeOptions = { threshold: 4096, factor: 16 };

/** A merge task on its way: how many outputs it merges, and its committed output. */
export interface PendingMerge {
  inputs: number;
  outputs: Promise<TaskOutputResult[]>;
}

/** The merges of one job. */
export class PushMerge {
  /** Groups launched per merged materialization. */
  private readonly launched = new Map<Materialization, number>();

  constructor(
    private readonly options: MergeOptions,
    private readonly partitions: number,
    private readonly jobId: string,
    private readonly keys: JobKeys,
    private readonly attempts: AttemptRunner,
  ) {}

  /** Once `m`'s producer knows its task count: whether `m` is merged, by setting its factor. */
  decide(m: Materialization, tasks: number): void {
    if (tasks >= 2 && tasks * this.partitions >= this.options.threshold) m.factor = this.options.factor;
  }

  /** Launches a merge of each group of `m`'s committed outputs that is due. */
  launchDue(stage: Stage, m: Materialization): PendingMerge[] {
    const pending: PendingMerge[] = [];
    for (let group = this.nextGroup(m); group; group = this.nextGroup(m)) {
      const template: MergeTemplate = {
        version: TASK_SPEC_VERSION,
        kind: "merge",
        jobId: this.jobId,
        stageId: stage.id,
        stageName: `merge of ${m.id}`,
        taskIndex: group.index,
        materializationId: m.id,
        inputs: group.inputs,
      };
      const attemptsPrefix = this.keys.mergeAttempts(m.ordinal, group.index);
      const outputs = this.attempts.run({ template, attemptsPrefix, stage }).then((result) => result.outputs);
      pending.push({ inputs: group.inputs.length, outputs });
    }
    return pending;
  }

  /** The next group of committed outputs to merge: a full group, or the rest once all are in. */
  private nextGroup(m: Materialization): { index: number; inputs: TaskOutputResult[] } | undefined {
    if (!m.factor) return undefined;
    const index = this.launched.get(m) ?? 0;
    const from = index * m.factor;
    const available = m.committed.length - from;
    const last = m.committed.length === m.expectedTasks;
    if (available < m.factor && !(last && available > 0)) return undefined;
    this.launched.set(m, index + 1);
    return { index, inputs: m.committed.slice(from, from + m.factor) };
  }
}
