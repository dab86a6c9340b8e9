// Backends by the name `--backend` takes. Each entry declares what the driver decides before a
// backend starts (its traits, how many attempts it runs at once, which store its workers use),
// reads its own command-line flags, and imports its implementation only when it starts: the AWS
// SDK's Lambda and SQS clients load with the backends that call them, never with `--backend local`.
// A new backend is one entry here; the job server and the CLI know none by name.
import { availableParallelism } from "node:os";
import { type AwsBackendConfig, loadAwsConfig } from "./aws/aws-config.js";
import type { Backend } from "./backend.js";

/** Each backend's own settings, under its name. */
export interface BackendConfigs {
  /** `aws`: the function, results queue and S3 store (see aws/aws-config.ts). */
  aws?: AwsBackendConfig;
}

/** What the driver knows of a backend without starting it. */
export interface BackendTraits {
  /**
   * Speculative copies of stragglers are on unless turned off: where a straggler is most likely
   * a slow environment (Lambda), not a slow task, a copy elsewhere finishes sooner.
   */
  speculatesByDefault: boolean;
}

/** What the job server asks of a backend before the store exists. */
export interface BackendRequest {
  /** Attempts at once (--workers), when given. */
  workers?: number;
  /** The store asked for (--store), when one is. */
  storeUrl?: string;
  configs: BackendConfigs;
}

/** What a backend settles before it starts. */
export interface BackendPlacement {
  concurrency: number;
  /** The store its workers use; undefined leaves the choice to the job server (a fresh local directory). */
  storeUrl?: string;
}

export interface BackendStartOptions {
  concurrency: number;
  /** The URL of the store the driver opened, which workers open too. */
  storeUrl: string;
  /** The Python interpreter of process harnesses, where workers run on this machine. */
  python: string;
  configs: BackendConfigs;
}

/** Command-line values by flag name (`function-name`): a string, or `true` for a flag without a value. */
export type FlagValues = Record<string, string | boolean | undefined>;

/** One command-line flag: `--name VALUE` when it has a value placeholder, else a switch. */
export interface FlagSpec {
  name: string;
  /** The placeholder of its value in help (`FILE`); absent for a switch. */
  value?: string;
  description: string;
}

export interface BackendDefinition {
  readonly traits: BackendTraits;
  /** Its own job-server flags, shown in help under the backend's name. */
  readonly flags?: FlagSpec[];
  /** Its settings from the command line (and the environment). */
  configsFromFlags?(values: FlagValues): BackendConfigs;
  /** Checks the request (no I/O) and settles concurrency and store; throws what is missing. */
  place(request: BackendRequest): BackendPlacement;
  /** Loads the implementation (here, not before) and starts it. */
  start(options: BackendStartOptions): Promise<Backend>;
}

/** Workers on this machine: their count defaults to the cores, their store to the job server's. */
function onThisMachine({ workers, storeUrl }: BackendRequest): BackendPlacement {
  return { concurrency: workers ?? availableParallelism(), storeUrl };
}

const local: BackendDefinition = {
  traits: { speculatesByDefault: false },
  place: onThisMachine,
  async start({ concurrency, storeUrl, python }) {
    const { LocalBackend } = await import("./local-backend.js");
    return new LocalBackend({ workers: concurrency, storeUrl, python });
  },
};

const lambdaEmulator: BackendDefinition = {
  traits: { speculatesByDefault: false },
  place: onThisMachine,
  async start({ concurrency, storeUrl, python }) {
    const { LambdaEmulatorBackend } = await import("./lambda-emulator/lambda-emulator-backend.js");
    return new LambdaEmulatorBackend({ environments: concurrency, storeUrl, python });
  },
};

const aws: BackendDefinition = {
  traits: { speculatesByDefault: true },
  // Each also from the environment or an --aws-config JSON file (see README).
  flags: [
    { name: "aws-config", value: "FILE", description: "JSON with the function, results queue and S3 store (localstack/resources.ts writes one)" },
    { name: "function-name", value: "NAME", description: "the worker function's name or ARN" },
    { name: "results-queue-url", value: "URL", description: "the SQS queue workers send their results to" },
    { name: "task-timeout", value: "SECONDS", description: "the function's timeout: an attempt with no result this long after it (plus the grace) is retried" },
    { name: "poll-wait", value: "SECONDS", description: "SQS long-poll wait on the results queue (at most 20)" },
    { name: "timeout-grace", value: "SECONDS", description: "how long past the function's timeout a result may still come" },
  ],
  configsFromFlags: (values) => ({ aws: loadAwsConfig(values) }),
  place({ workers, configs }) {
    if (!configs.aws) throw new Error("the aws backend needs its config (function, results queue, S3 store)");
    // Lambda workers can only reach the config's S3 store.
    return { concurrency: workers ?? configs.aws.concurrency, storeUrl: configs.aws.storeUrl };
  },
  async start({ concurrency, configs }) {
    const { AwsBackend } = await import("./aws/aws-backend.js");
    return AwsBackend.start({ ...configs.aws!, concurrency });
  },
};

const BACKENDS = { local, "lambda-emulator": lambdaEmulator, aws } satisfies Record<string, BackendDefinition>;

export type BackendName = keyof typeof BACKENDS;

/** The registered names, the default (`local`) first. */
export const BACKEND_NAMES = Object.keys(BACKENDS) as BackendName[];

export function isBackendName(name: unknown): name is BackendName {
  return typeof name === "string" && Object.hasOwn(BACKENDS, name);
}

export function backendDefinition(name: BackendName): BackendDefinition {
  if (!isBackendName(name)) throw new Error(`unknown backend '${String(name)}' (known: ${BACKEND_NAMES.join(", ")})`);
  return BACKENDS[name];
}
