// The worker's environment contract. Whatever starts a worker (a local worker process, an emulated
// Lambda environment, an executor actor, the CLI's Lambda emulator) builds its variables with
// `workerEnv`, and the worker reads them with `readWorkerEnv`: one pair, so the names, defaults
// and parsing of both sides come from config.ts and cannot drift apart. A worker inherits the
// rest (BEAM_LAMBDA_HARNESS_LOGS, the shuffle's sizes) from its launcher where it inherits an
// environment at all, and reads those where they are used.
import { CONFIG, readSetting } from "./config.js";

/** What a launcher tells a worker. */
export interface WorkerSettings {
  /** The object store the worker opens: the driver's, so both see the same objects. */
  storeUrl: string;
  /**
   * Python with apache-beam for process harnesses. Left out, the worker uses its own default,
   * as a worker image does that brings its interpreter (and sets BEAM_LAMBDA_PYTHON itself).
   */
  python?: string;
}

/** The variables that carry `settings` to a worker, to lay over (or into) its environment. */
export function workerEnv(settings: WorkerSettings): Record<string, string> {
  // A worker logs as its launcher does (the job server's --log-format and --log-level).
  const logging: Record<string, string> = {};
  for (const name of [CONFIG.logFormat.name, CONFIG.logLevel.name]) if (process.env[name]) logging[name] = process.env[name];
  return {
    ...logging,
    [CONFIG.storeUrl.name]: settings.storeUrl,
    ...(settings.python !== undefined && { [CONFIG.python.name]: settings.python }),
  };
}

/**
 * Variables only the job server may hold. A worker and the user code it runs never get them,
 * whatever their names look like.
 */
const SERVER_ONLY = new Set<string>([CONFIG.authTokenFile.name]);

/** Names of variables that look like secrets: API tokens, passwords, client secrets. */
const SECRET_VARIABLE = /TOKEN|PASSWORD|PASSWD|SECRET|PRIVATE_?KEY|API_?KEY/i;

/**
 * AWS credentials pass: workers need them for an S3 store, and Beam's S3 IO in user code uses
 * them, as it would use the role of a Lambda function or a Fargate task.
 */
const PASSED_CREDENTIALS = /^AWS_/;

/**
 * `env` as a worker, and the user code in its SDK harnesses, may see it: without the job server's
 * own secrets (SERVER_ONLY) and without secret-looking variables other than AWS credentials,
 * unless named in BEAM_LAMBDA_HARNESS_ENV_KEEP. This keeps the server's secrets out of user code
 * that is given an environment; it is no sandbox: on the local backend user code runs as the
 * server's OS user and can read what that user can.
 */
export function userCodeEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const keep = new Set(readSetting("harnessEnvKeep", env));
  return Object.fromEntries(
    Object.entries(env).filter(
      ([name]) => !SERVER_ONLY.has(name) && (keep.has(name) || PASSED_CREDENTIALS.test(name) || !SECRET_VARIABLE.test(name)),
    ),
  );
}

/** What a worker takes from its environment when it starts. */
export interface WorkerEnvironment {
  storeUrl: string;
  python: string;
  /** Shuffle data a task holds in memory before it spills to local disk. */
  shuffleMemoryBytes: number;
  /** A bundle with no traffic with its harness for this long is failed as an infrastructure loss. */
  noProgressTimeoutMs: number;
  /** Whether to keep a Python interpreter waiting, Beam imported, for the next harness. */
  spareInterpreter: boolean;
}

/** The worker's settings from `env`; throws, naming the variable, when one is missing or unusable. */
export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnvironment {
  const storeUrl = readSetting("storeUrl", env);
  if (!storeUrl) throw new Error(`the worker needs ${CONFIG.storeUrl.name} in its environment`);
  return {
    storeUrl,
    python: readSetting("python", env),
    shuffleMemoryBytes: readSetting("shuffleMemoryMb", env) * 2 ** 20,
    noProgressTimeoutMs: readSetting("taskNoProgressTimeoutMs", env),
    spareInterpreter: !readSetting("noSpareInterpreter", env),
  };
}
