// How a backend that invokes Lambda functions (or their emulator) sends a task: in the payload,
// or, past the asynchronous invocation limit, stored at its reference key with only the key sent.
// The payload's format is common/task-payload.ts, the contract with deployed workers.
import { ASYNC_PAYLOAD_LIMIT_BYTES, type ReplyTo, type TaskPayload } from "../common/task-payload.js";
import type { WorkerTask } from "../common/task-spec.js";
import { type ObjectStore, taskReferenceKey } from "../store/index.js";

/** The payload for one attempt: the task as JSON, or a reference to a stored copy when it is over the async limit. */
export async function encodeTaskPayload(task: WorkerTask, store: ObjectStore, replyTo?: ReplyTo): Promise<{ payload: Buffer; byReference: boolean }> {
  const json = Buffer.from(JSON.stringify(replyTo ? { ...task, replyTo } : task));
  if (json.length <= ASYNC_PAYLOAD_LIMIT_BYTES) return { payload: json, byReference: false };
  const taskRef = taskReferenceKey(task);
  await store.put(taskRef, Buffer.from(JSON.stringify(task)));
  return { payload: Buffer.from(JSON.stringify({ taskRef, ...(replyTo && { replyTo }) } satisfies TaskPayload)), byReference: true };
}
