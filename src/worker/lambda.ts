// The worker as a Lambda function: the entry esbuild bundles (scripts/bundle-worker.sh). The
// runtime interface client calls `handler` once per invocation; the Fn API server and warm SDK
// harnesses live on in the execution environment between invocations.
import { type TaskPayload, isTaskReference } from "../common/task-payload.js";
import type { TaskResult } from "../common/task-spec.js";
import { jobIdOfTaskReference } from "../store/index.js";
import { reportCompletion } from "./completion-reporter.js";
import { prewarm, handler as runTask, workerStore } from "./handler.js";

// At the environment's init (which Lambda runs with a full CPU), not on the first invocation's clock.
prewarm();

/**
 * `event` is a task, or a reference to one in the object store (too large for a payload). An
 * asynchronous invocation carries `replyTo`: the result then also goes to the driver's SQS
 * results queue. If that send fails the handler throws, so Lambda records the invocation as
 * failed (and tells the on-failure destination).
 */
export async function handler(event: TaskPayload): Promise<TaskResult> {
  const result = await runTask(event);
  if (event.replyTo) {
    const jobId = isTaskReference(event) ? jobIdOfTaskReference(event.taskRef) : event.jobId;
    await reportCompletion(event.replyTo, jobId, result, workerStore);
  }
  return result;
}
