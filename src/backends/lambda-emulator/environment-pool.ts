// Emulated Lambda execution environments: each is the AWS Lambda Runtime Interface Emulator with
// the Node.js runtime interface client (aws-lambda-ric) under it, running the worker. Like a real
// execution environment, each takes one invocation at a time and stays warm between invocations;
// one that dies is replaced by a fresh (cold) one. An environment is either
// - a session of processes on this machine running the bundle (build/lambda/index.mjs; scripts/
//   setup-lambda.sh installs the emulator and the client and builds the bundle), killed and
//   replaced as a whole (process-session.ts), or
// - a container of the worker image that `cdk deploy` ships (`image`), with the emulator mounted
//   as its entry point, as AWS documents for testing images locally (scripts/docker.sh builds it).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { CONFIG, readSetting } from "../../common/config.js";
import { freePort, portOpen } from "../../common/net.js";
import { userCodeEnv } from "../../common/worker-env.js";
import { WorkQueue } from "../work-queue.js";
import { killSession } from "./process-session.js";

const PROJECT_ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

export interface EnvironmentPoolOptions {
  /** Execution environments, i.e. invocations at once. */
  environments: number;
  /** The function's configured environment variables (common/worker-env.ts's workerEnv, and any others). */
  functionEnv: Record<string, string>;
  functionName?: string;
  /** Where scripts/setup-lambda.sh put the bundle and the emulator (default: this project). */
  projectRoot?: string;
  /**
   * Run each environment in a container of this image (the worker image, e.g.
   * beam-lambda/worker:dev) instead of a process group on this machine. The container shares the
   * host's network, so the function reaches what the emulator's host reaches (LocalStack).
   */
  image?: string;
  /** The Docker client for `image` (default: $DOCKER, else `docker`). */
  docker?: string;
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
  /** The emulator, or for a container the `docker run` client attached to it. */
  process?: ChildProcess;
  /** The container's name, for environments in containers. */
  container?: string;
  client?: LambdaClient;
  /** A label of the invocation running here (the backend's job id), for kills. */
  busy?: { label: string };
  /** Killed or exited: it takes no more invocations (Lambda would start a fresh environment). */
  dead = false;
  ready: Promise<void> = Promise.resolve();
}

/** The paths setup-lambda.sh fills; a clear error names the script when one is missing. */
export function lambdaArtifacts(root = PROJECT_ROOT, forImage = false): { rie: string; ric: string; bundleDir: string } {
  const artifacts = {
    rie: join(root, ".cache/lambda/bin/aws-lambda-rie"),
    ric: join(root, ".cache/lambda/ric/node_modules/aws-lambda-ric/bin/index.mjs"),
    bundleDir: join(root, "build/lambda"),
  };
  // An image brings its own client and bundle; only the emulator is mounted into it.
  const needed = forImage ? [artifacts.rie] : [artifacts.rie, artifacts.ric, join(artifacts.bundleDir, "index.mjs")];
  for (const path of needed) {
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
  /** Invocations, one per free environment; `label` (the backend's job id) lets `kill` find them. */
  private readonly invocations: WorkQueue<{ payload: Buffer; label: string }, InvocationOutcome>;
  private readonly artifacts: ReturnType<typeof lambdaArtifacts>;
  private readonly docker: string;
  private started = 0;

  constructor(private readonly options: EnvironmentPoolOptions) {
    this.invocations = new WorkQueue({
      owner: "the emulated environments",
      limit: options.environments,
      jobOf: (invocation) => invocation.label,
      start: (invocation) => this.startInFreeEnvironment(invocation.payload, invocation.label),
      stopJob: (label) => {
        for (const env of this.environments) if (env.busy?.label === label) this.stop(env);
      },
      failure: (error) => failedInvocation(error, 0),
    });
    this.artifacts = lambdaArtifacts(options.projectRoot, options.image !== undefined);
    this.docker = options.docker ?? process.env.DOCKER ?? "docker";
    for (let i = 0; i < options.environments; i++) this.environments.push(this.start());
  }

  get size(): number {
    return this.options.environments;
  }

  /** Process ids of the emulators (the handler runs in a child of one), for tests. */
  emulatorPids(): number[] {
    return this.environments.map((e) => e.process?.pid ?? 0);
  }

  /** Process ids of the emulators of environments running an invocation now (each leads its environment's process group), for fault tests. */
  busyEmulatorPids(): number[] {
    return this.environments.filter((e) => e.busy && !e.dead && e.process?.pid).map((e) => e.process!.pid!);
  }

  /** Environments running an invocation now. */
  get busy(): number {
    return this.environments.filter((e) => e.busy).length;
  }

  private start(): Environment {
    const env = new Environment();
    env.ready = (async () => {
      const [api, invoke] = await Promise.all([freePort(), freePort()]);
      const emulatorArgs = ["--runtime-api-address", `127.0.0.1:${api}`, "--runtime-interface-emulator-address", `127.0.0.1:${invoke}`];
      const functionName = this.options.functionName ?? "beam-lambda-worker";
      const child = this.options.image ? this.spawnContainer(env, emulatorArgs, functionName) : this.spawnProcess(emulatorArgs, functionName);
      env.process = child;
      child.on("exit", () => {
        env.dead = true;
        // An environment goes as a whole: its runtime must not finish and report the task after its emulator died.
        if (!env.container && child.pid) killSession(child.pid);
        this.replace(env);
      });
      env.client = new LambdaClient({
        endpoint: `http://127.0.0.1:${invoke}`,
        region: "us-east-1",
        credentials: { accessKeyId: "emulator", secretAccessKey: "emulator" },
        maxAttempts: 1,
      });
      // A container's first start also creates its writable layer: allow more.
      await waitForPort(invoke, child, this.options.image ? 60_000 : 30_000);
    })();
    env.ready.catch(() => undefined);
    return env;
  }

  /** The emulator on this machine, running the bundle with aws-lambda-ric under this Node. */
  private spawnProcess(emulatorArgs: string[], functionName: string): ChildProcess {
    return spawn(this.artifacts.rie, [...emulatorArgs, process.execPath, this.artifacts.ric, "index.handler"], {
      cwd: this.artifacts.bundleDir,
      env: {
        ...userCodeEnv(process.env),
        LAMBDA_TASK_ROOT: this.artifacts.bundleDir,
        AWS_LAMBDA_FUNCTION_TIMEOUT: "900",
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        // Beside the bundle, as in the image (scripts/bundle-worker.sh puts it there).
        [CONFIG.groupingWasm.name]: join(this.artifacts.bundleDir, "grouping.wasm"),
        ...this.options.functionEnv,
      },
      // Its own session, which the runtime and harness stay in (in a process group of their own): a kill takes the session.
      detached: true,
      // The emulator logs every invocation; BEAM_LAMBDA_VERBOSE shows it.
      stdio: ["ignore", "ignore", readSetting("verbose") ? "inherit" : "ignore"],
    });
  }

  /**
   * A container of the worker image with the emulator mounted as its entry point, running the
   * image's own command line (aws-lambda-ric and the bundle in /var/task). It gets what a deployed
   * function gets: the function's environment variables, and the AWS settings (region,
   * credentials, endpoints) that a role and the Lambda service would give it, here taken from this
   * process's AWS_* variables. `docker run` stays attached, so its exit is the container's.
   */
  private spawnContainer(env: Environment, emulatorArgs: string[], functionName: string): ChildProcess {
    env.container = `beam-lambda-env-${process.pid}-${++this.started}`;
    const variables: Record<string, string> = {
      ...Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith("AWS_") && !k.startsWith("AWS_LAMBDA_") && v !== undefined)) as Record<string, string>,
      AWS_LAMBDA_FUNCTION_TIMEOUT: "900",
      AWS_LAMBDA_FUNCTION_NAME: functionName,
      ...this.options.functionEnv,
    };
    // `-e NAME` takes the value from the client's environment: no credentials on a command line.
    const args = ["run", "--rm", "--name", env.container, "--network", "host", "--label", `beam-lambda.pool=${process.pid}`];
    for (const name of Object.keys(variables)) args.push("-e", name);
    args.push("-v", `${this.artifacts.rie}:/usr/local/bin/aws-lambda-rie:ro`, "--entrypoint", "/usr/local/bin/aws-lambda-rie");
    args.push(this.options.image!, ...emulatorArgs, "node", "/opt/ric/node_modules/aws-lambda-ric/bin/index.mjs", "index.handler");
    return spawn(this.docker, args, {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...variables },
      stdio: ["ignore", "ignore", readSetting("verbose") ? "inherit" : "ignore"],
    });
  }

  /** An environment whose emulator died (or was killed) is replaced by a fresh one. */
  private replace(env: Environment): void {
    const index = this.environments.indexOf(env);
    if (index < 0 || this.invocations.closed) return;
    this.environments[index] = this.start();
    void this.environments[index].ready.then(() => this.invocations.pump());
  }

  /** Runs one invocation in the next free environment; `label` lets `kill` find it. */
  invoke(payload: Buffer, label = ""): Promise<InvocationOutcome> {
    return this.invocations.submit({ payload, label });
  }

  private startInFreeEnvironment(payload: Buffer, label: string): Promise<InvocationOutcome> | undefined {
    const env = this.environments.find((e) => !e.busy && !e.dead);
    if (!env) return undefined;
    env.busy = { label };
    return this.call(env, payload).finally(() => (env.busy = undefined));
  }

  private async call(env: Environment, payload: Buffer): Promise<InvocationOutcome> {
    try {
      await env.ready;
      const pid = env.process?.pid ?? 0;
      const response = await env.client!.send(new InvokeCommand({ FunctionName: "function", Payload: payload }));
      const body = Buffer.from(response.Payload ?? new Uint8Array());
      return { payload: body, emulatorPid: pid, ...(response.FunctionError && { functionError: response.FunctionError }) };
    } catch (e) {
      // The environment died under the invocation (or never started), as Lambda reports it. It
      // takes no further invocation, even before its exit is seen: it is discarded and replaced.
      this.stop(env);
      if (!env.process) this.replace(env);
      return failedInvocation(`Runtime exited with error: ${(e as Error).message}`, env.process?.pid ?? 0);
    }
  }

  /** Fails the invocations with `label` with `cancelled`, queued or running, and kills the environments running one. */
  kill(label: string, cancelled: string): void {
    this.invocations.cancelJob(label, cancelled);
  }

  /** Kills every busy environment (its emulator, runtime and harness, or its container), for fault tests. */
  killBusy(): number[] {
    const killed = this.environments.filter((e) => e.busy).map((e) => e.process?.pid ?? 0);
    for (const env of this.environments) if (env.busy) this.stop(env);
    return killed;
  }

  /** Names of the environments' containers (none unless `image` is set). */
  containers(): string[] {
    return this.environments.flatMap((e) => (e.container ? [e.container] : []));
  }

  /** Kills an environment at once, as Lambda does at a timeout; its exit starts a replacement. */
  private stop(env: Environment): void {
    env.dead = true;
    if (!env.container) {
      if (env.process?.pid) killSession(env.process.pid);
      return;
    }
    // Killing the attached client would leave the container running: kill the container.
    execFile(this.docker, ["kill", env.container], () => undefined);
  }

  async close(): Promise<void> {
    await this.invocations.close(async () => {
      await Promise.all(
        this.environments.map(async (env) => {
          await env.ready.catch(() => undefined);
          const child = env.process;
          if (!child || child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise<void>((r) => child.once("exit", () => r()));
          this.stop(env);
          await exited;
        }),
      );
    });
  }
}

function failedInvocation(message: string, emulatorPid: number): InvocationOutcome {
  return { payload: Buffer.from(JSON.stringify({ errorType: "Runtime.ExitError", errorMessage: message })), functionError: "Unhandled", emulatorPid };
}
