// Task attempts as Lambda invocations of the bundled worker (build/lambda/index.mjs) running in
// emulated execution environments: each is the AWS Lambda Runtime Interface Emulator with the
// Node.js runtime interface client (aws-lambda-ric) under it, one invocation at a time, warm
// between invocations, invoked through @aws-sdk/client-lambda's InvokeCommand as a real
// function would be. scripts/setup-lambda.sh installs the pieces and builds the bundle.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { Socket, createServer } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { ASYNC_PAYLOAD_LIMIT_BYTES, type TaskReference, taskReferenceKey } from "../common/task-payload.js";
import type { TaskResult, WorkerTask } from "../common/task-spec.js";
import { type ObjectStore, openObjectStore } from "../shuffle/index.js";
import type { Backend } from "./backend.js";

const PROJECT_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

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

class Environment {
  process?: ChildProcess;
  client?: LambdaClient;
  busy?: { jobId: string };
  ready: Promise<void> = Promise.resolve();
}

/** The paths setup-lambda.sh fills; a clear error names the script when one is missing. */
export function lambdaArtifacts(root = PROJECT_ROOT): { rie: string; ric: string; bundleDir: string } {
  const artifacts = {
    rie: join(root, ".cache/lambda/bin/aws-lambda-rie"),
    ric: join(root, ".cache/lambda/ric/node_modules/aws-lambda-ric/bin/index.mjs"),
    bundleDir: join(root, "build/lambda"),
  };
  for (const path of [artifacts.rie, artifacts.ric, join(artifacts.bundleDir, "index.mjs")]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run scripts/setup-lambda.sh to install the Lambda emulator and build the worker bundle`);
  }
  return artifacts;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once("error", rej);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => res(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the Lambda emulator exited (code ${child.exitCode}) before listening`);
    const open = await new Promise<boolean>((res) => {
      const socket = new Socket();
      socket.once("connect", () => {
        socket.destroy();
        res(true);
      });
      socket.once("error", () => res(false));
      socket.connect(port, "127.0.0.1");
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the Lambda emulator did not listen on ${port} within ${timeoutMs} ms`);
}

export class LambdaEmulatorBackend implements Backend {
  private readonly environments: Environment[] = [];
  private readonly queue: { spec: WorkerTask; resolve(r: TaskResult): void }[] = [];
  private readonly artifacts: ReturnType<typeof lambdaArtifacts>;
  private readonly store: ObjectStore;
  private closed = false;

  constructor(private readonly options: LambdaEmulatorOptions) {
    this.artifacts = lambdaArtifacts(options.projectRoot);
    this.store = openObjectStore(options.storeUrl);
    for (let i = 0; i < options.environments; i++) this.environments.push(this.start());
  }

  get concurrency(): number {
    return this.options.environments;
  }

  /** Process ids of the emulators (the handler runs in a child of one), for tests. */
  emulatorPids(): number[] {
    return this.environments.map((e) => e.process?.pid ?? 0);
  }

  private start(): Environment {
    const env = new Environment();
    env.ready = (async () => {
      const [api, invoke] = await Promise.all([freePort(), freePort()]);
      const child = spawn(
        this.artifacts.rie,
        ["--runtime-api-address", `127.0.0.1:${api}`, "--runtime-interface-emulator-address", `127.0.0.1:${invoke}`, process.execPath, this.artifacts.ric, "index.handler"],
        {
          cwd: this.artifacts.bundleDir,
          env: {
            ...process.env,
            LAMBDA_TASK_ROOT: this.artifacts.bundleDir,
            AWS_LAMBDA_FUNCTION_TIMEOUT: "900",
            AWS_LAMBDA_FUNCTION_NAME: "beam-lambda-worker",
            BEAM_LAMBDA_STORE: this.options.storeUrl,
            BEAM_LAMBDA_PYTHON: this.options.python,
            BEAM_LAMBDA_GROUPING_WASM: join(this.artifacts.bundleDir, "grouping.wasm"),
          },
          // Its own process group, so that a kill takes the runtime and harness with it.
          detached: true,
          // The emulator logs every invocation; BEAM_LAMBDA_VERBOSE shows it.
          stdio: ["ignore", "ignore", process.env.BEAM_LAMBDA_VERBOSE ? "inherit" : "ignore"],
        },
      );
      env.process = child;
      child.on("exit", () => this.replace(env));
      env.client = new LambdaClient({
        endpoint: `http://127.0.0.1:${invoke}`,
        region: "us-east-1",
        credentials: { accessKeyId: "emulator", secretAccessKey: "emulator" },
        maxAttempts: 1,
      });
      await waitForPort(invoke, child, 30_000);
    })();
    env.ready.catch(() => undefined);
    return env;
  }

  /** An environment whose emulator died (or was killed) is replaced by a fresh one. */
  private replace(env: Environment): void {
    const index = this.environments.indexOf(env);
    if (index < 0 || this.closed) return;
    this.environments[index] = this.start();
    void this.environments[index]!.ready.then(() => this.dispatch());
  }

  invoke(spec: WorkerTask): Promise<TaskResult> {
    if (this.closed) return Promise.resolve({ ok: false, retryable: false, workerPid: 0, error: "the Lambda emulator backend is shut down" });
    return new Promise((resolve) => {
      this.queue.push({ spec, resolve });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const env of this.environments) {
      if (this.queue.length === 0) return;
      if (env.busy) continue;
      const { spec, resolve } = this.queue.shift()!;
      env.busy = { jobId: spec.jobId };
      void this.call(env, spec).then((result) => {
        env.busy = undefined;
        resolve(result);
        this.dispatch();
      });
    }
  }

  private async call(env: Environment, spec: WorkerTask): Promise<TaskResult> {
    try {
      await env.ready;
      const response = await env.client!.send(new InvokeCommand({ FunctionName: "function", Payload: await this.payload(spec) }));
      const body = response.Payload ? Buffer.from(response.Payload).toString("utf8") : "";
      if (response.FunctionError) {
        return { ok: false, retryable: true, workerPid: env.process?.pid ?? 0, error: `the Lambda invocation failed (${response.FunctionError}): ${body}` };
      }
      return JSON.parse(body) as TaskResult;
    } catch (e) {
      // The environment died under the invocation (or never started): a retry goes elsewhere.
      return { ok: false, retryable: true, workerPid: env.process?.pid ?? 0, error: `the Lambda invocation failed: ${(e as Error).message}` };
    }
  }

  /** The task as JSON, or a reference to a stored copy when it is over the async payload limit. */
  private async payload(spec: WorkerTask): Promise<Buffer> {
    const json = Buffer.from(JSON.stringify(spec));
    if (json.length <= this.payloadLimit) return json;
    const taskRef = taskReferenceKey(spec);
    await this.store.put(taskRef, json);
    return Buffer.from(JSON.stringify({ taskRef } satisfies TaskReference));
  }

  /** Tasks above this many bytes of JSON travel by reference (tests lower it). */
  payloadLimit = ASYNC_PAYLOAD_LIMIT_BYTES;

  cancelJob(jobId: string): void {
    const cancelled: TaskResult = { ok: false, retryable: false, workerPid: 0, error: `job ${jobId} was cancelled` };
    for (const queued of this.queue.filter((q) => q.spec.jobId === jobId)) queued.resolve(cancelled);
    this.queue.splice(0, this.queue.length, ...this.queue.filter((q) => q.spec.jobId !== jobId));
    for (const env of this.environments) if (env.busy?.jobId === jobId) killGroup(env.process);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.environments.map(async (env) => {
        await env.ready.catch(() => undefined);
        const child = env.process;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        killGroup(child);
        await exited;
      }),
    );
  }
}

function killGroup(child: ChildProcess | undefined): void {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
