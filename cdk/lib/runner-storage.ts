// The runner's storage: one bucket for artifacts and shuffle data, and the SQS results queue
// (with its dead-letter queue) that workers send completions to. Deployable on its own (it is
// what LocalStack community can run) and part of BeamLambdaRunner.
import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { ARTIFACTS_FOLDER, JOBS_FOLDER, s3StoreUrl, shardPrefixes } from "../../src/store/index.js";

export interface RunnerStorageProps {
  /** Key prefix of the runner's object store in the bucket. */
  prefix?: string;
  /** Hashed key prefixes the store spreads keys over (its `?spread=N`). */
  spread?: number;
  /** Days before a job's scratch data (shuffle objects, task specs, feeds, results) expires. */
  scratchExpirationDays?: number;
  /** Days before a job's staged artifacts expire. */
  artifactExpirationDays?: number;
  /** Keep the bucket and its data when the stack is deleted (default: destroy; it is scratch space). */
  retainData?: boolean;
}

export class RunnerStorage extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;
  readonly resultsQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** Key prefix of the store, ending in '/'. */
  readonly prefix: string;
  readonly spread: number;

  constructor(scope: Construct, id: string, props: RunnerStorageProps = {}) {
    super(scope, id);
    this.prefix = `${(props.prefix ?? "runner").replace(/\/+$/, "")}/`;
    this.spread = props.spread ?? 8;
    const removalPolicy = props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.accessLogs = new s3.Bucket(this, "AccessLogs", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy,
    });
    Validations.of(this.accessLogs).acknowledge({
      id: "AwsSolutions-S1",
      reason: "This is the access-log bucket of the runner's bucket; logging it into itself would loop.",
    });

    // Scratch and artifacts live under each of the store's hashed prefixes ({prefix}{i}/jobs/,
    // {prefix}{i}/artifacts/): src/store names both, so these rules follow the store. The URL
    // leaves out a spread of 1 or less, and the store then keeps every key under the prefix.
    const shards = shardPrefixes(this.prefix, this.spread > 1 ? this.spread : 1);
    this.bucket = new s3.Bucket(this, "Bucket", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: false,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: "runner-bucket/",
      lifecycleRules: [
        { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...shards.map((shard, i) => ({ id: `scratch-${i}`, prefix: `${shard}${JOBS_FOLDER}`, expiration: Duration.days(props.scratchExpirationDays ?? 2) })),
        ...shards.map((shard, i) => ({ id: `artifacts-${i}`, prefix: `${shard}${ARTIFACTS_FOLDER}`, expiration: Duration.days(props.artifactExpirationDays ?? 30) })),
      ],
      removalPolicy,
    });

    this.deadLetterQueue = new sqs.Queue(this, "ResultsDeadLetterQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({ id: "AwsSolutions-SQS3", reason: "This is the dead-letter queue of the results queue." });
    this.resultsQueue = new sqs.Queue(this, "ResultsQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Completions are deleted as soon as the driver reads them; one it cannot read comes back
      // after this, and moves to the DLQ after maxReceiveCount.
      visibilityTimeout: Duration.seconds(60),
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });
  }

  /** The object-store URL the job server and the workers open. */
  get storeUrl(): string {
    return s3StoreUrl({ bucket: this.bucket.bucketName, prefix: this.prefix, spread: this.spread });
  }

  /** The object ARNs under the store's prefix (every key the runner reads or writes). */
  get objectArns(): string {
    return this.bucket.arnForObjects(`${this.prefix}*`);
  }
}
