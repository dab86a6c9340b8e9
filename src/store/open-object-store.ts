import { fileURLToPath } from "node:url";
import { LocalObjectStore } from "./local-object-store.js";
import type { ObjectStore } from "./object-store.js";
import { parseS3StoreUrl } from "./s3-location.js";
import { S3ObjectStore } from "./s3-object-store.js";

/**
 * Opens a store from its URL: `file:///path` (or a plain path), or `s3://bucket/prefix?spread=N`.
 * S3 clients take their region, credentials and endpoint (AWS_ENDPOINT_URL for LocalStack) from
 * the standard AWS environment; AWS_S3_FORCE_PATH_STYLE=1 selects path-style addressing.
 */
export function openObjectStore(url: string): ObjectStore {
  if (url.startsWith("s3://")) {
    return new S3ObjectStore({
      ...parseS3StoreUrl(url),
      clientConfig: { forcePathStyle: process.env.AWS_S3_FORCE_PATH_STYLE === "1" || process.env.AWS_S3_FORCE_PATH_STYLE === "true" },
    });
  }
  if (url.startsWith("file://")) return new LocalObjectStore(fileURLToPath(url));
  if (url.includes("://")) throw new Error(`unsupported object store URL '${url}'`);
  return new LocalObjectStore(url);
}
