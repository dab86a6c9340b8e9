// What `--backend aws` needs beyond the standard AWS credential chain and region: the worker
// function, the results queue, and the object store. Each setting comes from a flag, else an
// environment variable, else a JSON config file (--aws-config / BEAM_LAMBDA_AWS_CONFIG).
import { readFileSync } from "node:fs";

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

const DEFAULTS = { concurrency: 100, taskTimeoutSeconds: 900, pollWaitSeconds: 20, timeoutGraceSeconds: 30 };

/** Where each setting is read from, in order of precedence. */
const SOURCES: Record<keyof AwsBackendConfig, { flag: string; env: string; file: string }> = {
  functionName: { flag: "function-name", env: "BEAM_LAMBDA_FUNCTION_NAME", file: "functionName" },
  resultsQueueUrl: { flag: "results-queue-url", env: "BEAM_LAMBDA_RESULTS_QUEUE_URL", file: "resultsQueueUrl" },
  storeUrl: { flag: "store", env: "BEAM_LAMBDA_STORE", file: "store" },
  concurrency: { flag: "workers", env: "BEAM_LAMBDA_CONCURRENCY", file: "concurrency" },
  taskTimeoutSeconds: { flag: "task-timeout", env: "BEAM_LAMBDA_TASK_TIMEOUT_SECONDS", file: "taskTimeoutSeconds" },
  pollWaitSeconds: { flag: "poll-wait", env: "BEAM_LAMBDA_POLL_WAIT_SECONDS", file: "pollWaitSeconds" },
  timeoutGraceSeconds: { flag: "timeout-grace", env: "BEAM_LAMBDA_TIMEOUT_GRACE_SECONDS", file: "timeoutGraceSeconds" },
};

export function loadAwsConfig(
  flags: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv = process.env,
): AwsBackendConfig {
  const filePath = (flags["aws-config"] as string | undefined) ?? env.BEAM_LAMBDA_AWS_CONFIG;
  let file: Record<string, unknown> = {};
  if (filePath) {
    try {
      file = JSON.parse(readFileSync(filePath, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`cannot read the AWS backend config ${filePath}: ${(e as Error).message}`);
    }
  }
  const value = (key: keyof AwsBackendConfig): string | undefined => {
    const { flag, env: name, file: field } = SOURCES[key];
    const v = flags[flag] ?? env[name] ?? file[field];
    return v === undefined || typeof v === "boolean" ? undefined : String(v);
  };
  const required = (key: keyof AwsBackendConfig): string => {
    const v = value(key);
    if (!v) {
      const { flag, env: name, file: field } = SOURCES[key];
      throw new Error(`--backend aws needs ${key}: pass --${flag}, set ${name}, or put "${field}" in the --aws-config file`);
    }
    return v;
  };
  const positive = (key: keyof typeof DEFAULTS): number => {
    const v = value(key);
    if (v === undefined) return DEFAULTS[key];
    const n = Number(v);
    const min = key === "pollWaitSeconds" || key === "timeoutGraceSeconds" ? 0 : 1;
    if (!Number.isInteger(n) || n < min) throw new Error(`${key} must be an integer of at least ${min}, got '${v}'`);
    return n;
  };
  const storeUrl = required("storeUrl");
  if (!storeUrl.startsWith("s3://")) throw new Error(`--backend aws needs an S3 store (s3://BUCKET/PREFIX): Lambda workers cannot read ${storeUrl}`);
  const pollWaitSeconds = positive("pollWaitSeconds");
  if (pollWaitSeconds > 20) throw new Error(`pollWaitSeconds must be at most 20 (SQS's maximum), got ${pollWaitSeconds}`);
  return {
    functionName: required("functionName"),
    resultsQueueUrl: required("resultsQueueUrl"),
    storeUrl,
    concurrency: positive("concurrency"),
    taskTimeoutSeconds: positive("taskTimeoutSeconds"),
    pollWaitSeconds,
    timeoutGraceSeconds: positive("timeoutGraceSeconds"),
  };
}
