// The cost arithmetic against figures computed by hand (each in a comment beside its check).
import { describe, expect, it } from "vitest";
import { AWS_PRICES, type AwsUsage, GB, estimateAwsCost, gbMonths, lambdaGbSeconds, priceList } from "../../src/common/aws-cost.js";

const NO_S3 = { writeRequests: 0, readRequests: 0, byteSeconds: 0 };

function line(usage: AwsUsage, prefix: string): number {
  return estimateAwsCost(usage).lines.find((l) => l.item.startsWith(prefix))!.usd;
}

describe("estimateAwsCost", () => {
  it("prices Lambda's duration by GB-seconds, memory in MB / 1024", () => {
    // 1,000 invocations × 10 s × 2,048 MB (2 GB) = 20,000 GB-s;
    // x86:   20,000 × $0.0000166667 = $0.333334
    // arm64: 20,000 × $0.0000133334 = $0.266668
    const x86: AwsUsage = { lambda: [{ architecture: "x86_64", memoryMb: 2048, invocations: 1000, secondsEach: 10 }], s3: NO_S3, sqsRequests: 0 };
    const arm: AwsUsage = { ...x86, lambda: [{ ...x86.lambda[0]!, architecture: "arm64" }] };
    expect(lambdaGbSeconds(x86.lambda[0]!)).toBe(20_000);
    expect(line(x86, "Lambda duration")).toBeCloseTo(0.333334, 9);
    expect(line(arm, "Lambda duration")).toBeCloseTo(0.266668, 9);
    // 1,000 invocations × $0.20 / 1,000,000 = $0.0002; with the duration $0.333534.
    expect(line(x86, "Lambda invocations")).toBeCloseTo(0.0002, 12);
    expect(estimateAwsCost(x86).lambdaUsd).toBeCloseTo(0.333534, 9);
    expect(estimateAwsCost(x86).totalUsd).toBeCloseTo(0.333534, 9);
  });

  it("charges /tmp beyond the free 512 MB", () => {
    // 10,240 MB configured: 9,728 MB billed = 9.5 GB; × 10 s × 1,000 invocations = 95,000 GB-s;
    // × $0.0000000309 = $0.0029355.
    const usage: AwsUsage = {
      lambda: [{ architecture: "x86_64", memoryMb: 2048, ephemeralStorageMb: 10240, invocations: 1000, secondsEach: 10 }],
      s3: NO_S3,
      sqsRequests: 0,
    };
    expect(line(usage, "Lambda /tmp")).toBeCloseTo(0.0029355, 10);
    // 512 MB (the default) is free: no line at all.
    const free = { ...usage, lambda: [{ ...usage.lambda[0]!, ephemeralStorageMb: 512 }] };
    expect(estimateAwsCost(free).lines.some((l) => l.item.startsWith("Lambda /tmp"))).toBe(false);
  });

  it("prices S3 requests per thousand, storage per GB-month, SQS per million", () => {
    // 40,000 PUT-class × $0.005 / 1,000 = $0.20
    // 1,000,000 GETs × $0.0004 / 1,000 = $0.40
    // 1 TiB (1,024 GB) kept 730 hours = 1,024 GB-month × $0.023 = $23.552
    // 3,000 SQS requests × $0.40 / 1,000,000 = $0.0012
    // total $24.1532
    const usage: AwsUsage = {
      lambda: [],
      s3: { writeRequests: 40_000, readRequests: 1_000_000, byteSeconds: 2 ** 40 * 730 * 3600 },
      sqsRequests: 3000,
    };
    expect(gbMonths(usage.s3.byteSeconds)).toBe(1024);
    expect(line(usage, "S3 PUT")).toBeCloseTo(0.2, 12);
    expect(line(usage, "S3 GET")).toBeCloseTo(0.4, 12);
    expect(line(usage, "S3 storage")).toBeCloseTo(23.552, 9);
    expect(line(usage, "SQS")).toBeCloseTo(0.0012, 12);
    const estimate = estimateAwsCost(usage);
    expect(estimate.s3Usd).toBeCloseTo(24.152, 9);
    expect(estimate.sqsUsd).toBeCloseTo(0.0012, 12);
    expect(estimate.totalUsd).toBeCloseTo(24.1532, 9);
  });

  it("takes another price table", () => {
    // 1 GB (1,024 MB) × 1 s × 1 invocation at a doubled x86 price: 2 × $0.0000166667.
    const doubled = { ...AWS_PRICES, lambdaGbSecondX86: { ...AWS_PRICES.lambdaGbSecondX86, usd: 2 * AWS_PRICES.lambdaGbSecondX86.usd } };
    const usage: AwsUsage = { lambda: [{ architecture: "x86_64", memoryMb: 1024, invocations: 1, secondsEach: 1 }], s3: NO_S3, sqsRequests: 0 };
    expect(estimateAwsCost(usage, doubled).lines[0]!.usd).toBeCloseTo(0.0000333334, 14);
  });
});

describe("AWS_PRICES", () => {
  it("names the page, the unit and a non-negative price of each entry, in one region on one date", () => {
    expect(AWS_PRICES.region).toBe("us-east-1");
    expect(AWS_PRICES.recorded).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(priceList()).toHaveLength(9);
    for (const [, price] of priceList()) {
      expect(price.source).toMatch(/^https:\/\/aws\.amazon\.com\//);
      expect(price.unit.length).toBeGreaterThan(0);
      expect(price.usd).toBeGreaterThanOrEqual(0);
      expect(price.per).toBeGreaterThan(0);
    }
    expect(GB).toBe(1024 ** 3);
  });
});
