// Entry point of a local worker process: receives TaskSpecs over IPC and answers with
// TaskResults, through the very handler the Lambda backend invokes.
import { handler } from "../worker/handler.js";
import type { TaskSpec } from "../common/task-spec.js";

process.on("message", (message: { id: number; spec: TaskSpec }) => {
  void handler(message.spec).then((result) => process.send!({ id: message.id, result }));
});
process.on("disconnect", () => process.exit(0));
process.send!({ ready: true });
