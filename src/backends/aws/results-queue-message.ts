// What arrives on the SQS results queue, as the driver reads it. Two kinds of message:
// - a worker's completion (common/completion.ts): the TaskResult of one invocation, or a
//   reference to it in the object store;
// - Lambda's own record of an asynchronous invocation it gave up on (the function's on-failure
//   destination): the runtime crashed, timed out or ran out of memory, so no worker reported.
// Delivery is at least once and in any order: the driver matches them to attempts by invocation id.
import { COMPLETION_TYPE, type CompletionMessage } from "../../common/completion.js";
import type { ReplyTo } from "../../common/task-payload.js";
import type { TaskResult } from "../../common/task-spec.js";

/** Lambda's record for an asynchronous invocation sent to an on-failure destination. */
interface LambdaDestinationRecord {
  requestContext: { requestId?: string; condition?: string; approximateInvokeCount?: number };
  requestPayload?: { replyTo?: ReplyTo };
  responseContext?: { functionError?: string };
  responsePayload?: { errorType?: string; errorMessage?: string } | string | null;
}

export type ParsedCompletion =
  | { invocationId: string; result: TaskResult; fromLambda?: true }
  | { invocationId: string; resultRef: string }
  | undefined;

/** Reads a results-queue message body; undefined when it is neither kind (it is left for the DLQ). */
export function parseCompletion(body: string): ParsedCompletion {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof message !== "object" || message === null) return undefined;
  const completion = message as Partial<CompletionMessage>;
  if (completion.type === COMPLETION_TYPE && typeof completion.invocationId === "string") {
    if (completion.result) return { invocationId: completion.invocationId, result: completion.result };
    if (typeof completion.resultRef === "string") return { invocationId: completion.invocationId, resultRef: completion.resultRef };
    return undefined;
  }
  const record = message as Partial<LambdaDestinationRecord>;
  const invocationId = record.requestPayload?.replyTo?.invocationId;
  if (!record.requestContext || typeof invocationId !== "string") return undefined;
  const response = record.responsePayload;
  const reason =
    typeof response === "object" && response !== null ? `${response.errorType ?? "Error"}: ${response.errorMessage ?? ""}` : String(response ?? "no response");
  const { condition = "unknown", approximateInvokeCount = 1 } = record.requestContext;
  return {
    invocationId,
    fromLambda: true,
    result: {
      ok: false,
      retryable: true,
      // No worker reported: the environment crashed, timed out or ran out of memory.
      cause: "infrastructure",
      workerPid: 0,
      error: `Lambda gave up on the invocation (${condition} after ${approximateInvokeCount} attempt(s), ${record.responseContext?.functionError ?? "no function error"}): ${reason}`,
    },
  };
}
