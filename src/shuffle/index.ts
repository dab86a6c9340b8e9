export { PartitionedObjectWriter, readRecords, partitionOf } from "./partitioned-object.js";
export { mergePartitionedOutputs, mergeGroups, predictedRequests, type PartitionedOutput } from "./merge.js";
export { GrowableBuffer } from "./growable-buffer.js";
export { hashBytes, KeyedRecordView } from "./keyed-record.js";
export { ShuffleOutputWriter, appendKeyedRecords, type RecordFormat } from "./shuffle-writer.js";
export { GroupingReducer, type GroupingOptions } from "./grouping-reducer.js";
export type { ElementChunk } from "./grouped-output-encoder.js";
export { mergeSessionWindows, type KeyWindows, type MergeWindowsFn, type WindowMapping } from "./window-merging.js";
export { OverflowValues } from "./overflow-values.js";
