import type { ByteRange, ObjectData, ObjectStore } from "./object-store.js";

/**
 * A store whose implementation is loaded on its first request, so that opening it stays
 * synchronous while the code behind it (the S3 store and the AWS SDK) is imported only by a
 * process that uses it. A failed load fails every request, as the store itself would.
 */
export class LazyObjectStore implements ObjectStore {
  private loading: Promise<ObjectStore> | undefined;

  constructor(
    readonly url: string,
    private readonly load: () => Promise<ObjectStore>,
  ) {}

  /** The store itself, loaded by the first call. */
  loaded(): Promise<ObjectStore> {
    return (this.loading ??= this.load());
  }

  async put(key: string, data: ObjectData): Promise<void> {
    return (await this.loaded()).put(key, data);
  }

  async create(key: string, data: Uint8Array): Promise<boolean> {
    return (await this.loaded()).create(key, data);
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    return (await this.loaded()).get(key, range);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.loaded()).exists(key);
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.loaded()).list(prefix);
  }

  async deletePrefix(prefix: string): Promise<void> {
    return (await this.loaded()).deletePrefix(prefix);
  }
}
