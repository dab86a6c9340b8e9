// Emulated Lambda execution environments: each is the AWS Lambda Runtime Interface Emulator with
// the Node.js runtime interface client (aws-lambda-ric) under it, running the bundled worker
// (build/lambda/index.mjs). Like a real execution environment, each takes one invocation at a
// time and stays warm between invocations; one that dies is replaced by a fresh (cold) one.
// scripts/setup-lambda.sh installs the emulator and the client and builds the bundle.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { freePort, portOpen } from "../../common/net.js";

const PROJECT_ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

export interface EnvironmentPoolOptions {
  /** Execution environments, i.e. invocations at once. */
  environments: number;
  /** The function's configured environment variables (BEAM_LAMBDA_STORE, BEAM_LAMBDA_PYTHON, ...). */
  functionEnv: Record<string, string>;
  functionName?: string;
  /** Where scripts/setup-lambda.sh put the bundle and the emulator (default: this project). */
  projectRoot?: string;
}

/** What one invocation returned, as Lambda reports it. */
export interface InvocationOutcome {
  payload: Buffer;
  /** Set when the function failed ("Unhandled"), as in Lambda's X-Amz-Function-Error. */
  functionError?: string;
  /** The emulator process that ran it. */
  emulatorPid: number;
}

class Environment {
  process?: ChildProcess;
  client?: LambdaClient;
  /** A label of the invocation running here (the backend's job id), for kills. */
  busy?: { label: string };
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

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the Lambda emulator exited (code ${child.exitCode}) before listening`);
    if (await portOpen(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the Lambda emulator did not listen on ${port} within ${timeoutMs} ms`);
}

export class EnvironmentPool {
  private readonly environments: Environment[] = [];
  private readonly queue: { payload: Buffer; label: string; resolve(o: InvocationOutcome): void }[] = [];
  private readonly artifacts: ReturnType<typeof lambdaArtifacts>;
  private closed = false;

  constructor(private readonly options: EnvironmentPoolOptions) {
    this.artifacts = lambdaArtifacts(options.projectRoot);
    for (let i = 0; i < options.environments; i++) this.environments.push(this.start());
  }

  get size(): number {
    return this.options.environments;
  }

  /** Process ids of the emulators (the handler runs in a child of one), for tests. */
  emulatorPids(): number[] {
    return this.environments.map((e) => e.process?.pid ?? 0);
  }

  /** Environments running an invocation now. */
  get busy(): number {
    return this.environments.filter((e) => e.busy).length;
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
            AWS_LAMBDA_FUNCTION_NAME: this.options.functionName ?? "beam-lambda-worker",
            BEAM_LAMBDA_GROUPING_WASM: join(this.artifacts.bundleDir, "grouping.wasm"),
            ...this.options.functionEnv,
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

  /** Runs one invocation in the next free environment; `label` lets `kill` find it. */
  invoke(payload: Buffer, label = ""): Promise<InvocationOutcome> {
    if (this.closed) return Promise.resolve(failure("the emulated environments are shut down", 0));
    return new Promise((resolve) => {
      this.queue.push({ payload, label, resolve });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const env of this.environments) {
      if (this.queue.length === 0) return;
      if (env.busy) continue;
      const { payload, label, resolve } = this.queue.shift()!;
      env.busy = { label };
      void this.call(env, payload).then((outcome) => {
        env.busy = undefined;
        resolve(outcome);
        this.dispatch();
      });
    }
  }

  private async call(env: Environment, payload: Buffer): Promise<InvocationOutcome> {
    try {
      await env.ready;
      const pid = env.process?.pid ?? 0;
      const response = await env.client!.send(new InvokeCommand({ FunctionName: "function", Payload: payload }));
      const body = Buffer.from(response.Payload ?? new Uint8Array());
      return { payload: body, emulatorPid: pid, ...(response.FunctionError && { functionError: response.FunctionError }) };
    } catch (e) {
      // The environment died under the invocation (or never started), as Lambda reports it.
      return failure(`Runtime exited with error: ${(e as Error).message}`, env.process?.pid ?? 0);
    }
  }

  /** Drops queued invocations with `label` (resolving them with `cancelled`) and kills the environments running one. */
  kill(label: string, cancelled: string): void {
    for (const queued of this.queue.filter((q) => q.label === label)) queued.resolve(failure(cancelled, 0));
    this.queue.splice(0, this.queue.length, ...this.queue.filter((q) => q.label !== label));
    for (const env of this.environments) if (env.busy?.label === label) killGroup(env.process);
  }

  /** Kills the emulator process (and its runtime) of every busy environment, for fault tests. */
  killBusy(): number[] {
    const killed = this.environments.filter((e) => e.busy).map((e) => e.process?.pid ?? 0);
    for (const env of this.environments) if (env.busy) killGroup(env.process);
    return killed;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const queued of this.queue.splice(0)) queued.resolve(failure("the emulated environments are shut down", 0));
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

function failure(message: string, emulatorPid: number): InvocationOutcome {
  return { payload: Buffer.from(JSON.stringify({ errorType: "Runtime.ExitError", errorMessage: message })), functionError: "Unhandled", emulatorPid };
}

function killGroup(child: ChildProcess | undefined): void {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
