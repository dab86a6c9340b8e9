// The worker as a Lambda function: the entry esbuild bundles (scripts/setup-lambda.sh). The
// runtime interface client calls `handler` once per invocation; the Fn API server and warm SDK
// harnesses live on in the execution environment between invocations.
import type { TaskPayload } from "../common/task-payload.js";
import type { TaskResult } from "../common/task-spec.js";
import { handler as runTask } from "./handler.js";

/** `event` is a task, or a reference to one in the object store (too large for a payload). */
export async function handler(event: TaskPayload): Promise<TaskResult> {
  return runTask(event);
}
