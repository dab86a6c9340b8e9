// A stand-in for the worker function, cheap enough that a thousand invocations in flight are a
// thousand timers: per invocation it waits `sleepMs`, writes `bytes` to the object store (S3 on
// LocalStack) under the attempt's output prefix, and reports its completion to the results queue
// through the real worker's completion reporter, so the driver sees exactly what a deployed
// function sends. A task's declared outputs get an object each, with every partition non-empty
// (so the next stage has a task per partition); a task with none writes `bytes` anyway, as a sink.
import type { FunctionRunner } from "../../src/backends/lambda-emulator/lambda-service.js";
import type { InvocationOutcome } from "../../src/backends/lambda-emulator/environment-pool.js";
import { type TaskPayload, isTaskReference } from "../../src/common/task-payload.js";
import type { TaskOutputResult, TaskResult, WorkerTask } from "../../src/common/task-spec.js";
import type { ObjectStore } from "../../src/store/index.js";
import { reportCompletion } from "../../src/worker/completion-reporter.js";

/** The name the emulator serves the synthetic function under. */
export const FUNCTION_NAME = "beam-lambda-synthetic";

export interface SyntheticWork {
  sleepMs: number;
  bytes: number;
}

/** Byte offsets of `partitions` partitions spread over `size` bytes (each non-empty when size ≥ partitions). */
export function spreadOffsets(size: number, partitions: number): number[] {
  return Array.from({ length: partitions + 1 }, (_, i) => Math.floor((i * size) / partitions));
}

export class SyntheticFunction implements FunctionRunner {
  readonly stats = { invocations: 0, running: 0, peakRunning: 0 };

  constructor(
    private readonly store: ObjectStore,
    private readonly work: SyntheticWork,
  ) {}

  async invoke(payload: Buffer): Promise<InvocationOutcome> {
    this.stats.invocations++;
    this.stats.peakRunning = Math.max(this.stats.peakRunning, ++this.stats.running);
    try {
      const event = JSON.parse(payload.toString("utf8")) as TaskPayload;
      const task = isTaskReference(event) ? (JSON.parse((await this.store.get(event.taskRef)).toString("utf8")) as WorkerTask) : event;
      const result = await this.run(task);
      if (event.replyTo) await reportCompletion(event.replyTo, task.jobId, result, () => Promise.resolve(this.store));
      return { payload: Buffer.from(JSON.stringify(result)), emulatorPid: process.pid };
    } catch (e) {
      const failure = { errorType: (e as Error).name, errorMessage: (e as Error).message };
      return { payload: Buffer.from(JSON.stringify(failure)), functionError: "Unhandled", emulatorPid: process.pid };
    } finally {
      this.stats.running--;
    }
  }

  private async run(task: WorkerTask): Promise<TaskResult> {
    await new Promise((r) => setTimeout(r, this.work.sleepMs));
    if (task.kind !== "bundle") throw new Error(`the synthetic function runs bundle tasks, not ${task.kind}`);
    const outputs: TaskOutputResult[] = [];
    for (const out of task.outputs) {
      const size = Math.max(this.work.bytes, out.partitions);
      const key = `${task.outputPrefix}/${out.id}`;
      await this.store.put(key, Buffer.alloc(size, 1));
      outputs.push({ id: out.id, key, offsets: spreadOffsets(size, out.partitions), format: out.format, elements: size });
    }
    if (task.outputs.length === 0 && this.work.bytes > 0) await this.store.put(`${task.outputPrefix}/sink`, Buffer.alloc(this.work.bytes, 1));
    return { ok: true, outputs, monitoringInfos: [], workerPid: process.pid };
  }

  async close(): Promise<void> {}
}
