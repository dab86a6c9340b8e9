export type ObjectData = Uint8Array | readonly Uint8Array[] | AsyncIterable<Uint8Array>;

/** A byte range of an object; `end` is exclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where artifacts, bundle descriptors and shuffle data live: local files or S3.
 * `put` is atomic: a reader sees the whole object or no object, never a part.
 */
export interface ObjectStore {
  /**
   * `data` may come in parts, written back to back (no need to assemble one buffer first), or
   * as a stream of parts, consumed one at a time (an object larger than memory).
   */
  put(key: string, data: ObjectData): Promise<void>;
  /**
   * Writes `data` only if no object has `key`, atomically against every other writer: true if
   * it wrote, false if the key was taken. For records that must be written once (a task's commit
   * in the job journal), even by two job servers that overlap on one store.
   */
  create(key: string, data: Uint8Array): Promise<boolean>;
  get(key: string, range?: ByteRange): Promise<Buffer>;
  exists(key: string): Promise<boolean>;
  list(prefix: string): Promise<string[]>;
  deletePrefix(prefix: string): Promise<void>;
  /** A description for messages and for handing the store to a worker, e.g. `file:///tmp/x`. */
  readonly url: string;
}

export class ObjectNotFoundError extends Error {
  override name = "ObjectNotFoundError";
  constructor(readonly key: string, options?: ErrorOptions) {
    super(`object '${key}' does not exist`, options);
  }
}

/**
 * A store operation that failed for another reason than a missing object. The message names the
 * key and the system's reason, never a local path: it reaches job messages and gRPC answers,
 * and the store's directory is the server's business. The original error is the cause.
 */
export class ObjectStoreError extends Error {
  override name = "ObjectStoreError";
  constructor(
    readonly operation: string,
    readonly key: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`${operation} of object '${key}' failed: ${reason}`, options);
  }
}
