// A worker's completion: the message it sends to the driver's results queue after a task, with
// the TaskResult of one invocation (or a reference to it in the object store when it is too
// large for a message). The driver reads it in backends/aws/results-queue-message.ts, beside
// Lambda's own failure records that arrive on the same queue.
import type { TaskResult } from "./task-spec.js";

export const COMPLETION_TYPE = "beam-lambda/completion";

/** SQS messages are at most 256 KiB; larger results go through the object store. */
export const COMPLETION_INLINE_LIMIT_BYTES = 200 * 1024;

export interface CompletionMessage {
  type: typeof COMPLETION_TYPE;
  invocationId: string;
  result?: TaskResult;
  /** Object-store key of the result, when it was too large to send inline. */
  resultRef?: string;
}
