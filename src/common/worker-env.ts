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
  return {
    [CONFIG.storeUrl.name]: settings.storeUrl,
    ...(settings.python !== undefined && { [CONFIG.python.name]: settings.python }),
  };
}

/** What a worker takes from its environment when it starts. */
export interface WorkerEnvironment {
  storeUrl: string;
  python: string;
  /** Shuffle data a task holds in memory before it spills to local disk. */
  shuffleMemoryBytes: number;
}

/** The worker's settings from `env`; throws, naming the variable, when one is missing or unusable. */
export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnvironment {
  const storeUrl = readSetting("storeUrl", env);
  if (!storeUrl) throw new Error(`the worker needs ${CONFIG.storeUrl.name} in its environment`);
  return {
    storeUrl,
    python: readSetting("python", env),
    shuffleMemoryBytes: readSetting("shuffleMemoryMb", env) * 2 ** 20,
  };
}
