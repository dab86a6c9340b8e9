// A Backend for scheduler tests. It runs task semantics only as far as the scheduler sees them:
// a successful attempt writes one object per output (every partition `bytesPerPartition` bytes,
// one byte per element) and returns its offsets; a merge writes the concatenation's size. It
// checks the scheduler's contract on the way in (every range it is handed names an object that
// was written) and, like a worker, waits on an input's feeds until they list every output.
import type { Backend } from "../../src/backends/backend.js";
import type { FailureCause, FeedContent, ObjectRange, TaskOutputResult, TaskResult, WorkerTask } from "../../src/common/task-spec.js";
import type { ObjectStore } from "../../src/store/index.js";

/** What one attempt does; the default is to succeed after `DEFAULT_DELAY_MS`. */
export interface AttemptScript {
  delayMs?: number;
  /** Waits this long in the backend's queue (not started) before it runs. */
  queuedMs?: number;
  failure?: { error: string; retryable: boolean; cause?: FailureCause };
}

export const DEFAULT_DELAY_MS = 5;
const FEED_POLL_MS = 5;
const BYTES_PER_PARTITION = 10;

/** `B/1#0` is attempt 0 of task 1 of stage B; `merge B.out/0#0` the first merge of B's output. */
export function labelOf(task: WorkerTask): string {
  return task.kind === "merge" ? `merge ${task.materializationId}/${task.taskIndex}#${task.attempt}` : `${task.stageId}/${task.taskIndex}#${task.attempt}`;
}

export class FakeBackend implements Backend {
  /** Every attempt, in invocation order; an attempt's `workerPid` is its index here. */
  readonly invocations: WorkerTask[] = [];
  /** When each attempt started (Date.now()), by invocation index. */
  readonly startTimes: number[] = [];
  /** `start <label>` and `end <label> ok|failed`, in the order they happened. */
  readonly events: string[] = [];
  readonly cancelledJobs: string[] = [];
  /** Called as each attempt starts (a test may cancel the job from here). */
  onInvoke?: (task: WorkerTask) => void;
  private readonly running = new Set<Promise<TaskResult>>();

  constructor(
    private readonly store: ObjectStore,
    /** The script of each attempt, by label; absent labels succeed. */
    private readonly script: Record<string, AttemptScript> = {},
    readonly concurrency = 4,
  ) {}

  /** Attempts start at once, unless their script queues them. */
  invoke(task: WorkerTask, started?: () => void): Promise<TaskResult> {
    const pid = this.invocations.push(task) - 1;
    this.startTimes.push(Date.now());
    this.events.push(`start ${labelOf(task)}`);
    this.onInvoke?.(task);
    const queuedMs = this.script[labelOf(task)]?.queuedMs ?? 0;
    const start = queuedMs > 0 ? new Promise<void>((resolve) => setTimeout(resolve, queuedMs)) : Promise.resolve();
    const attempt = start.then(() => {
      started?.();
      return this.run(task, pid);
    }).then((result) => {
      this.events.push(`end ${labelOf(task)} ${result.ok ? "ok" : "failed"}`);
      return result;
    });
    this.running.add(attempt);
    void attempt.finally(() => this.running.delete(attempt));
    return attempt;
  }

  cancelJob(jobId: string): void {
    this.cancelledJobs.push(jobId);
  }

  async close(): Promise<void> {
    await this.idle();
  }

  /** Resolves once no attempt is running, including losers nobody waits for any more. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Object keys of the ranges a bundle attempt was handed for its main input. */
  mainInputKeys(label: string): string[] {
    const task = this.invocations.find((t) => labelOf(t) === label);
    if (!task || task.kind !== "bundle" || task.main.kind !== "edge") throw new Error(`no bundle attempt ${label} with an edge input`);
    return task.main.ranges.map((r) => r.key);
  }

  private async run(task: WorkerTask, workerPid: number): Promise<TaskResult> {
    const script = this.script[labelOf(task)] ?? {};
    const missing = await this.missingInput(task);
    if (missing) return { ok: false, error: `input object ${missing} was never written`, retryable: false, workerPid };
    if (task.kind === "bundle" && task.main.kind === "edge") {
      const failed = await this.waitForFeeds(task.jobId, task.main.feeds ?? []);
      if (failed) return { ok: false, error: failed, retryable: false, workerPid };
    }
    await sleep(script.delayMs ?? DEFAULT_DELAY_MS);
    if (script.failure) return { ok: false, ...script.failure, workerPid };
    const outputs = task.kind === "merge" ? [mergedOutput(task.materializationId, task.outputKey, task.inputs)] : task.outputs.map((o) => bundleOutput(o, task.outputPrefix));
    for (const out of outputs) await this.store.put(out.key, Buffer.alloc(out.offsets[out.offsets.length - 1]!));
    return { ok: true, outputs, monitoringInfos: [], workerPid };
  }

  private async missingInput(task: WorkerTask): Promise<string | undefined> {
    const ranges: ObjectRange[] =
      task.kind === "merge"
        ? task.inputs.map((i) => ({ key: i.key, start: 0, end: 0 }))
        : [...(task.main.kind === "edge" ? task.main.ranges : []), ...task.sideInputs.flatMap((s) => s.input.ranges)];
    for (const { key } of ranges) if (!(await this.store.exists(key))) return key;
    return undefined;
  }

  /** Polls each feed until it lists its expected outputs; returns the failure a feed reports. */
  private async waitForFeeds(jobId: string, feeds: { key: string; expected: number }[]): Promise<string | undefined> {
    for (const feed of feeds) {
      for (;;) {
        if (this.cancelledJobs.includes(jobId)) return "the job was cancelled";
        const content = (await this.store.exists(feed.key)) ? (JSON.parse((await this.store.get(feed.key)).toString()) as FeedContent) : undefined;
        if (content?.failed) return `feed ${feed.key} failed: ${content.failed}`;
        if (content && content.outputs.length >= feed.expected) break;
        await sleep(FEED_POLL_MS);
      }
    }
    return undefined;
  }
}

function bundleOutput(o: { id: string; partitions: number; format: "keyed" | "plain" }, prefix: string): TaskOutputResult {
  const offsets = Array.from({ length: o.partitions + 1 }, (_, p) => p * BYTES_PER_PARTITION);
  return { id: o.id, key: `${prefix}/${o.id}`, offsets, format: o.format, elements: o.partitions * BYTES_PER_PARTITION };
}

function mergedOutput(id: string, key: string, inputs: TaskOutputResult[]): TaskOutputResult {
  const partitions = inputs[0]!.offsets.length - 1;
  const offsets = [0];
  for (let p = 0; p < partitions; p++) offsets.push(offsets[p]! + inputs.reduce((sum, i) => sum + i.offsets[p + 1]! - i.offsets[p]!, 0));
  return { id, key, offsets, format: inputs[0]!.format, elements: inputs.reduce((sum, i) => sum + i.elements, 0) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
