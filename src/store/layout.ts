// Where the runner's objects live in the store. Three top-level folders: a job's scratch space,
// deleted when the job ends, its staged artifacts, and its journal (what a restarted job server
// resumes it from: src/driver/journal/), which both stay while the job server keeps the job
// (deleted when its registry releases it: src/driver/jobservice/job-registry.ts; on S3 scratch
// and artifacts expire by lifecycle rules: cdk/lib/runner-storage.ts).
//
//   artifacts/<job>/<staged name>                         an artifact the SDK staged
//   journal/<job>/job.json, pipeline.pb                   the job as Run saw it: name, options, owner; its pipeline
//   journal/<job>/events/<seq>.json                       its state changes and messages, in order
//   journal/<job>/commits/<stage>/task-<i>.json           a task's committed outputs (written once)
//   journal/<job>/runs/<n>                                each run of the job: the first, then one per resume
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

/** The folder of every job's journal. */
export const JOURNAL_FOLDER = "journal/";

/** The job's journal: what a restarted job server resumes it from. */
export function journalPrefix(jobId: string): string {
  return `${JOURNAL_FOLDER}${jobId}/`;
}

/** The keys of one job's journal (see src/driver/journal/job-journal.ts). */
export class JournalKeys {
  readonly prefix: string;

  constructor(jobId: string) {
    this.prefix = journalPrefix(jobId);
  }

  get job(): string {
    return `${this.prefix}job.json`;
  }

  get pipeline(): string {
    return `${this.prefix}pipeline.pb`;
  }

  get events(): string {
    return `${this.prefix}events/`;
  }

  /** Zero-padded, so that the store's listing order is the events' order. */
  event(seq: number): string {
    return `${this.events}${String(seq).padStart(10, "0")}.json`;
  }

  get commits(): string {
    return `${this.prefix}commits/`;
  }

  commit(stageId: string, taskIndex: number): string {
    return `${this.commits}${encodeURIComponent(stageId)}/task-${taskIndex}.json`;
  }

  get runs(): string {
    return `${this.prefix}runs/`;
  }

  run(n: number): string {
    return `${this.runs}${String(n).padStart(6, "0")}`;
  }
}

/** The job ids of journal keys (as listed under JOURNAL_FOLDER), each once. */
export function journaledJobIds(keys: string[]): string[] {
  return [...new Set(keys.filter((k) => k.startsWith(JOURNAL_FOLDER)).map((k) => k.split("/")[1]!))];
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
