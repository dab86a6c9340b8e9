// Every BEAM_LAMBDA_* environment variable the runner reads, declared once: its name, which side
// reads it, what it sets, how its value is parsed and what an unset one means. Nothing is read
// when this module loads: `readSetting` parses the environment it is given (by default the
// process's, as it is now) when called, so a test or a launcher can set a variable before it
// starts the component that reads it. A component that must read a value once (the shuffle's
// buffer pool, the grouping kernel) reads it on first use and keeps it.
// docs/configuration.md's table is this one, rendered (test/common/config-docs.test.ts).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Which side of the runner reads a variable: the driver (job server, CLI), the worker, or both. */
export type ConfigReader = "driver" | "worker" | "both";

/** A kind of value: the values it takes and its default, in words for the docs, and its parsing. */
interface ValueKind<T> {
  readonly type: string;
  readonly defaultText: string;
  /** `raw` is the variable's value, undefined when it is unset; `label` names it in errors. */
  parse(raw: string | undefined, label: string): T;
}

export interface ConfigVariable<T = unknown> extends ValueKind<T> {
  readonly name: string;
  readonly readBy: ConfigReader;
  /** One line: what it sets. */
  readonly meaning: string;
}

// Relative to this file in src/common/, and to the worker's bundle in build/lambda/ alike.
const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The project's virtualenv (scripts/setup.sh makes it), else whatever python3 is on the PATH. */
function projectPython(): string {
  const venv = join(PROJECT_ROOT, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

/** Text as given (an empty value included); unset is undefined. */
function text(type: string, defaultText: string): ValueKind<string | undefined> {
  return { type, defaultText, parse: (raw) => raw };
}

/** Text as given (an empty value included); unset is `fallback()`, worked out when read. */
function textOr(type: string, defaultText: string, fallback: () => string): ValueKind<string> {
  return { type, defaultText, parse: (raw) => raw ?? fallback() };
}

/** Comma-separated values; unset or empty is undefined. */
function list(type: string): ValueKind<string[] | undefined> {
  return { type, defaultText: "unset", parse: (raw) => (raw ? raw.split(",") : undefined) };
}

/** One of `choices`; unset is the first. */
function oneOf<const T extends string>(choices: readonly [T, ...T[]]): ValueKind<T> {
  return {
    type: choices.join(" | "),
    defaultText: choices[0],
    parse(raw, label) {
      if (raw === undefined || raw === "") return choices[0];
      if (!(choices as readonly string[]).includes(raw)) throw new Error(`${label} must be ${choices.join(", ")}, got '${raw}'`);
      return raw as T;
    },
  };
}

/** On when set to anything but the empty string: "0" turns it on too, as it always has. */
const flag: ValueKind<boolean> = { type: "flag (any non-empty value turns it on)", defaultText: "off", parse: (raw) => Boolean(raw) };

/** A number `valid` accepts, read as JavaScript's Number() reads it, as these always were ("1e3" is 1000). */
function numeric(expected: string, valid: (n: number) => boolean, fallback: number, type: string): ValueKind<number> {
  return {
    type,
    defaultText: String(fallback),
    parse(raw, label) {
      if (raw === undefined) return fallback;
      const n = Number(raw);
      if (!valid(n)) throw new Error(`${label} must be ${expected}, got '${raw}'`);
      return n;
    },
  };
}

const positiveNumber = (fallback: number, unit: string) => numeric("a positive number", (n) => n > 0, fallback, `positive number (${unit})`);
const nonNegativeNumber = (fallback: number, unit: string) => numeric("a non-negative number", (n) => n >= 0, fallback, `non-negative number (${unit})`);
const integerAtLeast = (min: number, fallback: number, unit: string) =>
  numeric(`an integer of at least ${min}`, (n) => Number.isInteger(n) && n >= min, fallback, `integer ≥ ${min} (${unit})`);

/** `--backend aws`'s settings: a flag wins over the variable, which wins over the --aws-config file. */
const AWS = "`--backend aws`:";

/** Every variable, in the order the docs list them. */
export const CONFIG = {
  // --- The worker's contract (common/worker-env.ts) ---
  storeUrl: {
    name: "BEAM_LAMBDA_STORE",
    readBy: "both",
    meaning: "The object store workers open; with `--backend aws` also the driver's S3 store (`--store` wins).",
    ...text("store URL: a directory, or s3://BUCKET/PREFIX[?spread=N]", "none: a worker needs it"),
  },
  python: {
    name: "BEAM_LAMBDA_PYTHON",
    readBy: "both",
    meaning: "Python with apache-beam (the submitting SDK's version) for process harnesses; the driver asks it the SDK version and `beam-lambda run` runs the pipeline with it.",
    ...textOr("path or command", "the project's .venv/bin/python if present, else python3", projectPython),
  },
  // --- Who may call the job server ---
  authTokenFile: {
    name: "BEAM_LAMBDA_AUTH_TOKEN_FILE",
    readBy: "driver",
    meaning:
      "File of bearer tokens, one per line, the job server requires on every call (`authorization: Bearer <token>`); each token's callers see only their own jobs. `--auth-token-file` wins. Needed to serve a non-loopback `--host`.",
    ...text("path", "unset: no token, every caller sees every job (loopback binds only)"),
  },
  endpoint: {
    name: "BEAM_LAMBDA_ENDPOINT",
    readBy: "driver",
    meaning: "The job server `beam-lambda jobs`, `status`, `cancel` and `logs` ask (HOST:PORT). `--endpoint` wins.",
    ...text("host:port", "localhost:8099"),
  },
  harnessEnvKeep: {
    name: "BEAM_LAMBDA_HARNESS_ENV_KEEP",
    readBy: "both",
    meaning:
      "Variables that workers and SDK harnesses keep although their names look secret (`*TOKEN*`, `*PASSWORD*`, `*SECRET*`, `*API_KEY*`, which they otherwise do not get; AWS_* always pass). The job server's own (BEAM_LAMBDA_AUTH_TOKEN_FILE) never pass.",
    ...list("variable names, comma-separated"),
  },
  // --- Logging ---
  verbose: {
    name: "BEAM_LAMBDA_VERBOSE",
    readBy: "driver",
    meaning: "Copy the emulated Lambda environments' output to stderr. (Jobs' messages and state changes are always logged, at the levels BEAM_LAMBDA_LOG_LEVEL lets through.)",
    ...flag,
  },
  logFormat: {
    name: "BEAM_LAMBDA_LOG_FORMAT",
    readBy: "both",
    meaning: "The runner's own log lines on stderr (job server and workers): `text`, or `json` (one object per line, with job, stage, task and attempt ids as fields). `--log-format` sets it for a server and its workers.",
    ...oneOf(["text", "json"] as const),
  },
  logLevel: {
    name: "BEAM_LAMBDA_LOG_LEVEL",
    readBy: "both",
    meaning: "The least important log lines written: `info` (jobs' states and messages, every task attempt's end), `debug` (also attempt launches and detailed job messages), `warn`, `error`. `--log-level` sets it.",
    ...oneOf(["info", "debug", "warn", "error"] as const),
  },
  harnessLogs: {
    name: "BEAM_LAMBDA_HARNESS_LOGS",
    readBy: "worker",
    meaning: "Copy the SDK harnesses' log entries and stderr to the worker's stderr.",
    ...flag,
  },
  // --- The worker's shuffle ---
  shuffleMemoryMb: {
    name: "BEAM_LAMBDA_SHUFFLE_MEMORY_MB",
    readBy: "worker",
    meaning: "Shuffle data a task holds in memory (its outputs share it) before it spills sorted runs to local disk; read when the worker starts.",
    ...positiveNumber(256, "MiB"),
  },
  bufferPoolMb: {
    name: "BEAM_LAMBDA_BUFFER_POOL_MB",
    readBy: "worker",
    meaning: "Released shuffle buffers a process keeps for the next task (0 keeps none); read on first use.",
    ...nonNegativeNumber(512, "MiB"),
  },
  groupingWasm: {
    name: "BEAM_LAMBDA_GROUPING_WASM",
    readBy: "worker",
    meaning: "The WebAssembly grouping kernel; without the file, grouping runs in JavaScript, more slowly. Read on first use.",
    ...textOr("path", "build/wasm/grouping.wasm in the project", () => join(PROJECT_ROOT, "build", "wasm", "grouping.wasm")),
  },
  noSpareInterpreter: {
    name: "BEAM_LAMBDA_NO_SPARE_INTERPRETER",
    readBy: "worker",
    meaning:
      "Keep no Python interpreter waiting with Beam imported for the next SDK harness (it holds about 100 MB of its own per worker; without it a job that finds no warm harness waits about a second for one). Read when the worker starts.",
    ...flag,
  },
  // --- The worker's liveness ---
  taskNoProgressTimeoutMs: {
    name: "BEAM_LAMBDA_TASK_NO_PROGRESS_TIMEOUT_MS",
    readBy: "worker",
    meaning:
      "A bundle with no data or state traffic with its SDK harness for this long (a DoFn stuck in a call that never returns) has its harness stopped; the attempt counts as an infrastructure loss and is retried. Read when the worker starts.",
    ...positiveNumber(600_000, "milliseconds"),
  },
  // --- `--backend aws` (backends/aws/aws-config.ts) ---
  awsConfig: {
    name: "BEAM_LAMBDA_AWS_CONFIG",
    readBy: "driver",
    meaning: `${AWS} a JSON file of its settings (\`--aws-config\` wins).`,
    ...text("path", "unset"),
  },
  functionName: {
    name: "BEAM_LAMBDA_FUNCTION_NAME",
    readBy: "driver",
    meaning: `${AWS} the worker function (\`--function-name\` wins).`,
    ...text("function name or ARN", "none: `--backend aws` needs it"),
  },
  resultsQueueUrl: {
    name: "BEAM_LAMBDA_RESULTS_QUEUE_URL",
    readBy: "driver",
    meaning: `${AWS} the SQS queue workers send completions to (\`--results-queue-url\` wins).`,
    ...text("SQS queue URL", "none: `--backend aws` needs it"),
  },
  concurrency: {
    name: "BEAM_LAMBDA_CONCURRENCY",
    readBy: "driver",
    meaning: `${AWS} invocations in flight, at most the function's reserved concurrency (\`--workers\` wins).`,
    ...integerAtLeast(1, 100, "invocations"),
  },
  taskTimeoutSeconds: {
    name: "BEAM_LAMBDA_TASK_TIMEOUT_SECONDS",
    readBy: "driver",
    meaning: `${AWS} the function's timeout; an attempt unheard of for this long plus the grace is retried (\`--task-timeout\` wins).`,
    ...integerAtLeast(1, 900, "seconds"),
  },
  pollWaitSeconds: {
    name: "BEAM_LAMBDA_POLL_WAIT_SECONDS",
    readBy: "driver",
    meaning: `${AWS} the results queue's long-poll wait, at most 20 (\`--poll-wait\` wins).`,
    ...integerAtLeast(0, 20, "seconds"),
  },
  timeoutGraceSeconds: {
    name: "BEAM_LAMBDA_TIMEOUT_GRACE_SECONDS",
    readBy: "driver",
    meaning: `${AWS} how long past the function's timeout a completion may still come (\`--timeout-grace\` wins).`,
    ...integerAtLeast(0, 30, "seconds"),
  },
  // --- Fargate executors (the CDK stack sets these on the job server) ---
  executorCluster: {
    name: "BEAM_LAMBDA_EXECUTOR_CLUSTER",
    readBy: "driver",
    meaning: "The ECS cluster of Fargate executors; when set, the job server runs 4 executors there unless `--executors` / `--executor-host` say otherwise.",
    ...text("cluster name or ARN", "unset: executors only with `--executors`"),
  },
  executorTaskDefinition: {
    name: "BEAM_LAMBDA_EXECUTOR_TASK_DEFINITION",
    readBy: "driver",
    meaning: "The executors' task definition (`--executor-host fargate` needs it).",
    ...text("task definition ARN", "unset"),
  },
  executorContainer: {
    name: "BEAM_LAMBDA_EXECUTOR_CONTAINER",
    readBy: "driver",
    meaning: "The container of that task definition that runs `beam-lambda executor`.",
    ...textOr("container name", "executor", () => "executor"),
  },
  executorSubnets: {
    name: "BEAM_LAMBDA_EXECUTOR_SUBNETS",
    readBy: "driver",
    meaning: "The executors' subnets (`--executor-host fargate` needs them).",
    ...list("subnet ids, comma-separated"),
  },
  executorSecurityGroups: {
    name: "BEAM_LAMBDA_EXECUTOR_SECURITY_GROUP",
    readBy: "driver",
    meaning: "The executors' security groups (`--executor-host fargate` needs them).",
    ...list("security group ids, comma-separated"),
  },
} as const satisfies Record<string, ConfigVariable>;

export type ConfigKey = keyof typeof CONFIG;
export type ConfigValue<K extends ConfigKey> = ReturnType<(typeof CONFIG)[K]["parse"]>;

/** The setting's value in `env` now (the default when unset); throws, naming the variable, on a value it cannot take. */
export function readSetting<K extends ConfigKey>(key: K, env: NodeJS.ProcessEnv = process.env): ConfigValue<K> {
  const variable: ConfigVariable = CONFIG[key];
  return variable.parse(env[variable.name], variable.name) as ConfigValue<K>;
}
