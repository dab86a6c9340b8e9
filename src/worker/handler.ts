// The worker's one entry point: a Lambda handler taking a TaskSpec and returning a TaskResult.
// Local worker processes call the same function; it never knows which backend invoked it.
import { type TaskPayload, isTaskReference } from "../common/task-payload.js";
import type { TaskResult, WorkerTask } from "../common/task-spec.js";
import { TASK_SPEC_VERSION } from "../common/task-spec.js";
import { log } from "../common/log.js";
import { readWorkerEnv } from "../common/worker-env.js";
import { type ObjectStore, openObjectStore } from "../store/index.js";
import { TaskRunner } from "./task-runner.js";

let runner: Promise<TaskRunner> | undefined;

const workerLog = log.child({ component: "worker", worker: process.pid });

/** Kept across invocations: the Fn API server and warm SDK harnesses outlive one task. */
function taskRunner(): Promise<TaskRunner> {
  runner ??= startTaskRunner();
  return runner;
}

/** Reads the worker's environment as it is now: a runner that failed to start is started afresh. */
function startTaskRunner(): Promise<TaskRunner> {
  const { storeUrl, python, shuffleMemoryBytes, noProgressTimeoutMs, spareInterpreter } = readWorkerEnv();
  return TaskRunner.create(openObjectStore(storeUrl), { python, shuffleMemoryBytes, noProgressTimeoutMs, spareInterpreter });
}

/**
 * Starts the task runner before the first task (at a Lambda environment's init, a local worker's
 * start): its Fn API server and a Python interpreter importing Beam are then ready or on their way.
 * A runner that fails to start is started again by the first task, which reports why.
 */
export function prewarm(): void {
  taskRunner().catch(() => (runner = undefined));
}

/** The object store tasks read and write (opened with the task runner). */
export async function workerStore(): Promise<ObjectStore> {
  return (await taskRunner()).store;
}

export async function handler(payload: TaskPayload): Promise<TaskResult> {
  let spec: WorkerTask;
  try {
    if (isTaskReference(payload)) {
      spec = JSON.parse((await (await workerStore()).get(payload.taskRef)).toString("utf8")) as WorkerTask;
    } else {
      const { replyTo: _, ...task } = payload;
      spec = task;
    }
  } catch (e) {
    return { ok: false, retryable: true, workerPid: process.pid, error: `the worker cannot read its task: ${(e as Error).message}` };
  }
  if (spec.version !== TASK_SPEC_VERSION) {
    return { ok: false, retryable: false, workerPid: process.pid, error: `task spec version ${String(spec.version)} is not ${String(TASK_SPEC_VERSION)}` };
  }
  const taskLog = workerLog.child({
    job: spec.jobId,
    stage: spec.stageId,
    task: spec.taskIndex,
    attempt: spec.attempt,
    ...(spec.kind === "merge" && { merge: spec.materializationId }),
  });
  try {
    const started = Date.now();
    taskLog.debug("attempt started");
    const result = await (await taskRunner()).run(spec);
    logResult(taskLog, result, Date.now() - started);
    return result;
  } catch (e) {
    // The runner itself could not start (bad configuration): no retry will help.
    runner = undefined;
    return { ok: false, retryable: false, workerPid: process.pid, error: `the worker cannot run tasks: ${(e as Error).message}` };
  }
}

function logResult(taskLog: typeof workerLog, result: TaskResult, ms: number): void {
  if (result.ok) {
    const elements = result.outputs.reduce((sum, o) => sum + o.elements, 0);
    const bytes = result.outputs.reduce((sum, o) => sum + (o.offsets.at(-1) ?? 0), 0);
    taskLog.info(`attempt succeeded in ${ms} ms`, { ms, elementsOut: elements, bytesOut: bytes });
  } else {
    taskLog.warn(`attempt failed in ${ms} ms: ${result.error.split("\n", 1)[0]}`, { ms, cause: result.cause ?? "user", retryable: result.retryable });
  }
}

/** The job has ended: its warm harnesses are stopped (soon, unless another job shares them), their directories removed. */
export async function endJob(jobId: string): Promise<void> {
  await runner?.then((r) => r.endJob(jobId), () => undefined);
}

/** Stops the warm harnesses and the Fn API server (a local worker process calls this before exiting). */
export async function shutdown(): Promise<void> {
  const current = runner;
  runner = undefined;
  await current?.then((r) => r.close(), () => undefined);
}
