// Starting and keeping SDK harnesses. A harness serves one job's environment and stays warm
// between tasks (and, on Lambda, between invocations of the same execution environment).
import type { ChildProcess } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { BeamFnExternalWorkerPoolClient } from "apache-beam/proto/beam_fn_api.grpc-client";
import type { StartWorkerResponse } from "apache-beam/proto/beam_fn_api";
import { Struct } from "apache-beam/proto/google/protobuf/struct";
import type { JsonObject } from "@protobuf-ts/runtime";
import { readSetting } from "../common/config.js";
import type { EnvironmentSpec } from "../common/task-spec.js";
import type { ObjectStore } from "../store/index.js";
import type { FnApiServer } from "./fn-api-server.js";
import { type HarnessConnection, HarnessError, HarnessLostError, WorkerPoolUnreachableError } from "./harness-connection.js";
import { harnessDirectory } from "./harness-directories.js";
import { installStagedDependencies } from "./python-dependencies.js";
import { redactSecrets } from "../common/redact.js";
import { harnessEnvironmentLine } from "./harness-boot.js";
import type { SpareInterpreters } from "./spare-interpreters.js";

const HARNESS_START_TIMEOUT_MS = 120_000;
/** A worker pool that does not answer StartWorker by then (a host that drops packets) counts as unreachable. */
const START_WORKER_DEADLINE_MS = 30_000;

export interface HarnessOptions {
  /** Python interpreter with apache-beam installed, for python-process environments. */
  python: string;
  /** Where interpreters come from: started ahead, Beam imported, for the interpreters a worker keeps. */
  interpreters: SpareInterpreters;
}

export interface SdkHarness {
  readonly connection: HarnessConnection;
  stop(): Promise<void>;
}

let harnessCounter = 0;

export async function startHarness(
  server: FnApiServer,
  env: EnvironmentSpec,
  job: { jobId: string; pipelineOptionsJson: string; artifactPrefix: string },
  store: ObjectStore,
  options: HarnessOptions,
): Promise<SdkHarness> {
  const workerId = `w${process.pid}-${++harnessCounter}`;
  const connection = server.connectionFor(workerId);
  const endpoint = { url: server.address };
  server.setProvisionInfo(workerId, {
    pipelineOptions: Struct.fromJson(JSON.parse(job.pipelineOptionsJson) as JsonObject),
    retrievalToken: job.jobId,
    controlEndpoint: endpoint,
    loggingEndpoint: endpoint,
    artifactEndpoint: undefined,
    statusEndpoint: undefined,
    dependencies: [],
    runnerCapabilities: [],
    metadata: {},
    siblingWorkerIds: [],
  });
  const harness =
    env.kind === "external"
      ? await startExternal(server, workerId, env.address!)
      : await startPythonProcess(server, workerId, job, store, options, env);
  const timeout = setTimeout(
    () => connection.close(new HarnessLostError(`the SDK harness ${workerId} did not connect within ${HARNESS_START_TIMEOUT_MS / 1000}s`)),
    HARNESS_START_TIMEOUT_MS,
  );
  try {
    await connection.ready;
  } finally {
    clearTimeout(timeout);
  }
  return harness;
}

async function startExternal(server: FnApiServer, workerId: string, address: string): Promise<SdkHarness> {
  const client = new BeamFnExternalWorkerPoolClient(address, grpc.credentials.createInsecure());
  const endpoint = { url: server.address };
  try {
    const response = await new Promise<StartWorkerResponse>((resolve, reject) =>
      client.startWorker(
        { workerId, controlEndpoint: endpoint, loggingEndpoint: endpoint, artifactEndpoint: endpoint, provisionEndpoint: endpoint, params: {} },
        new grpc.Metadata(),
        { deadline: Date.now() + START_WORKER_DEADLINE_MS },
        (err, res) => (err ? reject(err) : resolve(res!)),
      ),
    );
    if (response.error) throw new HarnessError(`the SDK worker pool at ${address} could not start a worker: ${response.error}`);
  } catch (e) {
    if (e instanceof HarnessError) throw e;
    const detail = (e as Error).message;
    throw new WorkerPoolUnreachableError(address, `cannot reach the SDK worker pool at ${address} (LOOPBACK/EXTERNAL environment): ${detail}`, { cause: e });
  } finally {
    client.close();
  }
  const connection = server.connectionFor(workerId);
  return {
    connection,
    async stop() {
      server.forget(workerId);
    },
  };
}

async function startPythonProcess(
  server: FnApiServer,
  workerId: string,
  job: { jobId: string; pipelineOptionsJson: string; artifactPrefix: string },
  store: ObjectStore,
  options: HarnessOptions,
  env: EnvironmentSpec,
): Promise<SdkHarness> {
  const semiPersistentDir = harnessDirectory(workerId);
  const stagedDir = join(semiPersistentDir, "staged");
  await stageArtifacts(store, job.artifactPrefix, stagedDir);
  // A PROCESS environment's own command sets itself up; our interpreter gets what was staged.
  let python = env.command;
  if (!python) {
    try {
      python = await installStagedDependencies(options.python, stagedDir, semiPersistentDir);
    } catch (e) {
      server.forget(workerId);
      await rm(semiPersistentDir, { recursive: true, force: true });
      throw new HarnessError((e as Error).message);
    }
  }
  const descriptor = `url: "${server.address}"`;
  // An interpreter of the user-code environment (common/worker-env.ts) that has imported Beam or
  // soon will; it becomes this harness on reading these variables (harness-boot.ts).
  const child: ChildProcess = options.interpreters.take(python);
  child.stdin!.end(
    harnessEnvironmentLine({
      CONTROL_API_SERVICE_DESCRIPTOR: descriptor,
      LOGGING_API_SERVICE_DESCRIPTOR: descriptor,
      PIPELINE_OPTIONS: job.pipelineOptionsJson,
      SEMI_PERSISTENT_DIRECTORY: semiPersistentDir,
      WORKER_ID: workerId,
      RUNNER_CAPABILITIES: "",
      JOB_ID: job.jobId,
    }),
  );
  const stderr: string[] = [];
  child.stderr!.on("data", (chunk: Buffer) => {
    const text = redactSecrets(chunk.toString());
    stderr.push(text);
    if (stderr.length > 200) stderr.shift();
    if (readSetting("harnessLogs")) process.stderr.write(text);
  });
  const connection = server.connectionFor(workerId);
  child.on("exit", (code, signal) => {
    const tail = stderr.join("").split("\n").slice(-30).join("\n");
    // Killed by a signal (SIGKILL by the OOM killer or an operator) is a lost harness; exiting
    // with a code is the harness's own doing (a failing import, say) and may well repeat.
    const error = signal ? HarnessLostError : HarnessError;
    connection.close(new error(`the Python SDK harness exited (code ${code}, signal ${signal}):\n${tail}`));
  });
  child.on("error", (e) => connection.close(new HarnessError(`cannot start the Python SDK harness '${options.python}': ${e.message}`)));
  return {
    connection,
    async stop() {
      server.forget(workerId);
      await stopProcess(child);
      await rm(semiPersistentDir, { recursive: true, force: true });
    },
  };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const killLater = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(killLater);
}

/** The harness loads staged files (e.g. the pickled main session) from SEMI_PERSISTENT_DIRECTORY/staged. */
async function stageArtifacts(store: ObjectStore, prefix: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const key of await store.list(prefix)) {
    const name = key.slice(prefix.length).replace(/^\/+/, "");
    if (!name || name.includes("/")) continue;
    await writeFile(join(dir, name), await store.get(key));
  }
}
