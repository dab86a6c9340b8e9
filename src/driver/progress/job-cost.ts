// What a job would cost on AWS Lambda, S3 and SQS, from what it did (a JobProgress snapshot):
// every attempt that ran is one invocation billed for its duration at the given memory size;
// every attempt's descriptor and input-range GETs and output PUTs are S3 requests; the objects it
// wrote are stored until the job ends; each invocation costs three SQS requests (its result's
// send, receive and delete). The same figures apply to an embedded run ("on Lambda with N MB
// this job would cost ..."). Pure: the UI server computes it again for each memory size asked.
// docs/ui.md lists what it leaves out.
import { type AwsCostEstimate, type AwsPrices, type AwsUsage, type LambdaArchitecture, AWS_PRICES, estimateAwsCost } from "../../common/aws-cost.js";
import type { ProgressSnapshot } from "./job-progress.js";

/** The CDK construct's worker memory (cdk/lib/beam-lambda-runner.ts). */
export const DEFAULT_LAMBDA_MEMORY_MB = 3008;

/** SQS requests per invocation: the result's SendMessage (Lambda's destination), ReceiveMessage and DeleteMessage. */
export const SQS_REQUESTS_PER_INVOCATION = 3;

export interface JobCostOptions {
  memoryMb: number;
  architecture: LambdaArchitecture;
  /** Until when the job's objects are stored (default: the last attempt's end). */
  endedAt?: number;
}

/** The AWS usage of the attempts in `snapshot`; attempts still running count up to now. */
export function jobUsage(snapshot: ProgressSnapshot, options: JobCostOptions, now = Date.now()): AwsUsage {
  const ran = snapshot.attempts.filter((a) => a.startedAt !== undefined);
  const lambda = (["bundle", "merge"] as const).flatMap((kind) => {
    const attempts = ran.filter((a) => a.task === kind);
    if (attempts.length === 0) return [];
    // Lambda bills each invocation's duration rounded up to the millisecond.
    const seconds = attempts.reduce((sum, a) => sum + Math.ceil((a.endedAt ?? now) - a.startedAt!) / 1000, 0);
    return [{ label: kind === "bundle" ? "tasks" : "merge tasks", architecture: options.architecture, memoryMb: options.memoryMb, invocations: attempts.length, secondsEach: seconds / attempts.length }];
  });
  // Reduced, not spread into Math.min: a big job's attempts would exceed the engine's argument limit.
  const firstStart = ran.reduce((min, a) => Math.min(min, a.startedAt!), Infinity);
  const end = options.endedAt ?? ran.reduce((max, a) => Math.max(max, a.endedAt ?? now), -Infinity);
  const bytesWritten = snapshot.stages.reduce((sum, s) => sum + s.bytesOut, 0);
  return {
    lambda,
    s3: {
      writeRequests: ran.reduce((sum, a) => sum + a.writes, 0),
      readRequests: ran.reduce((sum, a) => sum + a.reads, 0),
      byteSeconds: ran.length === 0 ? 0 : (bytesWritten * Math.max(0, end - firstStart)) / 1000,
    },
    sqsRequests: ran.length * SQS_REQUESTS_PER_INVOCATION,
  };
}

/** The estimate for `snapshot` at `options`' memory and architecture, at `prices` (AWS_PRICES unless given). */
export function estimateJobCost(snapshot: ProgressSnapshot, options: JobCostOptions, prices: AwsPrices = AWS_PRICES, now = Date.now()): AwsCostEstimate {
  return estimateAwsCost(jobUsage(snapshot, options, now), prices);
}
