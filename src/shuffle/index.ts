export type { ObjectStore, ByteRange } from "./object-store.js";
export { ObjectNotFoundError } from "./object-store.js";
export { LocalObjectStore } from "./local-object-store.js";
export { S3ObjectStore, type S3ObjectStoreOptions } from "./s3-object-store.js";
export { PartitionedObjectWriter, readRecords, partitionOf } from "./partitioned-object.js";
export { openObjectStore } from "./open-object-store.js";
export { mergePartitionedOutputs, mergeGroups, predictedRequests, type PartitionedOutput } from "./merge.js";
export { CountingObjectStore } from "./counting-object-store.js";
