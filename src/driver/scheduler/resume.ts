// Resuming a job that an earlier job server ran on the same store (src/driver/journal/): its
// committed tasks are not run again. Each counts as a task of its stage that started early and
// has committed (stage-state.ts), so its stage launches only the other tasks, and its outputs
// are readers' inputs at once.
import type { TaskOutputResult } from "../../common/task-spec.js";
import type { Stage } from "../planner/index.js";
import type { Materializations } from "./materializations.js";
import type { StageRuns } from "./stage-state.js";

/** A task an earlier run of the job committed. */
export interface CommittedTask {
  stageId: string;
  taskIndex: number;
  /** The task read its stage's whole input (a small input runs as one task). */
  whole: boolean;
  outputs: TaskOutputResult[];
}

/** What the scheduler needs to resume a job, and what it tells about each new commit. */
export interface ResumeOptions {
  /** Tasks committed before: they are skipped. */
  committed: CommittedTask[];
  /**
   * The number of this run's first attempt of each task: past any an earlier run used, so that a
   * new attempt never writes where an earlier run's (perhaps still running) attempt writes.
   */
  firstAttempt: number;
}

/** Records a task's commit before its outputs are handed to anyone; a rejection fails the job. */
export type CommitLog = (stage: Stage, task: CommittedTask, monitoringInfos: string[]) => Promise<void>;

/** Attempts one run of a job may number: a resumed run starts past them (ResumeOptions.firstAttempt). */
export const ATTEMPTS_PER_RUN = 1000;

/** How stages stand after seeding: those with restored commits, and those whose one task read the whole input. */
export interface Seeded {
  /** Stages with restored tasks: their outputs are read as committed, not merged (merges are not journaled). */
  restored: Set<string>;
  whole: Set<string>;
}

/** Marks the committed tasks committed in `stages` and their outputs in `materializations`. */
export function seedCommitted(stages: StageRuns, materializations: Materializations, committed: CommittedTask[]): Seeded {
  const seeded: Seeded = { restored: new Set(), whole: new Set() };
  const ordered = [...committed].sort((a, b) => (a.stageId === b.stageId ? a.taskIndex - b.taskIndex : a.stageId < b.stageId ? -1 : 1));
  for (const task of ordered) {
    const run = stages.get(task.stageId);
    if (run.early.has(task.taskIndex)) throw new Error(`task ${task.taskIndex} of stage ${task.stageId} is recorded as committed twice`);
    run.startEarly(task.taskIndex);
    run.recordCommit();
    materializations.addCommitted(task.outputs);
    seeded.restored.add(task.stageId);
    if (task.whole) seeded.whole.add(task.stageId);
  }
  return seeded;
}
