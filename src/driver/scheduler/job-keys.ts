// Where a job's objects live in the store. Everything is under jobs/<job>/, which the job server
// deletes when the job ends. Attempts write under keys of their own, so a retried or copied
// attempt never overwrites the one that committed:
//
//   jobs/<job>/descriptors/<stage>                    the stage's ProcessBundleDescriptor
//   jobs/<job>/descriptors/<stage>-merge-windows      its window-merging descriptor, if any
//   jobs/<job>/stages/<stage>/task-<i>/attempt-<a>/   a bundle attempt's outputs
//   jobs/<job>/merges/m<n>/<group>/attempt-<a>        a merge attempt's object
//   jobs/<job>/feeds/m<n>                             the feed of materialization n
//
// Materializations are named by ordinal (`m<n>`): their ids are long, and file names are not.
import type { Stage } from "../planner/index.js";

export class JobKeys {
  readonly prefix: string;

  constructor(jobId: string) {
    this.prefix = `jobs/${jobId}`;
  }

  descriptor(stage: Stage): string {
    return `${this.prefix}/descriptors/${stage.id}`;
  }

  windowMergeDescriptor(stage: Stage): string {
    return `${this.prefix}/descriptors/${stage.id}-merge-windows`;
  }

  /** The prefix a bundle task's attempts write under (see `attemptKey`). */
  taskAttempts(stage: Stage, taskIndex: number): string {
    return `${this.prefix}/stages/${stage.id}/task-${taskIndex}`;
  }

  /** The prefix a merge task's attempts write under (see `attemptKey`). */
  mergeAttempts(materializationOrdinal: number, group: number): string {
    return `${this.prefix}/merges/m${materializationOrdinal}/${group}`;
  }

  feed(materializationOrdinal: number): string {
    return `${this.prefix}/feeds/m${materializationOrdinal}`;
  }
}

/** Where attempt `attempt` of a task writes, given the task's attempts prefix. */
export function attemptKey(attemptsPrefix: string, attempt: number): string {
  return `${attemptsPrefix}/attempt-${attempt}`;
}
