import { fileURLToPath } from "node:url";
import { LazyObjectStore } from "./lazy-object-store.js";
import { LocalObjectStore } from "./local-object-store.js";
import type { ObjectStore } from "./object-store.js";
import { parseS3StoreUrl, s3StoreUrl } from "./s3-location.js";

/**
 * Opens a store from its URL: `file:///path` (or a plain path), or `s3://bucket/prefix?spread=N`.
 * S3 clients take their region, credentials and endpoint (AWS_ENDPOINT_URL for LocalStack) from
 * the standard AWS environment; AWS_S3_FORCE_PATH_STYLE=1 selects path-style addressing. The S3
 * store is imported on its first request, so a process that never uses one (a local run) never
 * loads the AWS SDK.
 */
export function openObjectStore(url: string): ObjectStore {
  if (url.startsWith("s3://")) {
    const location = parseS3StoreUrl(url);
    const clientConfig = { forcePathStyle: process.env.AWS_S3_FORCE_PATH_STYLE === "1" || process.env.AWS_S3_FORCE_PATH_STYLE === "true" };
    return new LazyObjectStore(s3StoreUrl(location), async () => {
      const { S3ObjectStore } = await import("./s3-object-store.js");
      return new S3ObjectStore({ ...location, clientConfig });
    });
  }
  if (url.startsWith("file://")) return new LocalObjectStore(fileURLToPath(url));
  if (url.includes("://")) throw new Error(`unsupported object store URL '${url}'`);
  return new LocalObjectStore(url);
}
