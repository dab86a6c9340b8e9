// An ObjectStore on S3. Keys are spread over a number of hashed prefixes (s3-location.ts),
// because S3's request limits apply per prefix and a shuffle of thousands of tasks would
// otherwise hit one. Retries with jittered exponential backoff on throttling and 5xx are the
// AWS SDK's own (its "adaptive" retry mode also rate-limits the client when S3 pushes back).
// Importing this module loads the S3 client: openObjectStore imports it only for an s3:// URL.
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import { Upload } from "@aws-sdk/lib-storage";
import { type ByteRange, type ObjectData, ObjectNotFoundError, type ObjectStore } from "./object-store.js";
import { s3StoreUrl, shardPrefixes, shardedKey } from "./s3-location.js";

/** Objects above this go up as a multipart upload, in parts of this size. */
export const MULTIPART_THRESHOLD = 16 << 20;
const DELETE_BATCH = 1000;

export interface S3ObjectStoreOptions {
  bucket: string;
  /** Prefix for everything this store writes, e.g. `beam-lambda/`. */
  prefix?: string;
  /** Number of hashed prefixes keys are spread over (1 = none). */
  spread?: number;
  client?: S3Client;
  clientConfig?: S3ClientConfig;
}

export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;
  readonly bucket: string;
  private readonly prefix: string;
  private readonly spread: number;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? "";
    this.spread = Math.max(1, options.spread ?? 1);
    this.client = options.client ?? new S3Client({ retryMode: "adaptive", maxAttempts: 8, ...options.clientConfig });
  }

  get url(): string {
    return s3StoreUrl({ bucket: this.bucket, prefix: this.prefix, spread: this.spread });
  }

  /** The physical key: the logical key under its hashed shard. */
  private physical(key: string): string {
    return shardedKey(this.prefix, this.spread, key);
  }

  async put(key: string, parts: ObjectData): Promise<void> {
    if (!(parts instanceof Uint8Array) && !Array.isArray(parts)) {
      // A stream of unknown length: multipart, part by part, never all in memory.
      const Body = Readable.from(parts as AsyncIterable<Uint8Array>);
      await new Upload({ client: this.client, params: { Bucket: this.bucket, Key: this.physical(key), Body }, partSize: MULTIPART_THRESHOLD, queueSize: 4 }).done();
      return;
    }
    const data = parts instanceof Uint8Array ? parts : Buffer.concat(parts as readonly Uint8Array[]);
    // S3 makes an object visible only once its PUT (or multipart completion) succeeds: a
    // writer that dies halfway leaves nothing readable, as the interface requires.
    if (data.length <= MULTIPART_THRESHOLD) {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.physical(key), Body: data }));
      return;
    }
    await new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.physical(key), Body: data },
      partSize: MULTIPART_THRESHOLD,
      queueSize: 4,
    }).done();
  }

  async create(key: string, data: Uint8Array): Promise<boolean> {
    try {
      // S3's conditional write: the PUT fails with 412 when the key exists, and with 409 while
      // another conditional PUT of it is in flight (then the loser waits and looks again).
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.physical(key), Body: data, IfNoneMatch: "*" }));
      return true;
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412) return false;
      if (status === 409) {
        await new Promise((r) => setTimeout(r, 200));
        return this.create(key, data);
      }
      throw e;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    if (range && range.end <= range.start) return Buffer.alloc(0);
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.physical(key),
          Range: range ? `bytes=${range.start}-${range.end - 1}` : undefined,
        }),
      );
      return Buffer.from(await response.Body!.transformToByteArray());
    } catch (e) {
      if (e instanceof NoSuchKey || (e as { name?: string }).name === "NoSuchKey") throw new ObjectNotFoundError(key, { cause: e });
      throw e;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.physical(key) }));
      return true;
    } catch (e) {
      if (e instanceof NotFound || (e as { name?: string }).name === "NotFound") return false;
      throw e;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const lists = await Promise.all(
      shardPrefixes(this.prefix, this.spread).map(async (shard) => {
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const page = await this.client.send(
            new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${shard}${prefix}`, ContinuationToken: token }),
          );
          for (const o of page.Contents ?? []) keys.push(o.Key!.slice(shard.length));
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return keys;
      }),
    );
    return lists.flat().sort();
  }

  async deletePrefix(prefix: string): Promise<void> {
    const keys = (await this.list(prefix)).map((k) => this.physical(k));
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.slice(i, i + DELETE_BATCH).map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }
}
