export type { ObjectStore, ObjectData, ByteRange } from "./object-store.js";
export { ObjectNotFoundError } from "./object-store.js";
export { LocalObjectStore } from "./local-object-store.js";
export { S3ObjectStore, type S3ObjectStoreOptions } from "./s3-object-store.js";
export { PartitionedObjectWriter, readRecords, partitionOf } from "./partitioned-object.js";
export { openObjectStore } from "./open-object-store.js";
export { mergePartitionedOutputs, mergeGroups, predictedRequests, type PartitionedOutput } from "./merge.js";
export { CountingObjectStore } from "./counting-object-store.js";
export { GrowableBuffer } from "./growable-buffer.js";
export { hashBytes, KeyedRecordView } from "./keyed-record.js";
export { ShuffleOutputWriter, appendKeyedRecords, type RecordFormat } from "./shuffle-writer.js";
export {
  GroupingReducer,
  mergeSessionWindows,
  type GroupingOptions,
  type ElementChunk,
  type KeyWindows,
  type MergeWindowsFn,
  type WindowMapping,
} from "./grouping-reducer.js";
export { OverflowValues } from "./overflow-values.js";
