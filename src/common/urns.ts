// Every URN the runner reacts to, in one place. The values are Beam's standard URNs
// (beam_runner_api.proto's beam_urn options); test/common/urns.test.ts checks them against
// the Python SDK's `common_urns`, so a typo cannot hide here.

export const Transforms = {
  impulse: "beam:transform:impulse:v1",
  parDo: "beam:transform:pardo:v1",
  flatten: "beam:transform:flatten:v1",
  groupByKey: "beam:transform:group_by_key:v1",
  windowInto: "beam:transform:window_into:v1",
  reshuffle: "beam:transform:reshuffle:v1",
  combinePerKey: "beam:transform:combine_per_key:v1",
  combineGlobally: "beam:transform:combine_globally:v1",
  combinePerKeyPrecombine: "beam:transform:combine_per_key_precombine:v1",
  combinePerKeyMergeAccumulators: "beam:transform:combine_per_key_merge_accumulators:v1",
  combinePerKeyExtractOutputs: "beam:transform:combine_per_key_extract_outputs:v1",
  combineGroupedValues: "beam:transform:combine_grouped_values:v1",
  pairWithRestriction: "beam:transform:sdf_pair_with_restriction:v1",
  splitAndSizeRestrictions: "beam:transform:sdf_split_and_size_restrictions:v1",
  processSizedElementsAndRestrictions: "beam:transform:sdf_process_sized_element_and_restrictions:v1",
  truncateSizedRestriction: "beam:transform:sdf_truncate_sized_restrictions:v1",
  testStream: "beam:transform:teststream:v1",
  read: "beam:transform:read:v1",
  mapWindows: "beam:transform:map_windows:v1",
  mergeWindows: "beam:transform:merge_windows:v1",
  toString: "beam:transform:to_string:v1",
  /** The Fn API's data-plane endpoints that the runner adds to a bundle descriptor. */
  dataSource: "beam:runner:source:v1",
  dataSink: "beam:runner:sink:v1",
} as const;

export const Coders = {
  bytes: "beam:coder:bytes:v1",
  stringUtf8: "beam:coder:string_utf8:v1",
  kv: "beam:coder:kv:v1",
  bool: "beam:coder:bool:v1",
  varint: "beam:coder:varint:v1",
  double: "beam:coder:double:v1",
  iterable: "beam:coder:iterable:v1",
  stateBackedIterable: "beam:coder:state_backed_iterable:v1",
  timer: "beam:coder:timer:v1",
  intervalWindow: "beam:coder:interval_window:v1",
  globalWindow: "beam:coder:global_window:v1",
  lengthPrefix: "beam:coder:length_prefix:v1",
  windowedValue: "beam:coder:windowed_value:v1",
  paramWindowedValue: "beam:coder:param_windowed_value:v1",
  nullable: "beam:coder:nullable:v1",
} as const;

export const WindowFns = {
  global: "beam:window_fn:global_windows:v1",
  fixed: "beam:window_fn:fixed_windows:v1",
  sliding: "beam:window_fn:sliding_windows:v1",
  sessions: "beam:window_fn:session_windows:v1",
} as const;

export const SideInputAccess = {
  iterable: "beam:side_input:iterable:v1",
  multimap: "beam:side_input:multimap:v1",
} as const;

/**
 * StateSpec.protocol: the StateKeys an SDK harness uses for a user state (beam_runner_api.proto's
 * StandardUserStateTypes). The npm protos' enum has no URNs, hence literals here.
 */
export const UserStateProtocols = {
  /** BagUserState: bag, value, combining, and Python's set state. */
  bag: "beam:user_state:bag:v1",
  /** MultimapKeysUserState and MultimapUserState: map and multimap state, Go's and Java's set state. */
  multimap: "beam:user_state:multimap:v1",
  /** OrderedListUserState (StateKey field 9, newer than the npm protos: see src/worker/ordered-list-state-key.ts). */
  orderedList: "beam:user_state:ordered_list:v1",
} as const;

export const Environments = {
  docker: "beam:env:docker:v1",
  process: "beam:env:process:v1",
  external: "beam:env:external:v1",
  default: "beam:env:default:v1",
  // The Python SDK's LOOPBACK is an EXTERNAL environment pointing at its own worker pool.
} as const;

/** Resource hints (Environment.resource_hints) the runner reads. */
export const ResourceHints = {
  /** ASCII decimal bytes; a stage asking for more than a Lambda function has runs on a Fargate executor. */
  minRamBytes: "beam:resources:min_ram_bytes:v1",
} as const;

/** Pipeline requirements (Pipeline.requirements) that this runner honours. */
export const Requirements = {
  splittableDoFn: "beam:requirement:pardo:splittable_dofn:v1",
  statefulProcessing: "beam:requirement:pardo:stateful:v1",
  bundleFinalization: "beam:requirement:pardo:finalization:v1",
  stableInput: "beam:requirement:pardo:stable_input:v1",
  timeSortedInput: "beam:requirement:pardo:time_sorted_input:v1",
  onWindowExpiration: "beam:requirement:pardo:on_window_expiration:v1",
} as const;

export const MonitoringInfos = {
  userSumInt64: "beam:metric:user:sum_int64:v1",
  userDistributionInt64: "beam:metric:user:distribution_int64:v1",
  elementCount: "beam:metric:element_count:v1",
} as const;

/** Capabilities the runner advertises to SDK harnesses (RUNNER_CAPABILITIES). */
export const RunnerCapabilities = {
  monitoringInfoShortIds: "beam:protocol:monitoring_info_short_ids:v1",
  controlResponseElementsEmbedding: "beam:protocol:control_response_elements_embedding:v1",
} as const;
