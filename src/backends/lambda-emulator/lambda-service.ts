// The Lambda service in front of emulated execution environments: it serves Lambda's Invoke API
// (POST /2015-03-31/functions/NAME/invocations) for one function on a local port, so that the
// driver's `--backend aws` talks to it exactly as it talks to AWS (point AWS_ENDPOINT_URL_LAMBDA
// here). LocalStack runs Lambda code only in Docker; this runs it in the Runtime Interface
// Emulator instead, and does what Lambda's front end does around it:
// - RequestResponse invocations run at once in a free environment (or wait for one);
// - Event invocations are accepted with 202 and queued; a failed one is retried up to
//   `maximumRetryAttempts` times, then Lambda's failure record goes to the on-failure
//   destination (an SQS queue), as configured with PutFunctionEventInvokeConfig on AWS.
import { randomUUID } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
import { ASYNC_PAYLOAD_LIMIT_BYTES } from "../../common/task-payload.js";
import { EnvironmentPool, type EnvironmentPoolOptions, type InvocationOutcome } from "./environment-pool.js";
import { log } from "../../common/log.js";

/** Lambda's limit for synchronous request payloads. */
const SYNC_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

/** The service's own settings, whatever runs the function. */
export interface LambdaFrontOptions {
  functionName: string;
  /** 0 picks a free port. */
  port?: number;
  /** Retries of a failed asynchronous invocation (Lambda's default is 2; the runner's stack sets 0: the driver retries). */
  maximumRetryAttempts?: number;
  /** SQS queue URL of the on-failure destination for asynchronous invocations. */
  onFailureQueueUrl?: string;
  region?: string;
}

export interface LambdaServiceOptions extends EnvironmentPoolOptions, LambdaFrontOptions {
  functionName: string;
}

/** What runs the function's invocations: the emulated environments, or a stand-in (bench/fanout). */
export interface FunctionRunner {
  invoke(payload: Buffer): Promise<InvocationOutcome>;
  close(): Promise<void>;
}

export class LambdaServiceEmulator<Runner extends FunctionRunner = EnvironmentPool> {
  readonly pool: Runner;
  /** Counts for tests and operators. */
  readonly stats = { asyncAccepted: 0, asyncRetried: 0, asyncFailed: 0, failureRecordsSent: 0 };
  private readonly sqs = new SQSClient({ maxAttempts: 5 });

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    private readonly options: LambdaFrontOptions,
    pool: Runner,
  ) {
    this.pool = pool;
  }

  /** The service in front of emulated execution environments running the worker bundle. */
  static start(options: LambdaServiceOptions): Promise<LambdaServiceEmulator> {
    return LambdaServiceEmulator.startWith(new EnvironmentPool(options), options);
  }

  /** The service in front of `pool`, which it closes when it closes. */
  static async startWith<R extends FunctionRunner>(pool: R, options: LambdaFrontOptions): Promise<LambdaServiceEmulator<R>> {
    // The handler needs the emulator, which needs the server's port: bound once both exist.
    // eslint-disable-next-line prefer-const
    let self!: LambdaServiceEmulator<R>;
    const server = createServer((req, res) => void self.handle(req, res));
    const port = await new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
    });
    self = new LambdaServiceEmulator<R>(server, `http://127.0.0.1:${port}`, options, pool);
    return self;
  }

  get functionArn(): string {
    return `arn:aws:lambda:${this.options.region ?? "us-east-1"}:000000000000:function:${this.options.functionName}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(new URL(req.url ?? "/", "http://x").pathname);
    if (req.method !== "POST" || !match) return error(res, 404, "UnknownOperationException", `${req.method} ${req.url} is not an operation this emulator serves`);
    const name = decodeURIComponent(match[1]!);
    // A name, or an ARN ending in it (optionally with a qualifier).
    const bare = name.startsWith("arn:") ? name.split(":")[6] : name.split(":")[0];
    if (bare !== this.options.functionName) return error(res, 404, "ResourceNotFoundException", `Function not found: ${name}`);
    const payload = await body(req);
    const type = (req.headers["x-amz-invocation-type"] as string | undefined) ?? "RequestResponse";
    const requestId = randomUUID();
    res.setHeader("x-amzn-RequestId", requestId);
    if (type === "DryRun") return void res.writeHead(204).end();
    if (type === "Event") {
      if (payload.length > ASYNC_PAYLOAD_LIMIT_BYTES) {
        return error(res, 413, "RequestEntityTooLargeException", `Request must be smaller than ${ASYNC_PAYLOAD_LIMIT_BYTES} bytes for the InvokeAsync operation`);
      }
      this.stats.asyncAccepted++;
      void this.runAsync(payload, requestId);
      return void res.writeHead(202).end();
    }
    if (type !== "RequestResponse") return error(res, 400, "InvalidParameterValueException", `unknown invocation type ${type}`);
    if (payload.length > SYNC_PAYLOAD_LIMIT_BYTES) return error(res, 413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes for the Invoke operation");
    const outcome = await this.pool.invoke(payload);
    res.writeHead(200, { "X-Amz-Executed-Version": "$LATEST", ...(outcome.functionError && { "X-Amz-Function-Error": outcome.functionError }) });
    res.end(outcome.payload);
  }

  /** One asynchronous event: attempts, then the failure record if every attempt failed. */
  private async runAsync(payload: Buffer, requestId: string): Promise<void> {
    const attempts = 1 + (this.options.maximumRetryAttempts ?? 2);
    let outcome: InvocationOutcome | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) this.stats.asyncRetried++;
      outcome = await this.pool.invoke(payload);
      if (!outcome.functionError) return;
    }
    this.stats.asyncFailed++;
    if (!this.options.onFailureQueueUrl) return;
    const record = {
      version: "1.0",
      timestamp: new Date().toISOString(),
      requestContext: { requestId, functionArn: `${this.functionArn}:$LATEST`, condition: "RetriesExhausted", approximateInvokeCount: attempts },
      requestPayload: parseOrString(payload),
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: outcome!.functionError },
      responsePayload: parseOrString(outcome!.payload),
    };
    try {
      await this.sqs.send(new SendMessageCommand({ QueueUrl: this.options.onFailureQueueUrl, MessageBody: JSON.stringify(record) }));
      this.stats.failureRecordsSent++;
    } catch (e) {
      log.warn(`cannot send the failure record of ${requestId}: ${(e as Error).message}`, { component: "lambda-emulator" });
    }
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    await this.pool.close();
    this.sqs.destroy();
  }
}

function error(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { "Content-Type": "application/json", "x-amzn-ErrorType": type });
  res.end(JSON.stringify({ Type: "User", message }));
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseOrString(bytes: Buffer): unknown {
  const text = bytes.toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
