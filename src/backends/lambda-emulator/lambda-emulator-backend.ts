// Task attempts as synchronous invocations of the bundled worker in emulated execution
// environments (environment-pool.ts), through @aws-sdk/client-lambda's InvokeCommand: the
// Lambda function without the AWS services around it. `--backend aws` adds those (asynchronous
// invocation, SQS completions) and runs against this pool behind lambda-service.ts.
import type { TaskResult, WorkerTask } from "../../common/task-spec.js";
import { workerEnv } from "../../common/worker-env.js";
import { type ObjectStore, openObjectStore } from "../../store/index.js";
import { AttemptQueue, failedAttempt } from "../attempt-queue.js";
import type { Backend } from "../backend.js";
import { encodeTaskPayload } from "../encode-task-payload.js";
import { EnvironmentPool } from "./environment-pool.js";

export interface LambdaEmulatorOptions {
  /** Execution environments, i.e. invocations at once. */
  environments: number;
  /** The object store URL the function opens (BEAM_LAMBDA_STORE). */
  storeUrl: string;
  /** Python interpreter for the SDK harness inside the environment (BEAM_LAMBDA_PYTHON). */
  python: string;
  /** Where scripts/setup-lambda.sh put the bundle and the emulator (default: this project). */
  projectRoot?: string;
}

export class LambdaEmulatorBackend implements Backend {
  readonly pool: EnvironmentPool;
  private readonly store: ObjectStore;
  /** One attempt per environment: an attempt waits here, before its payload is written, rather than in the pool. */
  private readonly attempts: AttemptQueue;

  constructor(options: LambdaEmulatorOptions) {
    this.store = openObjectStore(options.storeUrl);
    this.pool = new EnvironmentPool({
      environments: options.environments,
      functionEnv: workerEnv({ storeUrl: options.storeUrl, python: options.python }),
      projectRoot: options.projectRoot,
    });
    this.attempts = new AttemptQueue({
      owner: "the Lambda emulator backend",
      limit: this.pool.size,
      start: (spec) => this.run(spec),
      stopJob: (jobId) => this.pool.kill(jobId, `job ${jobId} was cancelled`),
    });
  }

  get concurrency(): number {
    return this.pool.size;
  }

  /** Process ids of the emulators (the handler runs in a child of one), for tests. */
  emulatorPids(): number[] {
    return this.pool.emulatorPids();
  }

  invoke(spec: WorkerTask, started?: () => void): Promise<TaskResult> {
    return this.attempts.submit(spec, started);
  }

  cancelJob(jobId: string): void {
    this.attempts.cancelJob(jobId);
  }

  async close(): Promise<void> {
    await this.attempts.close(() => this.pool.close());
  }

  private async run(spec: WorkerTask): Promise<TaskResult> {
    const { payload } = await encodeTaskPayload(spec, this.store);
    const outcome = await this.pool.invoke(payload, spec.jobId);
    const body = outcome.payload.toString("utf8");
    if (outcome.functionError) {
      // The environment died under the invocation, or the handler threw: a retry goes elsewhere.
      return failedAttempt(`the Lambda invocation failed (${outcome.functionError}): ${body}`, { retryable: true, workerPid: outcome.emulatorPid, cause: "infrastructure" });
    }
    return JSON.parse(body) as TaskResult;
  }
}
