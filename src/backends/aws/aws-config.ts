// What `--backend aws` needs beyond the standard AWS credential chain and region: the worker
// function, the results queue, and the object store. Each setting comes from a flag, else an
// environment variable, else a JSON config file (--aws-config / BEAM_LAMBDA_AWS_CONFIG).
// common/config.ts declares the variables with their defaults and parsing; a number is parsed
// by its declaration whichever of the three sources it came from.
import { readFileSync } from "node:fs";
import { CONFIG, readSetting } from "../../common/config.js";

export interface AwsBackendConfig {
  /** The worker function's name or ARN. */
  functionName: string;
  /** URL of the SQS queue workers send completions to (its redrive policy names the DLQ). */
  resultsQueueUrl: string;
  /** The object store on S3: s3://BUCKET/PREFIX[?spread=N]. */
  storeUrl: string;
  /** Invocations in flight at once (keep it at or below the function's reserved concurrency). */
  concurrency: number;
  /** The function's timeout; an attempt with no completion this long after it (plus a grace period) is retried. */
  taskTimeoutSeconds: number;
  /** SQS long-poll wait (20 is SQS's maximum and the cheapest). */
  pollWaitSeconds: number;
  /** How long past the function's timeout a completion may still come (SQS delivery, clock skew). */
  timeoutGraceSeconds: number;
}

/**
 * Where each setting is read from, in order of precedence: its flag, its environment variable
 * (CONFIG under the same key), its field in the file.
 */
const SOURCES: Record<keyof AwsBackendConfig, { flag: string; file: string }> = {
  functionName: { flag: "function-name", file: "functionName" },
  resultsQueueUrl: { flag: "results-queue-url", file: "resultsQueueUrl" },
  storeUrl: { flag: "store", file: "store" },
  concurrency: { flag: "workers", file: "concurrency" },
  taskTimeoutSeconds: { flag: "task-timeout", file: "taskTimeoutSeconds" },
  pollWaitSeconds: { flag: "poll-wait", file: "pollWaitSeconds" },
  timeoutGraceSeconds: { flag: "timeout-grace", file: "timeoutGraceSeconds" },
};

type NumericSetting = "concurrency" | "taskTimeoutSeconds" | "pollWaitSeconds" | "timeoutGraceSeconds";

export function loadAwsConfig(
  flags: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv = process.env,
): AwsBackendConfig {
  const filePath = (flags["aws-config"] as string | undefined) ?? readSetting("awsConfig", env);
  let file: Record<string, unknown> = {};
  if (filePath) {
    try {
      file = JSON.parse(readFileSync(filePath, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`cannot read the AWS backend config ${filePath}: ${(e as Error).message}`, { cause: e });
    }
  }
  const value = (key: keyof AwsBackendConfig): string | undefined => {
    const { flag, file: field } = SOURCES[key];
    const v = flags[flag] ?? env[CONFIG[key].name] ?? file[field];
    if (v === undefined || typeof v === "boolean") return undefined;
    return typeof v === "string" || typeof v === "number" ? String(v) : JSON.stringify(v);
  };
  const required = (key: keyof AwsBackendConfig): string => {
    const v = value(key);
    if (!v) {
      const { flag, file: field } = SOURCES[key];
      throw new Error(`--backend aws needs ${key}: pass --${flag}, set ${CONFIG[key].name}, or put "${field}" in the --aws-config file`);
    }
    return v;
  };
  // Unset gives the declared default; errors name the setting, not the variable (it may have come from a flag or the file).
  const numeric = (key: NumericSetting): number => CONFIG[key].parse(value(key), key);
  const storeUrl = required("storeUrl");
  if (!storeUrl.startsWith("s3://")) throw new Error(`--backend aws needs an S3 store (s3://BUCKET/PREFIX): Lambda workers cannot read ${storeUrl}`);
  const pollWaitSeconds = numeric("pollWaitSeconds");
  if (pollWaitSeconds > 20) throw new Error(`pollWaitSeconds must be at most 20 (SQS's maximum), got ${pollWaitSeconds}`);
  return {
    functionName: required("functionName"),
    resultsQueueUrl: required("resultsQueueUrl"),
    storeUrl,
    concurrency: numeric("concurrency"),
    taskTimeoutSeconds: numeric("taskTimeoutSeconds"),
    pollWaitSeconds,
    timeoutGraceSeconds: numeric("timeoutGraceSeconds"),
  };
}
