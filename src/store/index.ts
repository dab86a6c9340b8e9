// Where the runner's objects live (artifacts, bundle descriptors, shuffle data, task specs and
// results too large to send): the ObjectStore interface, its implementations, the store URL, and
// the key layout (layout.ts).
// S3ObjectStore is not exported here: importing it loads the AWS SDK's S3 client, which a local
// run never needs; openObjectStore loads it for an s3:// URL.
export type { ObjectStore, ObjectData, ByteRange } from "./object-store.js";
export { ObjectNotFoundError, ObjectStoreError } from "./object-store.js";
export { LocalObjectStore } from "./local-object-store.js";
export { CountingObjectStore } from "./counting-object-store.js";
export { openObjectStore } from "./open-object-store.js";
export { type S3Location, s3StoreUrl, shardPrefixes } from "./s3-location.js";
export {
  ARTIFACTS_FOLDER,
  JOBS_FOLDER,
  JOURNAL_FOLDER,
  JobKeys,
  JournalKeys,
  artifactPrefix,
  attemptKey,
  jobIdOfTaskReference,
  jobPrefix,
  journalPrefix,
  journaledJobIds,
  resultReferenceKey,
  taskReferenceKey,
} from "./layout.js";
