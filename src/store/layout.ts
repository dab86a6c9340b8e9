// Where the runner's objects live in the store. Two top-level folders: a job's scratch space,
// deleted when the job ends, and its staged artifacts, which stay while the job server keeps the
// job (deleted when its registry releases it: src/driver/jobservice/job-registry.ts; on S3 both
// expire by lifecycle rules: cdk/lib/runner-storage.ts).
//
//   artifacts/<job>/<staged name>                         an artifact the SDK staged
//   jobs/<job>/descriptors/<stage>                        the stage's ProcessBundleDescriptor
//   jobs/<job>/descriptors/<stage>-merge-windows          its window-merging descriptor, if any
//   jobs/<job>/stages/<stage>/task-<i>/attempt-<a>/       a bundle attempt's outputs
//   jobs/<job>/merges/m<n>/<group>/attempt-<a>            a merge attempt's object
//   jobs/<job>/feeds/m<n>                                 the feed of materialization n
//   jobs/<job>/task-specs/<stage>-<kind>-<i>-attempt-<a>.json   a task too large for its payload
//   jobs/<job>/results/<invocation id, URI-encoded>.json  a result too large for its message
//
// Attempts write under keys of their own, so a retried or copied attempt never overwrites the
// one that committed. Materializations are named by ordinal (`m<n>`): their ids are long, and
// file names are not. Job ids contain no '/' (job-service.ts makes them of [A-Za-z0-9_-]).
import type { WorkerTask } from "../common/task-spec.js";

/** The folder of every job's scratch space. */
export const JOBS_FOLDER = "jobs/";
/** The folder of every job's staged artifacts. */
export const ARTIFACTS_FOLDER = "artifacts/";

/** Everything of the job's but its artifacts: deleted when the job ends. */
export function jobPrefix(jobId: string): string {
  return `${JOBS_FOLDER}${jobId}/`;
}

/** The job's staged artifacts, each at this prefix and its staged name. */
export function artifactPrefix(jobId: string): string {
  return `${ARTIFACTS_FOLDER}${jobId}/`;
}

/** The keys the scheduler writes and hands to tasks for one job. */
export class JobKeys {
  private readonly prefix: string;

  constructor(jobId: string) {
    this.prefix = jobPrefix(jobId);
  }

  descriptor(stageId: string): string {
    return `${this.prefix}descriptors/${stageId}`;
  }

  windowMergeDescriptor(stageId: string): string {
    return `${this.prefix}descriptors/${stageId}-merge-windows`;
  }

  /** The prefix a bundle task's attempts write under (see `attemptKey`). */
  taskAttempts(stageId: string, taskIndex: number): string {
    return `${this.prefix}stages/${stageId}/task-${taskIndex}`;
  }

  /** The prefix a merge task's attempts write under (see `attemptKey`). */
  mergeAttempts(materializationOrdinal: number, group: number): string {
    return `${this.prefix}merges/m${materializationOrdinal}/${group}`;
  }

  feed(materializationOrdinal: number): string {
    return `${this.prefix}feeds/m${materializationOrdinal}`;
  }
}

/** Where attempt `attempt` of a task writes, given the task's attempts prefix. */
export function attemptKey(attemptsPrefix: string, attempt: number): string {
  return `${attemptsPrefix}/attempt-${attempt}`;
}

/** Where a task attempt too large for its invocation payload is stored; the payload carries this key. */
export function taskReferenceKey(task: WorkerTask): string {
  return `${jobPrefix(task.jobId)}task-specs/${task.stageId}-${task.kind}-${task.taskIndex}-attempt-${task.attempt}.json`;
}

/** The job a key made by `taskReferenceKey` belongs to. */
export function jobIdOfTaskReference(taskRef: string): string {
  return taskRef.split("/")[1]!;
}

/** Where a worker stores a result too large for its completion message; the message carries this key. */
export function resultReferenceKey(jobId: string, invocationId: string): string {
  return `${jobPrefix(jobId)}results/${encodeURIComponent(invocationId)}.json`;
}
