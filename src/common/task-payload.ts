// What travels in a Lambda invocation's payload: the task itself, or, when its JSON would pass
// the asynchronous invocation limit, a reference to a copy in the object store (stored by
// src/backends/encode-task-payload.ts at the key src/store/layout.ts names). An asynchronous
// invocation also says where the worker reports its completion (`replyTo`). Deployed workers
// read this format: it changes only with them.
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
