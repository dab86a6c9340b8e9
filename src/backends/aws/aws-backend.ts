// Task attempts on AWS: each attempt is one asynchronous invocation (InvocationType Event) of
// the worker function; the worker reports its result on the SQS results queue, and Lambda itself
// reports invocations it gave up on there (the function's on-failure destination). Delivery is
// at least once and in any order, so completions are matched to attempts by invocation id: the
// first one settles an attempt, later ones are counted and dropped. An attempt that hears nothing
// within the function's timeout (plus a grace period) fails as retryable; the scheduler retries
// it and launches speculative copies of stragglers.
//
// Endpoints, region and credentials come from the standard AWS chain, so the same backend runs
// against AWS or against LocalStack (S3, SQS) and lambda-service.ts (Lambda): AWS_ENDPOINT_URL,
// AWS_ENDPOINT_URL_LAMBDA.
import { randomUUID } from "node:crypto";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { SQSClient } from "@aws-sdk/client-sqs";
import { type ParsedCompletion, parseCompletion } from "../../common/completion.js";
import { encodeTaskPayload } from "../../common/task-payload.js";
import type { TaskResult, WorkerTask } from "../../common/task-spec.js";
import { type ObjectStore, openObjectStore } from "../../shuffle/index.js";
import type { Backend } from "../backend.js";
import type { AwsBackendConfig } from "./aws-config.js";
import { CompletionListener, type MessageVerdict } from "./completion-listener.js";

/** Lambda errors no retry fixes: the function or the permission to call it is missing. */
const PERMANENT_INVOKE_ERRORS = new Set(["ResourceNotFoundException", "AccessDeniedException", "InvalidParameterValueException"]);

interface PendingAttempt {
  jobId: string;
  resolve(result: TaskResult): void;
  timer: NodeJS.Timeout;
}

/** How the results queue's messages matched attempts: what at-least-once delivery did. */
export interface CompletionStats {
  invocations: number;
  /** Tasks sent by reference because their JSON passed the async payload limit. */
  payloadsByReference: number;
  completions: number;
  /** A second (or later) delivery for an attempt already settled by a completion. */
  duplicateCompletions: number;
  /** Completions for attempts that had timed out or been cancelled before. */
  lateCompletions: number;
  /** Lambda's on-failure records (the environment crashed, timed out or ran out of memory). */
  lambdaFailureRecords: number;
  /** Attempts failed for hearing nothing within the timeout. */
  timeouts: number;
  /** Messages for no attempt of this driver (an earlier driver's, say), dropped. */
  unknownMessages: number;
  /** Messages that could not be read, left for the dead-letter queue. */
  unreadableMessages: number;
}

export class AwsBackend implements Backend {
  readonly stats: CompletionStats = {
    invocations: 0,
    payloadsByReference: 0,
    completions: 0,
    duplicateCompletions: 0,
    lateCompletions: 0,
    lambdaFailureRecords: 0,
    timeouts: 0,
    unknownMessages: 0,
    unreadableMessages: 0,
  };
  /** Each raw message body as it arrives, for tests and tracing. */
  onMessage?: (body: string) => void;

  private readonly lambda: LambdaClient;
  private readonly sqs: SQSClient;
  private readonly store: ObjectStore;
  private readonly listener: CompletionListener;
  /** Invocation ids start with this, so messages of another driver's run are recognised. */
  private readonly driverId = randomUUID().slice(0, 8);
  /** Attempts sent and not settled, by invocation id. */
  private readonly pending = new Map<string, PendingAttempt>();
  /** Attempts not sent yet (over `concurrency`). */
  private readonly waiting: { spec: WorkerTask; resolve(result: TaskResult): void }[] = [];
  /** How each settled attempt ended, to tell duplicates from late completions. */
  private readonly settled = new Map<string, "completed" | "timed-out" | "cancelled">();
  /** Settled invocation ids per job, forgotten a timeout after the job ends. */
  private readonly settledOfJob = new Map<string, string[]>();
  private closed = false;

  private constructor(private readonly config: AwsBackendConfig) {
    this.lambda = new LambdaClient({ maxAttempts: 8, retryMode: "adaptive" });
    this.sqs = new SQSClient({ maxAttempts: 5 });
    this.store = openObjectStore(config.storeUrl);
    this.listener = new CompletionListener(this.sqs, config.resultsQueueUrl, config.pollWaitSeconds, (body) => this.receive(body));
  }

  static async start(config: AwsBackendConfig): Promise<AwsBackend> {
    const backend = new AwsBackend(config);
    await backend.listener.start();
    return backend;
  }

  get concurrency(): number {
    return this.config.concurrency;
  }

  /**
   * Sends at most `concurrency` invocations at once, so that an attempt's timeout runs from when
   * it was sent rather than while it waits in Lambda's queue. Retries and speculative copies
   * (attempt > 0) go to the front of the line: they are late already.
   */
  invoke(spec: WorkerTask): Promise<TaskResult> {
    if (this.closed) return Promise.resolve({ ok: false, retryable: false, workerPid: 0, error: "the AWS backend is shut down" });
    return new Promise<TaskResult>((resolve) => {
      const waiting = { spec, resolve };
      if (spec.attempt > 0) this.waiting.unshift(waiting);
      else this.waiting.push(waiting);
      this.pump();
    });
  }

  private pump(): void {
    while (this.pending.size < this.config.concurrency && this.waiting.length > 0) {
      const { spec, resolve } = this.waiting.shift()!;
      const invocationId = `${this.driverId}/${spec.jobId}/${spec.stageId}/${spec.kind}/${spec.taskIndex}/${spec.attempt}`;
      const timeoutMs = (this.config.taskTimeoutSeconds + this.config.timeoutGraceSeconds) * 1000;
      const timer = setTimeout(() => {
        this.stats.timeouts++;
        this.settle(invocationId, "timed-out", {
          ok: false,
          retryable: true,
          workerPid: 0,
          error: `no completion for ${invocationId} within ${Math.round(timeoutMs / 1000)} s (the function timed out, or its completion was lost)`,
        });
      }, timeoutMs);
      this.pending.set(invocationId, { jobId: spec.jobId, resolve, timer });
      void this.send(spec, invocationId);
    }
  }

  private async send(spec: WorkerTask, invocationId: string): Promise<void> {
    try {
      const { payload, byReference } = await encodeTaskPayload(spec, this.store, { invocationId, queueUrl: this.config.resultsQueueUrl });
      if (byReference) this.stats.payloadsByReference++;
      await this.lambda.send(new InvokeCommand({ FunctionName: this.config.functionName, InvocationType: "Event", Payload: payload }));
      this.stats.invocations++;
    } catch (e) {
      const name = (e as Error).name;
      this.settle(invocationId, "completed", {
        ok: false,
        retryable: !PERMANENT_INVOKE_ERRORS.has(name),
        workerPid: 0,
        error: `invoking ${this.config.functionName} failed: ${name}: ${(e as Error).message}`,
      });
    }
  }

  private async receive(body: string): Promise<MessageVerdict> {
    this.onMessage?.(body);
    const parsed = parseCompletion(body);
    if (!parsed) {
      this.stats.unreadableMessages++;
      return "unreadable";
    }
    const { invocationId } = parsed;
    if (!invocationId.startsWith(`${this.driverId}/`)) {
      this.stats.unknownMessages++;
      return "handled";
    }
    const before = this.settled.get(invocationId);
    if (before === "completed") {
      this.stats.duplicateCompletions++;
      return "handled";
    }
    if (before) {
      this.stats.lateCompletions++;
      return "handled";
    }
    if (!this.pending.has(invocationId)) {
      this.stats.unknownMessages++;
      return "handled";
    }
    const result = await this.resultOf(parsed);
    if ("fromLambda" in parsed) this.stats.lambdaFailureRecords++;
    this.stats.completions++;
    this.settle(invocationId, "completed", result);
    return "handled";
  }

  private async resultOf(parsed: NonNullable<ParsedCompletion>): Promise<TaskResult> {
    if ("result" in parsed) return parsed.result;
    try {
      return JSON.parse((await this.store.get(parsed.resultRef)).toString("utf8")) as TaskResult;
    } catch (e) {
      return { ok: false, retryable: true, workerPid: 0, error: `the completion of ${parsed.invocationId} is unreadable: ${(e as Error).message}` };
    }
  }

  private settle(invocationId: string, how: "completed" | "timed-out" | "cancelled", result: TaskResult): void {
    const attempt = this.pending.get(invocationId);
    if (!attempt) return;
    this.pending.delete(invocationId);
    clearTimeout(attempt.timer);
    this.settled.set(invocationId, how);
    queueMicrotask(() => this.pump());
    const ofJob = this.settledOfJob.get(attempt.jobId) ?? [];
    ofJob.push(invocationId);
    this.settledOfJob.set(attempt.jobId, ofJob);
    attempt.resolve(result);
  }

  /**
   * Called when a job ends or is cancelled. Lambda invocations cannot be stopped: the job's
   * attempts are settled now, and their completions dropped when they come. Once no completion
   * can still come, the job's settled ids are forgotten (a later one counts as unknown).
   */
  cancelJob(jobId: string): void {
    const cancelled: TaskResult = { ok: false, retryable: false, workerPid: 0, error: `job ${jobId} was cancelled` };
    for (const w of this.waiting.filter((w) => w.spec.jobId === jobId)) w.resolve(cancelled);
    this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((w) => w.spec.jobId !== jobId));
    for (const [id, attempt] of [...this.pending]) {
      if (attempt.jobId === jobId) this.settle(id, "cancelled", { ok: false, retryable: false, workerPid: 0, error: `job ${jobId} was cancelled` });
    }
    const forgetMs = (this.config.taskTimeoutSeconds + this.config.timeoutGraceSeconds) * 1000;
    setTimeout(() => {
      for (const id of this.settledOfJob.get(jobId) ?? []) this.settled.delete(id);
      this.settledOfJob.delete(jobId);
    }, forgetMs).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.resolve({ ok: false, retryable: false, workerPid: 0, error: "the AWS backend is shut down" });
    for (const [id] of [...this.pending]) this.settle(id, "cancelled", { ok: false, retryable: false, workerPid: 0, error: "the AWS backend is shut down" });
    await this.listener.stop();
    this.lambda.destroy();
    this.sqs.destroy();
  }
}
