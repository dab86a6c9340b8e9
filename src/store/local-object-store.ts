import { randomUUID } from "node:crypto";
import { link, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { type ByteRange, type ObjectData, ObjectNotFoundError, type ObjectStore, ObjectStoreError } from "./object-store.js";

/**
 * A file system error in terms of the key: Node's messages end with the paths involved
 * ("ENOENT: no such file or directory, open '/tmp/…/jobs/…'"), which must not leave the server.
 */
function keyedError(operation: string, key: string, e: unknown): Error {
  if (e instanceof ObjectNotFoundError || e instanceof ObjectStoreError) return e;
  // An error of the data's own source (a staging stream's gRPC status) passes through as it is.
  if (e instanceof Error && typeof (e as { code?: unknown }).code === "number") return e;
  const errno = e as NodeJS.ErrnoException;
  if (errno.code === "ENOENT" && operation === "get") return new ObjectNotFoundError(key, { cause: e });
  // "CODE: description, syscall 'path'": keep the code and the description.
  const reason = typeof errno.message === "string" ? errno.message.split(",")[0]! : String(e);
  return new ObjectStoreError(operation, key, reason, { cause: e });
}

/** An ObjectStore over a local directory. Writes go to a temporary name and are renamed into place. */
export class LocalObjectStore implements ObjectStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get url(): string {
    return pathToFileURL(this.root).href;
  }

  private path(key: string): string {
    const p = resolve(this.root, key);
    if (p !== this.root && !p.startsWith(this.root + sep)) throw new Error(`object key '${key}' escapes the store`);
    return p;
  }

  async put(key: string, data: ObjectData): Promise<void> {
    const target = this.path(key);
    const temp = `${target}.tmp-${randomUUID()}`;
    try {
      await mkdir(dirname(target), { recursive: true });
      // A stream is written chunk by chunk, each awaited: never held whole.
      await writeFile(temp, data);
      await rename(temp, target);
    } catch (e) {
      // A stream that fails half-way leaves no partial temporary file behind.
      await rm(temp, { force: true }).catch(() => undefined);
      throw keyedError("put", key, e);
    }
  }

  async create(key: string, data: Uint8Array): Promise<boolean> {
    const target = this.path(key);
    const temp = `${target}.tmp-${randomUUID()}`;
    try {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(temp, data);
      // link(2), unlike rename(2), fails when the target exists: the first writer wins, whole.
      await link(temp, target);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw keyedError("create", key, e);
    } finally {
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const p = this.path(key);
    try {
      if (!range) return await readFile(p);
      const fh = await open(p, "r");
      try {
        const buf = Buffer.allocUnsafe(range.end - range.start);
        const { bytesRead } = await fh.read(buf, 0, buf.length, range.start);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    } catch (e) {
      throw keyedError("get", key, e);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.path(key))).isFile();
    } catch {
      return false;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.path(prefix.endsWith("/") ? prefix : dirname(prefix) + "/");
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (!e.name.includes(".tmp-")) {
          const key = relative(this.root, full).split(sep).join("/");
          if (key.startsWith(prefix)) out.push(key);
        }
      }
    };
    await walk(base);
    return out.sort();
  }

  async deletePrefix(prefix: string): Promise<void> {
    // A prefix naming a folder goes in one call; otherwise delete the matching objects.
    const remove = async (key: string, recursive: boolean): Promise<void> => {
      const p = this.path(key);
      await rm(p, { recursive, force: true }).catch((e: unknown) => {
        throw keyedError("delete", key, e);
      });
    };
    if (prefix.endsWith("/")) await remove(prefix, true);
    else for (const key of await this.list(prefix)) await remove(key, false);
  }
}
