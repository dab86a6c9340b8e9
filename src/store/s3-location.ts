// Where the S3 store keeps its objects: the store URL (bucket, prefix, spread) and the hashed
// shard each key lives under. S3's request limits (about 3,500 writes and 5,500 reads per
// second) apply per prefix, so with a spread of N a logical key `k` is stored at
// `{prefix}{fnv1a(k) % N}/k` and a listing asks every shard.
//
// Apart from s3-object-store.ts so that opening a store URL, and the CDK construct's lifecycle
// rules, need no AWS SDK. Objects already written are found only while this stays as it is.
import { fnv1a32 } from "../common/fnv1a.js";

export interface S3Location {
  bucket: string;
  /** Prefix of every key the store writes, e.g. `beam-lambda/` (may be empty). */
  prefix: string;
  /** Number of hashed prefixes keys are spread over (1 = none). */
  spread: number;
}

/** More hashed prefixes than this gain nothing (S3 scales each prefix on its own) and cost a LIST each. */
const MAX_SPREAD = 4096;

/** Reads `s3://bucket/prefix?spread=N`. */
export function parseS3StoreUrl(url: string): S3Location {
  const parsed = new URL(url);
  const spreadText = parsed.searchParams.get("spread") ?? "1";
  const spread = Number(spreadText);
  // A fractional spread would hash keys to shards that listing never visits: refuse, not lose data.
  if (!/^\d+$/.test(spreadText) || spread < 1 || spread > MAX_SPREAD) {
    throw new Error(`the store URL's spread must be a whole number from 1 to ${MAX_SPREAD}, got '${spreadText}' in ${url}`);
  }
  return { bucket: parsed.hostname, prefix: parsed.pathname.replace(/^\//, ""), spread };
}

/** The store's URL, as workers are handed it; a spread of 1 is left out. */
export function s3StoreUrl(location: S3Location): string {
  return `s3://${location.bucket}/${location.prefix}${location.spread > 1 ? `?spread=${location.spread}` : ""}`;
}

/** Where logical key `key` is stored: under its hashed shard. */
export function shardedKey(prefix: string, spread: number, key: string): string {
  return spread === 1 ? `${prefix}${key}` : `${prefix}${fnv1a32(Buffer.from(key)) % spread}/${key}`;
}

/** The prefixes keys are spread over, `{prefix}{i}/` for each shard (the prefix alone for a spread of 1). */
export function shardPrefixes(prefix: string, spread: number): string[] {
  return spread === 1 ? [prefix] : Array.from({ length: spread }, (_, i) => `${prefix}${i}/`);
}
