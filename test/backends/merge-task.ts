// A merge task for tests of task transport: one small map output in `store`, read `copies` times.
import { type MergeTaskSpec, TASK_SPEC_VERSION } from "../../src/common/task-spec.js";
import { PartitionedObjectWriter } from "../../src/shuffle/index.js";
import type { ObjectStore } from "../../src/store/index.js";

export async function mergeTaskOver(
  store: ObjectStore,
  options: { jobId: string; records: string[]; copies: number },
): Promise<{ spec: MergeTaskSpec; offsets: number[] }> {
  const writer = new PartitionedObjectWriter(options.records.length);
  options.records.forEach((r, p) => writer.add(p, Buffer.from(r)));
  const key = `jobs/${options.jobId}/map-0`;
  const offsets = await writer.write(store, key);
  const inputs = Array.from({ length: options.copies }, () => ({ id: "m", key, offsets, format: "plain" as const, elements: options.records.length }));
  const spec: MergeTaskSpec = {
    version: TASK_SPEC_VERSION,
    kind: "merge",
    jobId: options.jobId,
    stageId: "s0",
    stageName: "merge",
    taskIndex: 0,
    attempt: 0,
    materializationId: "m",
    inputs,
    outputKey: `jobs/${options.jobId}/merged`,
  };
  return { spec, offsets };
}
