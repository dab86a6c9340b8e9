// beam-lambda: `job-server` serves Beam's job endpoint; `run` runs a Python pipeline file
// against an embedded job server and stops it afterwards.
// Each command imports what only it runs (the Lambda service emulator, the Fargate actor host,
// the executor's handler) when it runs, so that the job server with its default local backend
// loads none of the AWS SDK's Lambda, SQS or ECS clients.
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { LocalActorHost } from "../actors/local-actor-host.js";
import { BACKEND_NAMES, type BackendName, type FlagValues, backendDefinition, isBackendName } from "../backends/index.js";
import { CONFIG, readSetting } from "../common/config.js";
import { workerEnv } from "../common/worker-env.js";
import { JobServer, defaultPython, isLoopback, readTokenFile } from "../driver/index.js";
import { DEFAULT_MERGE, DEFAULT_SMALL_INPUT } from "../driver/scheduler/index.js";

const BACKEND_USAGE = BACKEND_NAMES.flatMap((name) => backendDefinition(name).flags?.usage ?? []).join("\n");

const USAGE = `usage:
  beam-lambda job-server [--host 127.0.0.1] [--port 8099] [--workers N] [--partitions N] [--store DIR|s3://BUCKET/PREFIX]
                         [--merge-threshold N] [--merge-factor F] [--no-pipelining] [--compress-shuffle]
                         [--split-threshold ELEMENTS]  (smaller inputs, also under 1 MiB, run as one task; default 1000, 0 always splits)
                         [--backend ${BACKEND_NAMES.join("|")}] [--no-speculation]
                         [--auth-token-file FILE] [--tls-cert PEM --tls-key PEM] [--allow-unauthenticated]
      a --host other than loopback needs --auth-token-file (tokens, one per line; callers send
      'authorization: Bearer TOKEN' and see only their token's jobs), or --allow-unauthenticated
                         [--max-prepared-jobs 1000] [--prepared-job-timeout SECONDS] [--job-retention SECONDS] (both 3600)
                         [--max-running-jobs N] (default 2 per worker, at least 4; later jobs wait) [--max-queued-jobs 1000]
                         [--max-message-mb 64] [--staging-idle-timeout SECONDS] (60)
                         [--worker-pool-timeout SECONDS]  (60: a LOOPBACK/EXTERNAL worker pool out of reach this long fails its job)
      with --store, jobs are journaled in the store: a job server started again on it resumes unfinished jobs
${BACKEND_USAGE}
  beam-lambda lambda-emulator --store s3://BUCKET/PREFIX [--port 9001] [--environments N] [--function-name beam-lambda-worker]
                         [--on-failure-queue-url URL] [--maximum-retry-attempts 0] [--image beam-lambda/worker:dev]
      serves Lambda's Invoke API for the bundled worker in emulated environments (AWS_ENDPOINT_URL_LAMBDA points here);
      with --image, each environment is a container of the worker image (bash scripts/docker.sh build makes it)
      executors, for stages whose min_ram resource hint is over Lambda's memory (Fargate settings from BEAM_LAMBDA_EXECUTOR_*):
                         [--executors N] [--executor-host local|fargate] [--executor-memory-limit MB]
  beam-lambda executor [--host 127.0.0.1] [--port 8100]
      serves the worker handler over HTTP (BEAM_LAMBDA_STORE names the store): an executor actor
  beam-lambda run [job-server flags...] PIPELINE.py [pipeline args...]
      runs the pipeline on an embedded job server (any job-server flag above, e.g. --backend aws --aws-config aws.json)`;

/**
 * Resolves on SIGINT or SIGTERM: the long-running commands stop cleanly then. Call it before
 * printing that the command is ready, so that a signal sent on reading that line finds the handler.
 */
function untilSignalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "job-server") return jobServer(rest);
  if (command === "run") return run(rest);
  if (command === "lambda-emulator") return lambdaEmulator(rest);
  if (command === "executor") return executor(rest);
  process.stderr.write(`${USAGE}\n`);
  return command === "--help" || command === "-h" ? 0 : 2;
}

async function serverOptions(values: FlagValues) {
  const int = (name: string): number | undefined => {
    const v = values[name];
    if (v === undefined || typeof v === "boolean") return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got '${v}'`);
    return n;
  };
  const threshold = int("merge-threshold");
  const factor = int("merge-factor");
  const merge = threshold !== undefined || factor !== undefined ? { ...DEFAULT_MERGE, ...(threshold !== undefined && { threshold }), ...(factor !== undefined && { factor }) } : undefined;
  if (merge && merge.factor < 2) throw new Error("--merge-factor must be at least 2");
  const backend = backendOf(values.backend);
  const tokenFile = (values["auth-token-file"] as string | undefined) ?? readSetting("authTokenFile");
  const [certFile, keyFile] = [values["tls-cert"], values["tls-key"]] as (string | undefined)[];
  if (Boolean(certFile) !== Boolean(keyFile)) throw new Error("--tls-cert and --tls-key go together");
  return {
    host: values.host as string | undefined,
    ...(tokenFile && { authTokens: readTokenFile(tokenFile) }),
    ...(certFile && keyFile && { tls: { certFile, keyFile } }),
    ...(values["allow-unauthenticated"] && { allowUnauthenticated: true }),
    port: int("port"),
    workers: int("workers"),
    partitions: int("partitions"),
    // --store takes a directory, or a store URL such as s3://bucket/prefix?spread=8.
    ...(typeof values.store === "string" && values.store.includes("://") ? { storeUrl: values.store } : { storeDir: values.store as string | undefined }),
    merge,
    pipelining: values["no-pipelining"] ? false : undefined,
    ...(int("split-threshold") !== undefined && { smallInput: { ...DEFAULT_SMALL_INPUT, elements: int("split-threshold")! } }),
    compressShuffle: values["compress-shuffle"] === true,
    backend,
    ...(backend && backendDefinition(backend).configsFromFlags?.(values)),
    ...(values["no-speculation"] && { speculation: false as const }),
    executors: await executorsOf(values, int),
    jobs: {
      ...(int("max-prepared-jobs") !== undefined && { maxPreparedJobs: int("max-prepared-jobs") }),
      ...(int("prepared-job-timeout") !== undefined && { preparedJobTimeoutMs: int("prepared-job-timeout")! * 1000 }),
      ...(int("job-retention") !== undefined && { finishedJobRetentionMs: int("job-retention")! * 1000 }),
    },
    maxRunningJobs: int("max-running-jobs"),
    maxQueuedJobs: int("max-queued-jobs"),
    ...(int("max-message-mb") !== undefined && { maxReceiveMessageBytes: int("max-message-mb")! * 1024 * 1024 }),
    ...(int("staging-idle-timeout") !== undefined && { stagingIdleTimeoutMs: int("staging-idle-timeout")! * 1000 }),
    ...(int("worker-pool-timeout") !== undefined && { workerPoolTimeoutMs: int("worker-pool-timeout")! * 1000 }),
  };
}

/** Executor actors: on with --executors N, or in the CDK stack (BEAM_LAMBDA_EXECUTOR_CLUSTER set). */
async function executorsOf(values: FlagValues, int: (name: string) => number | undefined) {
  const inStack = Boolean(readSetting("executorCluster"));
  const count = int("executors") ?? (inStack ? 4 : 0);
  if (count === 0) return undefined;
  const kind = (values["executor-host"] as string | undefined) ?? (inStack ? "fargate" : "local");
  const limitMb = int("executor-memory-limit");
  const memoryLimitBytes = limitMb === undefined ? undefined : limitMb * 1024 * 1024;
  if (kind === "local") return { host: new LocalActorHost(), count, memoryLimitBytes };
  if (kind !== "fargate") throw new Error(`--executor-host must be 'local' or 'fargate', got '${kind}'`);
  const need = <K extends "executorCluster" | "executorTaskDefinition" | "executorSubnets" | "executorSecurityGroups">(key: K) => {
    const v = readSetting(key);
    if (!v) throw new Error(`--executor-host fargate needs ${CONFIG[key].name} (the CDK stack sets it on the job server)`);
    return v as NonNullable<typeof v>;
  };
  const { FargateActorHost } = await import("../actors/fargate-actor-host.js");
  const host = new FargateActorHost({
    cluster: need("executorCluster"),
    taskDefinition: need("executorTaskDefinition"),
    containerName: readSetting("executorContainer"),
    subnets: need("executorSubnets"),
    securityGroups: need("executorSecurityGroups"),
  });
  return { host, count, memoryLimitBytes, port: 8100 };
}

async function executor(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "8100" } } });
  const { startExecutorServer } = await import("../worker/executor-server.js");
  const server = await startExecutorServer(values.host, Number(values.port));
  const signalled = untilSignalled();
  process.stdout.write(`beam-lambda executor listening on ${server.address}\n`);
  await signalled;
  await server.close();
  return 0;
}

function backendOf(v: string | boolean | undefined): BackendName | undefined {
  if (v === undefined) return undefined;
  if (isBackendName(v)) return v;
  const names = BACKEND_NAMES.map((name) => `'${name}'`);
  throw new Error(`--backend must be ${names.slice(0, -1).join(", ")} or ${names.at(-1)}, got '${String(v)}'`);
}

/** The job server's flags: its own, then each backend's. */
const SERVER_FLAGS: Record<string, { type: "string" | "boolean" }> = {
  backend: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  "auth-token-file": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "allow-unauthenticated": { type: "boolean" },
  workers: { type: "string" },
  partitions: { type: "string" },
  store: { type: "string" },
  "merge-threshold": { type: "string" },
  "merge-factor": { type: "string" },
  "no-pipelining": { type: "boolean" },
  "split-threshold": { type: "string" },
  "compress-shuffle": { type: "boolean" },
  "no-speculation": { type: "boolean" },
  executors: { type: "string" },
  "executor-host": { type: "string" },
  "executor-memory-limit": { type: "string" },
  "max-prepared-jobs": { type: "string" },
  "max-running-jobs": { type: "string" },
  "max-queued-jobs": { type: "string" },
  "prepared-job-timeout": { type: "string" },
  "job-retention": { type: "string" },
  "max-message-mb": { type: "string" },
  "staging-idle-timeout": { type: "string" },
  "worker-pool-timeout": { type: "string" },
  ...(Object.assign({}, ...BACKEND_NAMES.map((name) => backendDefinition(name).flags?.options)) as Record<string, { type: "string" | "boolean" }>),
};

async function lambdaEmulator(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "9001" },
      environments: { type: "string", default: "2" },
      store: { type: "string" },
      "function-name": { type: "string", default: "beam-lambda-worker" },
      "on-failure-queue-url": { type: "string" },
      "maximum-retry-attempts": { type: "string", default: "0" },
      image: { type: "string" },
    },
  });
  if (!values.store) throw new Error("lambda-emulator needs --store s3://BUCKET/PREFIX (the function's BEAM_LAMBDA_STORE)");
  const { LambdaServiceEmulator } = await import("../backends/lambda-emulator/lambda-service.js");
  const service = await LambdaServiceEmulator.start({
    port: Number(values.port),
    environments: Number(values.environments),
    functionName: values["function-name"],
    // An image brings its own Python; the bundle on this machine uses the project's.
    functionEnv: workerEnv({ storeUrl: values.store, python: values.image ? undefined : defaultPython() }),
    ...(values.image && { image: values.image }),
    onFailureQueueUrl: values["on-failure-queue-url"],
    maximumRetryAttempts: Number(values["maximum-retry-attempts"]),
  });
  const signalled = untilSignalled();
  process.stdout.write(`Lambda Invoke API for ${values["function-name"]} on ${service.endpoint} (export AWS_ENDPOINT_URL_LAMBDA=${service.endpoint})\n`);
  await signalled;
  await service.close();
  return 0;
}

async function jobServer(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: SERVER_FLAGS });
  const options = await serverOptions(values);
  const server = await JobServer.start(options);
  if (!isLoopback(options.host ?? "127.0.0.1") && !options.tls) {
    process.stderr.write(
      `beam-lambda: warning: serving ${options.host} without TLS: bearer tokens and pipelines travel in the clear (--tls-cert/--tls-key, unless a TLS proxy fronts this server)\n`,
    );
  }
  const signalled = untilSignalled();
  process.stdout.write(`beam-lambda job server listening on ${server.address}\n`);
  await signalled;
  await server.stop();
  return 0;
}

async function run(args: string[]): Promise<number> {
  // The job server's flags come first; the pipeline file ends them, and what follows is the pipeline's.
  const fileAt = args.findIndex((a, i) => !a.startsWith("-") && !isFlagValue(args, i));
  const [file, ...pipelineArgs] = fileAt < 0 ? [] : args.slice(fileAt);
  if (!file) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const { values } = parseArgs({ args: args.slice(0, fileAt), options: SERVER_FLAGS });
  const server = await JobServer.start({ ...(await serverOptions(values)), port: 0 });
  try {
    const child = spawn(defaultPython(), [file, "--runner=PortableRunner", `--job_endpoint=${server.address}`, ...pipelineArgs], {
      stdio: "inherit",
    });
    return await new Promise<number>((resolve) => {
      child.on("exit", (code) => resolve(code ?? 1));
      // No Python to run the pipeline with (ENOENT): said plainly, not as a crash.
      child.on("error", (e) => {
        process.stderr.write(`beam-lambda: cannot run ${file} with ${defaultPython()}: ${e.message}\n`);
        resolve(1);
      });
    });
  } finally {
    await server.stop();
  }
}

/** Whether args[i] is the value of the string-valued server flag before it (`--backend aws`). */
function isFlagValue(args: string[], i: number): boolean {
  const flag = i > 0 ? args[i - 1]! : "";
  if (!flag.startsWith("--") || flag.includes("=")) return false;
  return SERVER_FLAGS[flag.slice(2)]?.type === "string";
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`beam-lambda: ${e.message}\n`);
    process.exit(1);
  },
);
