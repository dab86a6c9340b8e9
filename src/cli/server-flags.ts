// The job server's flags (`job-server`, and `run`, which embeds a job server): one table that
// both help and parsing come from, and the JobServerOptions they make.
import { Option } from "commander";
import { LocalActorHost } from "../actors/local-actor-host.js";
import { BACKEND_NAMES, type BackendName, type FlagSpec, type FlagValues, backendDefinition, isBackendName } from "../backends/index.js";
import { CONFIG, readSetting } from "../common/config.js";
import { type JobServerOptions, readTokenFile } from "../driver/index.js";
import { DEFAULT_MERGE, DEFAULT_SMALL_INPUT } from "../driver/scheduler/index.js";

/** The job UI's port when --ui-port is not given. */
export const DEFAULT_UI_PORT = 8098;

/** The job server's own flags, in the order help lists them. */
export const SERVER_FLAGS: FlagSpec[] = [
  { name: "host", value: "HOST", description: "address to bind (default 127.0.0.1); any other needs --auth-token-file or --allow-unauthenticated" },
  { name: "port", value: "PORT", description: "the job endpoint's port (default 8099)" },
  { name: "ui-port", value: "PORT", description: "the job UI's port on --host (default 8098; when taken, the server runs without it)" },
  { name: "no-ui", description: "no job UI" },
  { name: "backend", value: "NAME", description: `where tasks run: ${BACKEND_NAMES.join(", ")} (default local)` },
  { name: "workers", value: "N", description: "worker processes, or Lambda invocations at once (default: one per core)" },
  { name: "partitions", value: "N", description: "partitions per shuffle (default: 2 per worker)" },
  { name: "store", value: "DIR|URL", description: "object store: a directory or s3://BUCKET/PREFIX; jobs are journaled in it and resumed by a server started on it" },
  { name: "auth-token-file", value: "FILE", description: "bearer tokens, one per line; callers see only their token's jobs" },
  { name: "tls-cert", value: "PEM", description: "certificate chain (with --tls-key): serve TLS" },
  { name: "tls-key", value: "PEM", description: "private key of --tls-cert" },
  { name: "allow-unauthenticated", description: "serve a non-loopback --host without tokens (a network only trusted clients reach)" },
  { name: "merge-threshold", value: "N", description: "map outputs per partition before a push merge starts" },
  { name: "merge-factor", value: "F", description: "map outputs one merge task reads (at least 2)" },
  { name: "no-pipelining", description: "start consumer tasks only once their input is complete" },
  { name: "split-threshold", value: "ELEMENTS", description: "smaller inputs (also under 1 MiB) run as one task (default 1000; 0 always splits)" },
  { name: "compress-shuffle", description: "gzip shuffle partitions" },
  { name: "no-speculation", description: "no speculative copies of straggling tasks" },
  { name: "executors", value: "N", description: "executor actors for stages whose min_ram hint is over Lambda's memory" },
  { name: "executor-host", value: "local|fargate", description: "where executors run (Fargate settings from BEAM_LAMBDA_EXECUTOR_*)" },
  { name: "executor-memory-limit", value: "MB", description: "min_ram above this runs on an executor (default Lambda's 10240)" },
  { name: "max-prepared-jobs", value: "N", description: "prepared jobs waiting for Run (default 1000)" },
  { name: "prepared-job-timeout", value: "SECONDS", description: "a prepared job not run this long is released (default 3600)" },
  { name: "job-retention", value: "SECONDS", description: "a finished job is kept this long (default 3600)" },
  { name: "max-running-jobs", value: "N", description: "jobs running at once (default 2 per worker, at least 4); later jobs wait" },
  { name: "max-queued-jobs", value: "N", description: "jobs waiting to run (default 1000); Run beyond it is refused" },
  { name: "max-message-mb", value: "MB", description: "the largest gRPC message accepted (default 64)" },
  { name: "staging-idle-timeout", value: "SECONDS", description: "an artifact stream silent this long fails (default 60)" },
  { name: "worker-pool-timeout", value: "SECONDS", description: "a LOOPBACK/EXTERNAL worker pool out of reach this long fails its job (default 60)" },
];

/** The server's flags and every backend's, as commander options (each backend's in its own help group). */
export function serverOptionsFor(): Option[] {
  const backendFlags = BACKEND_NAMES.flatMap((name) => (backendDefinition(name).flags ?? []).map((f) => ({ ...f, description: `${f.description} (--backend ${name})` })));
  return [...SERVER_FLAGS, ...backendFlags].map((f) => {
    const option = new Option(f.value ? `--${f.name} <${f.value}>` : `--${f.name}`, f.description);
    if (f.name === "backend") option.choices(BACKEND_NAMES);
    return option;
  });
}

/**
 * Commander's parsed options keyed by flag name again (`merge-threshold`, `no-pipelining`), as
 * the backends' config readers take them.
 */
export function flagValuesOf(options: readonly Option[], parsed: Record<string, unknown>): FlagValues {
  const values: FlagValues = {};
  for (const option of options) {
    const value = parsed[option.attributeName()];
    const name = option.long!.slice(2);
    // Commander turns `--no-x` into `x: false`; the table names the switch itself.
    if (option.negate) values[name] = value === false ? true : undefined;
    else values[name] = value as string | boolean | undefined;
  }
  return values;
}

/** JobServerOptions from the flags' values. */
export async function serverOptions(values: FlagValues): Promise<JobServerOptions> {
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
    ...(!values["no-ui"] && { ui: { port: int("ui-port") ?? DEFAULT_UI_PORT, optional: int("ui-port") === undefined } }),
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

function backendOf(v: string | boolean | undefined): BackendName | undefined {
  if (v === undefined) return undefined;
  if (isBackendName(v)) return v;
  const names = BACKEND_NAMES.map((name) => `'${name}'`);
  throw new Error(`--backend must be ${names.slice(0, -1).join(", ")} or ${names.at(-1)}, got '${String(v)}'`);
}
