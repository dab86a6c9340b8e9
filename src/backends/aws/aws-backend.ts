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
import { type ParsedCompletion, parseCompletion } from "./results-queue-message.js";
import type { TaskResult, WorkerTask } from "../../common/task-spec.js";
import { type ObjectStore, openObjectStore } from "../../store/index.js";
import { AttemptQueue, failedAttempt } from "../attempt-queue.js";
import type { Backend } from "../backend.js";
import { encodeTaskPayload } from "../encode-task-payload.js";
import type { AwsBackendConfig } from "./aws-config.js";
import { CompletionListener, type MessageVerdict, pollersFor } from "./completion-listener.js";

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
  /**
   * At most `concurrency` invocations are out at once, so that an attempt's timeout runs from
   * when it was sent rather than while it waits in Lambda's queue. Retries and speculative copies
   * (attempt > 0) go to the front of the line: they are late already.
   */
  private readonly attempts: AttemptQueue;
  /** How each settled attempt ended, to tell duplicates from late completions. */
  private readonly settled = new Map<string, "completed" | "timed-out" | "cancelled">();
  /** Settled invocation ids per job, forgotten a timeout after the job ends. */
  private readonly settledOfJob = new Map<string, string[]>();

  private constructor(private readonly config: AwsBackendConfig) {
    this.attempts = new AttemptQueue({
      owner: "the AWS backend",
      limit: config.concurrency,
      start: (spec) => this.send(spec),
      stopJob: (jobId) => this.forgetJob(jobId),
      goesFirst: (spec) => spec.attempt > 0,
    });
    this.lambda = new LambdaClient({ maxAttempts: 8, retryMode: "adaptive" });
    this.sqs = new SQSClient({ maxAttempts: 5 });
    this.store = openObjectStore(config.storeUrl);
    this.listener = new CompletionListener(this.sqs, config.resultsQueueUrl, config.pollWaitSeconds, (body) => this.receive(body), pollersFor(config.concurrency));
  }

  static async start(config: AwsBackendConfig): Promise<AwsBackend> {
    const backend = new AwsBackend(config);
    await backend.listener.start();
    return backend;
  }

  get concurrency(): number {
    return this.config.concurrency;
  }

  invoke(spec: WorkerTask, started?: () => void): Promise<TaskResult> {
    return this.attempts.submit(spec, started);
  }

  /** The job's attempts fail now; a running invocation cannot be stopped, and `forgetJob` drops its completion. */
  cancelJob(jobId: string): void {
    this.attempts.cancelJob(jobId);
  }

  /** Sends the attempt's invocation; its result comes from the results queue, or its timeout. */
  private send(spec: WorkerTask): Promise<TaskResult> {
    const invocationId = `${this.driverId}/${spec.jobId}/${spec.stageId}/${spec.kind}/${spec.taskIndex}/${spec.attempt}`;
    const timeoutMs = (this.config.taskTimeoutSeconds + this.config.timeoutGraceSeconds) * 1000;
    return new Promise<TaskResult>((resolve) => {
      const timer = setTimeout(() => {
        this.stats.timeouts++;
        const error = `no completion for ${invocationId} within ${Math.round(timeoutMs / 1000)} s (the function timed out, or its completion was lost)`;
        this.settle(invocationId, "timed-out", failedAttempt(error, { retryable: true, cause: "infrastructure" }));
      }, timeoutMs);
      this.pending.set(invocationId, { jobId: spec.jobId, resolve, timer });
      void this.invokeFunction(spec, invocationId);
    });
  }

  private async invokeFunction(spec: WorkerTask, invocationId: string): Promise<void> {
    try {
      const { payload, byReference } = await encodeTaskPayload(spec, this.store, { invocationId, queueUrl: this.config.resultsQueueUrl });
      if (byReference) this.stats.payloadsByReference++;
      await this.lambda.send(new InvokeCommand({ FunctionName: this.config.functionName, InvocationType: "Event", Payload: payload }));
      this.stats.invocations++;
    } catch (e) {
      const name = (e as Error).name;
      const error = `invoking ${this.config.functionName} failed: ${name}: ${(e as Error).message}`;
      this.settle(invocationId, "completed", failedAttempt(error, { retryable: !PERMANENT_INVOKE_ERRORS.has(name), cause: "infrastructure" }));
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
    // Settled while its result was fetched: by a duplicate another poller read, or by its timeout.
    const attempt = this.forget(invocationId, "completed");
    if (!attempt) {
      this.stats.duplicateCompletions++;
      return "handled";
    }
    if ("fromLambda" in parsed) this.stats.lambdaFailureRecords++;
    this.stats.completions++;
    attempt.resolve(result);
    return "handled";
  }

  private async resultOf(parsed: NonNullable<ParsedCompletion>): Promise<TaskResult> {
    if ("result" in parsed) return parsed.result;
    try {
      return JSON.parse((await this.store.get(parsed.resultRef)).toString("utf8")) as TaskResult;
    } catch (e) {
      return failedAttempt(`the completion of ${parsed.invocationId} is unreadable: ${(e as Error).message}`, { retryable: true });
    }
  }

  private settle(invocationId: string, how: "completed" | "timed-out", result: TaskResult): void {
    this.forget(invocationId, how)?.resolve(result);
  }

  /** Stops waiting for an attempt, remembering how it ended so that later messages for it are told apart. */
  private forget(invocationId: string, how: "completed" | "timed-out" | "cancelled"): PendingAttempt | undefined {
    const attempt = this.pending.get(invocationId);
    if (!attempt) return undefined;
    this.pending.delete(invocationId);
    clearTimeout(attempt.timer);
    this.settled.set(invocationId, how);
    const ofJob = this.settledOfJob.get(attempt.jobId) ?? [];
    ofJob.push(invocationId);
    this.settledOfJob.set(attempt.jobId, ofJob);
    return attempt;
  }

  /**
   * Called when a job ends or is cancelled, once the queue has failed its attempts. Lambda
   * invocations cannot be stopped: their completions are dropped when they come. Once no
   * completion can still come, the job's settled ids are forgotten (a later one counts as unknown).
   */
  private forgetJob(jobId: string): void {
    for (const [id, attempt] of [...this.pending]) if (attempt.jobId === jobId) this.forget(id, "cancelled");
    const forgetMs = (this.config.taskTimeoutSeconds + this.config.timeoutGraceSeconds) * 1000;
    setTimeout(() => {
      for (const id of this.settledOfJob.get(jobId) ?? []) this.settled.delete(id);
      this.settledOfJob.delete(jobId);
    }, forgetMs).unref();
  }

  async close(): Promise<void> {
    await this.attempts.close(async () => {
      for (const id of [...this.pending.keys()]) this.forget(id, "cancelled");
      await this.listener.stop();
      this.lambda.destroy();
      this.sqs.destroy();
    });
  }
}
