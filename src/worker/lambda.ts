// The worker as a Lambda function: the entry esbuild bundles (scripts/setup-lambda.sh). The
// runtime interface client calls `handler` once per invocation; the Fn API server and warm SDK
// harnesses live on in the execution environment between invocations.
import type { TaskResult, WorkerTask } from "../common/task-spec.js";
import { handler as runTask } from "./handler.js";

export async function handler(event: WorkerTask): Promise<TaskResult> {
  return runTask(event);
}
