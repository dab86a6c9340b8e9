// Push-based merge (Exoshuffle, Magnet): a merge task reads a group of map outputs whole and
// writes one object whose partition p is the concatenation of the group's partitions p. Reducers
// then read one range per merged object instead of one per map output.
//
// Requests for M map tasks, R partitions and merge factor F (maps per merge task):
//   without merge:  PUT = M              GET = M × R
//   with merge:     PUT = M + ⌈M/F⌉      GET = M + ⌈M/F⌉ × R
// (empty ranges are never fetched, so these are upper bounds for GETs).
import type { ObjectStore } from "../store/index.js";
import { encodeIndex } from "./partitioned-object.js";

/** A map (or merged) output: its object key and R + 1 partition offsets. */
export interface PartitionedOutput {
  key: string;
  offsets: number[];
}

/** Merges `inputs` (all with the same partition count) into one object under `key`. */
export async function mergePartitionedOutputs(store: ObjectStore, inputs: PartitionedOutput[], key: string): Promise<PartitionedOutput> {
  const partitions = inputs[0] ? inputs[0].offsets.length - 1 : 0;
  if (inputs.some((i) => i.offsets.length - 1 !== partitions)) {
    throw new Error(`cannot merge outputs with different partition counts into '${key}'`);
  }
  // One whole-object read per input: a merge task costs F GETs, not F × R.
  const bodies = await Promise.all(
    inputs.map((i) => {
      const end = i.offsets[partitions]!;
      return end > 0 ? store.get(i.key, { start: 0, end }) : Promise.resolve(Buffer.alloc(0));
    }),
  );
  const parts: Uint8Array[] = [];
  const offsets = [0];
  for (let p = 0; p < partitions; p++) {
    let size = 0;
    inputs.forEach((input, i) => {
      const start = input.offsets[p]!;
      const end = input.offsets[p + 1]!;
      if (end > start) {
        parts.push(bodies[i]!.subarray(start, end));
        size += end - start;
      }
    });
    offsets.push(offsets[p]! + size);
  }
  await store.put(key, [...parts, encodeIndex(offsets)]);
  return { key, offsets };
}

/** Groups map outputs into merge tasks of `factor` outputs each. */
export function mergeGroups<T>(outputs: T[], factor: number): T[][] {
  const groups: T[][] = [];
  for (let i = 0; i < outputs.length; i += factor) groups.push(outputs.slice(i, i + factor));
  return groups;
}

/** The request counts the model above predicts. */
export function predictedRequests(maps: number, partitions: number, factor?: number): { puts: number; gets: number } {
  if (!factor) return { puts: maps, gets: maps * partitions };
  const merged = Math.ceil(maps / factor);
  return { puts: maps + merged, gets: maps + merged * partitions };
}
