// The bucket-and-queue part of the CDK app (stack BeamLambdaRunnerStorage), deployed to
// LocalStack with cdklocal: bootstrap, deploy, check what CloudFormation created through the S3
// and SQS APIs, use it as the runner's store, destroy. (LocalStack community runs neither Lambda
// nor ECS resources without Docker, so the whole stack is checked by synthesis only.)
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GetBucketEncryptionCommand, GetBucketPolicyCommand, GetPublicAccessBlockCommand, S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, describe, expect, it } from "vitest";
import { LOCALSTACK_ENV } from "../../localstack/resources.js";
import { openObjectStore } from "../../src/store/index.js";

const run = promisify(execFile);
const STACK = "BeamLambdaRunnerStorage";
// cdklocal needs both endpoints; the CLI reads only these from the environment.
const cdkEnv = {
  ...process.env,
  ...LOCALSTACK_ENV,
  AWS_ENDPOINT_URL_S3: LOCALSTACK_ENV.AWS_ENDPOINT_URL,
  AWS_DEFAULT_REGION: LOCALSTACK_ENV.AWS_REGION,
  AWS_ENVAR_ALLOWLIST: "AWS_REGION,AWS_DEFAULT_REGION",
  CDK_DISABLE_CLI_TELEMETRY: "true",
};

async function cdklocal(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run("npx", ["cdklocal", ...args, "--no-notices"], { env: cdkEnv, maxBuffer: 64 << 20 });
    return stdout + stderr;
  } catch (e) {
    const { stdout = "", stderr = "" } = e as { stdout?: string; stderr?: string };
    throw new Error(`cdklocal ${args.join(" ")} failed (is LocalStack up? npm test starts it):\n${`${stdout}${stderr}`.slice(-3000)}`, { cause: e });
  }
}

let deployed = false;

afterAll(async () => {
  if (deployed) await cdklocal("destroy", STACK, "--force");
});

describe("cdklocal deploy of the storage stack to LocalStack", () => {
  it("creates an encrypted, closed bucket with expiring scratch data and a results queue with its DLQ, usable as the runner's store", async () => {
    await cdklocal("bootstrap", "aws://000000000000/us-east-1");
    const outputsFile = join(mkdtempSync(join(tmpdir(), "cdklocal-")), "outputs.json");
    const out = await cdklocal("deploy", STACK, "--require-approval", "never", "--outputs-file", outputsFile, "--output", join(tmpdir(), "cdklocal.out"));
    deployed = true;
    expect(out).toContain(`✅  ${STACK}`);
    const outputs = (JSON.parse(readFileSync(outputsFile, "utf8")) as Record<string, Record<string, string>>)[STACK]!;

    const saved = { ...process.env };
    Object.assign(process.env, LOCALSTACK_ENV);
    try {
      const s3 = new S3Client({ forcePathStyle: true });
      const bucket = outputs.Bucket!;
      const encryption = await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
      expect(encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe("AES256");
      const block = await s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }));
      expect(block.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      // LocalStack 4.13's CloudFormation skips a bucket's LifecycleConfiguration and
      // LoggingConfiguration; runner-stack.test.ts checks those in the template.
      const policy = await s3.send(new GetBucketPolicyCommand({ Bucket: bucket }));
      expect((JSON.parse(policy.Policy!) as { Statement: unknown[] }).Statement).toContainEqual(
        expect.objectContaining({ Effect: "Deny", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      );

      const sqs = new SQSClient({});
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: outputs.ResultsQueueUrl!, AttributeNames: ["RedrivePolicy", "SqsManagedSseEnabled"] }));
      const dlq = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: outputs.DeadLetterQueueUrl!, AttributeNames: ["QueueArn"] }));
      expect(JSON.parse(Attributes!.RedrivePolicy!)).toEqual({ deadLetterTargetArn: dlq.Attributes!.QueueArn, maxReceiveCount: 5 });

      // The runner's store on the deployed bucket, at the URL the stack outputs.
      expect(outputs.StoreUrl).toBe(`s3://${bucket}/runner/?spread=8`);
      const store = openObjectStore(outputs.StoreUrl!);
      await store.put("jobs/cdk-check/object", Buffer.from("deployed"));
      expect((await store.get("jobs/cdk-check/object")).toString()).toBe("deployed");
      await store.deletePrefix("jobs/cdk-check/");
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
