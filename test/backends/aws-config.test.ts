import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAwsConfig } from "../../src/backends/aws/aws-config.js";
import { parseCompletion } from "../../src/backends/aws/results-queue-message.js";

const file = join(mkdtempSync(join(tmpdir(), "aws-config-")), "aws.json");
writeFileSync(file, JSON.stringify({ functionName: "from-file", resultsQueueUrl: "https://sqs/q-file", store: "s3://file-bucket/p", concurrency: 7 }));

describe("the aws backend's config", () => {
  it("takes flags over the environment over the file, with defaults for the rest", () => {
    const config = loadAwsConfig({ "aws-config": file, "function-name": "from-flag" }, { BEAM_LAMBDA_RESULTS_QUEUE_URL: "https://sqs/q-env" });
    expect(config).toEqual({
      functionName: "from-flag",
      resultsQueueUrl: "https://sqs/q-env",
      storeUrl: "s3://file-bucket/p",
      concurrency: 7,
      taskTimeoutSeconds: 900,
      pollWaitSeconds: 20,
      timeoutGraceSeconds: 30,
    });
  });

  it("finds the file through BEAM_LAMBDA_AWS_CONFIG", () => {
    expect(loadAwsConfig({}, { BEAM_LAMBDA_AWS_CONFIG: file }).functionName).toBe("from-file");
  });

  it("names every way to give a missing setting", () => {
    expect(() => loadAwsConfig({ store: "s3://b/p", "function-name": "f" }, {})).toThrow(
      'needs resultsQueueUrl: pass --results-queue-url, set BEAM_LAMBDA_RESULTS_QUEUE_URL, or put "resultsQueueUrl" in the --aws-config file',
    );
  });

  it("refuses a store Lambda workers cannot reach, and out-of-range numbers", () => {
    const base = { "function-name": "f", "results-queue-url": "q" };
    expect(() => loadAwsConfig({ ...base, store: "/tmp/store" }, {})).toThrow(/needs an S3 store/);
    expect(() => loadAwsConfig({ ...base, store: "s3://b/p", "poll-wait": "21" }, {})).toThrow(/at most 20/);
    expect(() => loadAwsConfig({ ...base, store: "s3://b/p", workers: "0" }, {})).toThrow(/concurrency must be an integer of at least 1/);
  });
});

describe("results-queue messages", () => {
  it("reads Lambda's on-failure record as a retryable failure of the invocation it names", () => {
    const record = {
      version: "1.0",
      timestamp: "2026-11-26T00:00:00.000Z",
      requestContext: { requestId: "r", functionArn: "arn:aws:lambda:us-east-1:1:function:f:$LATEST", condition: "RetriesExhausted", approximateInvokeCount: 1 },
      requestPayload: { taskRef: "jobs/j/task-specs/x.json", replyTo: { invocationId: "d/j/s/bundle/0/0", queueUrl: "q" } },
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      responsePayload: { errorType: "Runtime.ExitError", errorMessage: "signal: killed" },
    };
    const parsed = parseCompletion(JSON.stringify(record));
    expect(parsed).toMatchObject({ invocationId: "d/j/s/bundle/0/0", fromLambda: true, result: { ok: false, retryable: true, cause: "infrastructure" } });
    expect(parsed && "result" in parsed && !parsed.result.ok && parsed.result.error).toContain("Runtime.ExitError: signal: killed");
  });

  it("leaves anything else unread (for the dead-letter queue)", () => {
    for (const body of ["", "not json", "{}", '{"type":"beam-lambda/completion"}', '{"requestContext":{}}']) expect(parseCompletion(body)).toBeUndefined();
  });
});
