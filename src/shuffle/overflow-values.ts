// Values of one huge group that do not fit in the element handed to the SDK. They go to a local
// file, and the element ends with a token instead (Beam's state-backed iterable encoding); the
// SDK pulls the rest page by page through the State API (StateKey.Runner), so neither the
// worker nor the harness holds a huge group in memory. Files are read and written with
// synchronous calls: each is a page-cache copy of at most a page, short next to a bundle.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { GrowableBuffer } from "./growable-buffer.js";

/** Page size of State API responses; pages end on value boundaries. */
const PAGE_BYTES = 1 << 20;
const FLUSH_BYTES = 4 << 20;

export class OverflowValues {
  private dir?: string;
  private fd = -1;
  private flushed = 0;
  private readonly pending = new GrowableBuffer(FLUSH_BYTES + PAGE_BYTES);
  private readonly pagesByToken = new Map<string, number[]>();
  private current?: number[];

  constructor(private readonly parentDir: string) {}

  private get offset(): number {
    return this.flushed + this.pending.length;
  }

  /** Starts the overflow of one group. */
  begin(): void {
    if (this.current) throw new Error("an overflowing group is already open");
    if (this.fd < 0) {
      this.dir = mkdtempSync(join(this.parentDir, "blr-overflow-"));
      this.fd = openSync(join(this.dir, "values"), "w+");
    }
    this.current = [this.offset];
  }

  /** Appends one encoded value, bytes [start, end) of `buf`. */
  append(buf: Buffer, start: number, end: number): void {
    const pages = this.current!;
    if (this.offset - pages[pages.length - 1]! >= PAGE_BYTES) pages.push(this.offset);
    this.pending.range(buf, start, end);
    if (this.pending.length >= FLUSH_BYTES) this.flush();
  }

  /** Ends the group's overflow and returns the token the SDK will read it by. */
  finish(): Buffer {
    const pages = this.current!;
    this.current = undefined;
    pages.push(this.offset);
    this.flush();
    const token = `blr-overflow-${this.pagesByToken.size}`;
    this.pagesByToken.set(token, pages);
    return Buffer.from(token, "latin1");
  }

  /** One page of a group's overflow; the continuation token names the next page. */
  read(token: Uint8Array, continuation: Uint8Array): { data: Buffer; continuationToken: Uint8Array } {
    const pages = this.pagesByToken.get(Buffer.from(token).toString("latin1"));
    if (!pages) throw new Error(`unknown state-backed iterable token '${Buffer.from(token).toString("latin1")}'`);
    const page = continuation.length > 0 ? Number(Buffer.from(continuation).toString("latin1")) : 0;
    const start = pages[page]!;
    const end = pages[page + 1]!;
    const data = Buffer.allocUnsafe(end - start);
    for (let done = 0; done < data.length; ) done += readSync(this.fd, data, done, data.length - done, start + done);
    const last = page + 2 >= pages.length;
    return { data, continuationToken: last ? new Uint8Array() : Buffer.from(String(page + 1), "latin1") };
  }

  private flush(): void {
    const bytes = this.pending.view();
    for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done, bytes.length - done, this.flushed + done);
    this.flushed += bytes.length;
    this.pending.length = 0;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
