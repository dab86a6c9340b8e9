// What a job costs on AWS, from counts of what it used: Lambda GB-seconds and invocations, S3
// requests and bytes stored, SQS requests. Pure arithmetic over one price table, so a model
// (src/driver/cost/) and a job's page can share it. docs/cost.md explains the model and its
// assumptions.

export type LambdaArchitecture = "x86_64" | "arm64";

/** One published price: dollars per `per` units of `unit`. */
export interface Price {
  usd: number;
  per: number;
  unit: string;
  /** The AWS page that publishes it. */
  source: string;
}

const LAMBDA_PRICING = "https://aws.amazon.com/lambda/pricing/";
const S3_PRICING = "https://aws.amazon.com/s3/pricing/";
const SQS_PRICING = "https://aws.amazon.com/sqs/pricing/";

/** Where and when the prices were recorded, and each price. */
export interface AwsPrices {
  region: string;
  recorded: string;
  lambdaGbSecondX86: Price;
  lambdaGbSecondArm: Price;
  lambdaRequests: Price;
  lambdaEphemeralGbSecond: Price;
  s3WriteRequests: Price;
  s3ReadRequests: Price;
  s3Storage: Price;
  sqsRequests: Price;
  inRegionTransfer: Price;
}

/**
 * AWS's published on-demand prices in us-east-1, as recorded on `recorded`: re-check them on
 * the pages named before relying on a figure. Free tiers are ignored, and so are volume tiers
 * (each price is its first tier: Lambda's first 6 billion GB-seconds a month, S3's first 50 TB).
 */
export const AWS_PRICES: AwsPrices = {
  region: "us-east-1",
  recorded: "2026-11-30",
  lambdaGbSecondX86: { usd: 0.0000166667, per: 1, unit: "GB-second (x86_64)", source: LAMBDA_PRICING },
  lambdaGbSecondArm: { usd: 0.0000133334, per: 1, unit: "GB-second (arm64)", source: LAMBDA_PRICING },
  lambdaRequests: { usd: 0.2, per: 1e6, unit: "invocations", source: LAMBDA_PRICING },
  /** /tmp beyond the 512 MB every function gets. */
  lambdaEphemeralGbSecond: { usd: 0.0000000309, per: 1, unit: "GB-second of /tmp over 512 MB", source: LAMBDA_PRICING },
  /** PUT, COPY, POST, LIST; each part of a multipart upload, its start and its completion count. */
  s3WriteRequests: { usd: 0.005, per: 1000, unit: "PUT/COPY/POST/LIST requests (S3 Standard)", source: S3_PRICING },
  s3ReadRequests: { usd: 0.0004, per: 1000, unit: "GET/SELECT requests (S3 Standard)", source: S3_PRICING },
  s3Storage: { usd: 0.023, per: 1, unit: "GB-month (S3 Standard)", source: S3_PRICING },
  /** Standard queues; every 64 KB of a request's payload counts as one request. */
  sqsRequests: { usd: 0.4, per: 1e6, unit: "requests (SQS standard)", source: SQS_PRICING },
  /** Lambda, S3 and SQS in one region: no transfer charge. */
  inRegionTransfer: { usd: 0, per: 1, unit: "GB within us-east-1", source: S3_PRICING },
};

/** A table's prices by name, in its order. */
export function priceList(prices: AwsPrices = AWS_PRICES): [string, Price][] {
  return Object.entries(prices).filter((entry): entry is [string, Price] => typeof entry[1] === "object");
}

/** AWS bills memory and storage in binary gigabytes; Lambda's GB is the memory size in MB / 1024. */
export const GB = 2 ** 30;
/** The month S3's byte-hours are divided by (AWS uses the month's own hours; this is their mean). */
export const HOURS_PER_MONTH = 730;

/** One kind of Lambda invocation: how many, how long each ran, at which size. */
export interface LambdaUsage {
  /** What the invocations ran (e.g. "map tasks"), for the bill's lines. */
  label?: string;
  architecture: LambdaArchitecture;
  memoryMb: number;
  /** Configured /tmp (512 is free). */
  ephemeralStorageMb?: number;
  invocations: number;
  /** Mean billed duration of one invocation. */
  secondsEach: number;
}

/** What a job used. */
export interface AwsUsage {
  lambda: LambdaUsage[];
  s3: {
    /** PUT-class requests (PUT, COPY, POST, LIST, multipart parts). */
    writeRequests: number;
    /** GET-class requests (GET, ranged GET). */
    readRequests: number;
    /** Bytes stored × seconds they were kept (e.g. the shuffle's objects for the job's life). */
    byteSeconds: number;
  };
  sqsRequests: number;
}

/** One line of a bill. */
export interface CostLine {
  item: string;
  quantity: number;
  unit: string;
  usd: number;
}

export interface AwsCostEstimate {
  lines: CostLine[];
  /** Sums of the lines by service. */
  lambdaUsd: number;
  s3Usd: number;
  sqsUsd: number;
  totalUsd: number;
}

function charge(item: string, quantity: number, price: Price): CostLine {
  return { item, quantity, unit: price.unit, usd: (quantity * price.usd) / price.per };
}

/** Lambda's GB-seconds: memory in GB (MB / 1024) × seconds, summed over invocations. */
export function lambdaGbSeconds(u: LambdaUsage): number {
  return (u.memoryMb / 1024) * u.secondsEach * u.invocations;
}

/** The GB-seconds of /tmp that are billed (what exceeds the free 512 MB). */
export function ephemeralGbSeconds(u: LambdaUsage): number {
  const extraMb = Math.max(0, (u.ephemeralStorageMb ?? 512) - 512);
  return (extraMb / 1024) * u.secondsEach * u.invocations;
}

/** S3's GB-months for bytes kept for seconds. */
export function gbMonths(byteSeconds: number): number {
  return byteSeconds / GB / (HOURS_PER_MONTH * 3600);
}

/** The cost of `usage` at `prices` (AWS_PRICES unless given), line by line. */
export function estimateAwsCost(usage: AwsUsage, prices: AwsPrices = AWS_PRICES): AwsCostEstimate {
  const lambda: CostLine[] = [];
  for (const u of usage.lambda) {
    const gbSecond = u.architecture === "arm64" ? prices.lambdaGbSecondArm : prices.lambdaGbSecondX86;
    const what = `${u.label ? `${u.label}, ` : ""}${u.architecture} ${u.memoryMb} MB`;
    lambda.push(charge(`Lambda duration (${what})`, lambdaGbSeconds(u), gbSecond));
    lambda.push(charge(`Lambda invocations (${what})`, u.invocations, prices.lambdaRequests));
    const tmp = ephemeralGbSeconds(u);
    if (tmp > 0) lambda.push(charge(`Lambda /tmp (${what}, ${u.ephemeralStorageMb} MB)`, tmp, prices.lambdaEphemeralGbSecond));
  }
  const s3 = [
    charge("S3 PUT/COPY/POST/LIST", usage.s3.writeRequests, prices.s3WriteRequests),
    charge("S3 GET", usage.s3.readRequests, prices.s3ReadRequests),
    charge("S3 storage", gbMonths(usage.s3.byteSeconds), prices.s3Storage),
  ];
  const sqs = [charge("SQS requests", usage.sqsRequests, prices.sqsRequests)];
  const sum = (lines: CostLine[]) => lines.reduce((total, line) => total + line.usd, 0);
  const [lambdaUsd, s3Usd, sqsUsd] = [sum(lambda), sum(s3), sum(sqs)];
  return { lines: [...lambda, ...s3, ...sqs], lambdaUsd, s3Usd, sqsUsd, totalUsd: lambdaUsd + s3Usd + sqsUsd };
}
