// Bounds a bundle that makes no progress: no data, state or control traffic with its SDK harness
// for `timeoutMs`. The harness's connection is then closed with a NoProgressError, which fails
// whatever waits on it and has the task runner stop the harness; the attempt counts as an
// infrastructure loss and is retried (TaskResult.cause).
import { CONFIG } from "../common/config.js";
import { type HarnessConnection, NoProgressError } from "./harness-connection.js";

/** How often the idle time is looked at, at most: a small fraction of the timeout. */
const MAX_CHECK_INTERVAL_MS = 10_000;

/** Watches `connection` from now; call the returned function once the bundle has ended. */
export function watchProgress(connection: HarnessConnection, timeoutMs: number): () => void {
  connection.noteTraffic();
  const timer = setInterval(
    () => {
      if (connection.idleMs < timeoutMs) return;
      connection.close(
        new NoProgressError(
          `the bundle made no progress for ${timeoutMs / 1000} s (no data or state traffic with the SDK harness ${connection.workerId}; ` +
            `${CONFIG.taskNoProgressTimeoutMs.name}): its harness was stopped`,
        ),
      );
    },
    Math.max(10, Math.min(MAX_CHECK_INTERVAL_MS, timeoutMs / 4)),
  );
  timer.unref();
  return () => clearInterval(timer);
}
