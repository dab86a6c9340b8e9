// The reduce side reads every source of keyed records (records held in memory, a run spilled to
// disk, the merge of several runs) through one cursor, so grouping never asks where they are.
import type { KeyedRecordView } from "./keyed-record.js";

/**
 * A run of keyed records in sorted order (or in grouped order, for a run grouped by hash table),
 * read once from the start. `view` is the current record once `advance` has returned true, and
 * stays valid until the next `advance`.
 *
 * `close` releases what the run holds (a spilled run's file descriptor) whether or not it was
 * read to the end: a reader that stops early must call it, or a warm worker leaks a descriptor
 * per run per aborted task. Closing twice is harmless; a closed run has no more records.
 */
export interface RunCursor {
  readonly view: KeyedRecordView;
  advance(): boolean;
  close(): void;
}
