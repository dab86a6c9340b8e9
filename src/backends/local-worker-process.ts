// Entry point of a local worker process: receives TaskSpecs over IPC and answers with
// TaskResults, through the very handler the Lambda backend invokes.
import type { WorkerTask } from "../common/task-spec.js";
import { endJob, handler, prewarm, shutdown } from "../worker/handler.js";

/**
 * The backend may shut down, or its job server be killed, while a worker is starting or finishing
 * a task: a reply that finds the channel gone is dropped (the disconnect handler ends the worker).
 */
function reply(message: unknown): void {
  if (process.connected) process.send!(message, undefined, {}, () => undefined);
}

process.on("message", (message: { id: number; spec: WorkerTask } | { endJob: string }) => {
  if ("endJob" in message) void endJob(message.endJob);
  else void handler(message.spec).then((result) => reply({ id: message.id, result }));
});
/** The job server is gone (or stopping): stop the harnesses and leave. */
function leave(): void {
  setTimeout(() => process.exit(0), 5000).unref();
  void shutdown().finally(() => process.exit(0));
}
process.on("disconnect", leave);
if (process.connected) {
  prewarm();
  reply({ ready: true });
} else {
  // The job server died while this process was loading, before the listener above: no event
  // will come, and the prewarmed harness machinery would keep an orphan alive for good.
  leave();
}
