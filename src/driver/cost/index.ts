export {
  ASSUMED_S3_BYTES_PER_SECOND,
  DEFAULT_SORT_MODEL,
  MEASURED_SHUFFLE_BYTES_PER_SECOND,
  MEASURED_SPILLING_REDUCE_BYTES_PER_SECOND,
  MEASURED_TASK_START_SECONDS,
  type RequestCounts,
  type SortModel,
  type SortModelOptions,
  modelSort,
  uploadRequests,
} from "./sort-cost-model.js";
export { COST_DOC_BEGIN, COST_DOC_END, costTablesIn, renderCostTables, withCostTables } from "./sort-cost-tables.js";
