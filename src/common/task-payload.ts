// What travels in a Lambda invocation's payload: the task itself, or, when its JSON would pass
// the asynchronous invocation limit, a reference to a copy in the object store.
import type { WorkerTask } from "./task-spec.js";

/** Lambda's limit for asynchronous invocation payloads (the smallest of its payload limits). */
export const ASYNC_PAYLOAD_LIMIT_BYTES = 256 * 1024;

/** A task stored in the object store because it was too large to send. */
export interface TaskReference {
  taskRef: string;
}

export type TaskPayload = WorkerTask | TaskReference;

export function isTaskReference(payload: TaskPayload): payload is TaskReference {
  return typeof (payload as TaskReference).taskRef === "string";
}

/** The object-store key a too-large task attempt is stored under. */
export function taskReferenceKey(task: WorkerTask): string {
  return `jobs/${task.jobId}/task-specs/${task.stageId}-${task.kind}-${task.taskIndex}-attempt-${task.attempt}.json`;
}
