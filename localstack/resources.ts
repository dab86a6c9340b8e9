// Creates what `--backend aws` needs in LocalStack (on AWS, the CDK stack creates it): a bucket
// for artifacts and shuffle data, and the SQS results queue with its dead-letter queue. Prints
// the backend's config file:
//
//   npx tsx localstack/resources.ts [NAME] > .cache/aws-localstack.json
//
// The clients read AWS_ENDPOINT_URL etc. from the environment; main() sets LocalStack's.
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";

export interface RunnerResources {
  bucket: string;
  store: string;
  resultsQueueUrl: string;
  deadLetterQueueUrl: string;
}

/** The standard AWS environment for LocalStack on 127.0.0.1:4566 (path-style S3, test credentials). */
export const LOCALSTACK_ENV = {
  // localhost, as in the queue URLs LocalStack hands out (LOCALSTACK_HOST in start.sh).
  AWS_ENDPOINT_URL: process.env.LOCALSTACK_ENDPOINT ?? "http://localhost:4566",
  AWS_S3_FORCE_PATH_STYLE: "1",
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
};

export async function createRunnerResources(name: string, options: { maxReceiveCount?: number; visibilityTimeoutSeconds?: number } = {}): Promise<RunnerResources> {
  const s3 = new S3Client({ forcePathStyle: true });
  const sqs = new SQSClient({});
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-results-dlq`, Attributes: { MessageRetentionPeriod: "1209600" } }));
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl!, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
    const results = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${name}-results`,
        Attributes: {
          VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 60),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount ?? 5 }),
        },
      }),
    );
    return { bucket: name, store: `s3://${name}/runner/?spread=4`, resultsQueueUrl: results.QueueUrl!, deadLetterQueueUrl: dlq.QueueUrl! };
  } finally {
    s3.destroy();
    sqs.destroy();
  }
}

async function main(): Promise<void> {
  Object.assign(process.env, { ...LOCALSTACK_ENV, ...process.env });
  const resources = await createRunnerResources(process.argv[2] ?? "beam-lambda-dev");
  const config = { functionName: "beam-lambda-worker", resultsQueueUrl: resources.resultsQueueUrl, store: resources.store };
  process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
}
