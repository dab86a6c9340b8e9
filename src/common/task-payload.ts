// What travels in a Lambda invocation's payload: the task itself, or, when its JSON would pass
// the asynchronous invocation limit, a reference to a copy in the object store. An asynchronous
// invocation also says where the worker reports its completion (`replyTo`).
import { type ObjectStore, taskReferenceKey } from "../store/index.js";
import type { WorkerTask } from "./task-spec.js";

/** Lambda's limit for asynchronous invocation payloads (the smallest of its payload limits). */
export const ASYNC_PAYLOAD_LIMIT_BYTES = 256 * 1024;

/** A task stored in the object store because it was too large to send. */
export interface TaskReference {
  taskRef: string;
}

/** Where an asynchronously invoked worker sends its completion (src/common/completion.ts). */
export interface ReplyTo {
  invocationId: string;
  queueUrl: string;
}

export type TaskPayload = (WorkerTask | TaskReference) & { replyTo?: ReplyTo };

export function isTaskReference(payload: TaskPayload): payload is TaskReference & { replyTo?: ReplyTo } {
  return typeof (payload as TaskReference).taskRef === "string";
}

/** The payload for one attempt: the task as JSON, or a reference to a stored copy when it is over the async limit. */
export async function encodeTaskPayload(task: WorkerTask, store: ObjectStore, replyTo?: ReplyTo): Promise<{ payload: Buffer; byReference: boolean }> {
  const json = Buffer.from(JSON.stringify(replyTo ? { ...task, replyTo } : task));
  if (json.length <= ASYNC_PAYLOAD_LIMIT_BYTES) return { payload: json, byReference: false };
  const taskRef = taskReferenceKey(task);
  await store.put(taskRef, Buffer.from(JSON.stringify(task)));
  return { payload: Buffer.from(JSON.stringify({ taskRef, ...(replyTo && { replyTo }) } satisfies TaskPayload)), byReference: true };
}
