import type { ByteRange, ObjectData, ObjectStore } from "./object-store.js";

/** Wraps a store and counts the requests that reach it (for the request-count model and benchmarks). */
export class CountingObjectStore implements ObjectStore {
  puts = 0;
  gets = 0;
  lists = 0;

  constructor(private readonly inner: ObjectStore) {}

  get url(): string {
    return this.inner.url;
  }

  put(key: string, data: ObjectData): Promise<void> {
    this.puts++;
    return this.inner.put(key, data);
  }

  create(key: string, data: Uint8Array): Promise<boolean> {
    this.puts++;
    return this.inner.create(key, data);
  }

  get(key: string, range?: ByteRange): Promise<Buffer> {
    this.gets++;
    return this.inner.get(key, range);
  }

  exists(key: string): Promise<boolean> {
    return this.inner.exists(key);
  }

  list(prefix: string): Promise<string[]> {
    this.lists++;
    return this.inner.list(prefix);
  }

  deletePrefix(prefix: string): Promise<void> {
    return this.inner.deletePrefix(prefix);
  }
}
