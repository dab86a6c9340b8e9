// A sorted run spilled to local disk (a Lambda's /tmp) when a reducer's input passes its memory
// budget: framed keyed records in run order, written and read back sequentially in large
// pieces. Synchronous calls: each moves megabytes through the page cache, and grouping has
// nothing else to do meanwhile.
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { GrowableBuffer, readVarintAt, varintEnd } from "./growable-buffer.js";
import { KeyedRecordView, appendFramedRecord } from "./keyed-record.js";
import type { RunCursor } from "./run-cursor.js";

const SPILL_IO_BYTES = 4 << 20;

/** Writes every record of `run`, in its order, to a new file at `path`. */
export function writeSpilledRun(path: string, run: RunCursor): void {
  const fd = openSync(path, "w");
  try {
    const out = new GrowableBuffer(SPILL_IO_BYTES + (1 << 16));
    let offset = 0;
    const flush = (): void => {
      const bytes = out.view();
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
      offset += bytes.length;
      out.length = 0;
    };
    while (run.advance()) {
      appendFramedRecord(out, run.view);
      if (out.length >= SPILL_IO_BYTES) flush();
    }
    flush();
  } finally {
    // A full disk fails the write: the descriptor must not outlive the task.
    closeSync(fd);
  }
}

/**
 * Reads a run written by `writeSpilledRun`. The file is opened on the first read and closed at
 * its end or by `close`, whichever comes first.
 */
export class SpilledRun implements RunCursor {
  readonly view = new KeyedRecordView();
  private buf = Buffer.allocUnsafe(SPILL_IO_BYTES);
  private filled = 0;
  private pos = 0;
  private fileOffset = 0;
  private eof = false;
  private fd?: number;
  private closed = false;

  constructor(private readonly path: string) {}

  /** Makes `n` bytes from `pos` available; false at end of file. */
  private have(n: number): boolean {
    if (this.pos + n <= this.filled) return true;
    if (this.eof && this.pos + n > this.filled) return false;
    // Keep the unread tail, in a bigger buffer if one record needs it. The current view points
    // into the old buffer, which stays valid for whoever still holds it.
    const tail = this.filled - this.pos;
    const next = Buffer.allocUnsafe(Math.max(SPILL_IO_BYTES, n * 2));
    this.buf.copy(next, 0, this.pos, this.filled);
    this.buf = next;
    this.filled = tail;
    this.pos = 0;
    this.fd ??= openSync(this.path, "r");
    while (this.filled < this.buf.length) {
      const read = readSync(this.fd, this.buf, this.filled, this.buf.length - this.filled, this.fileOffset);
      if (read === 0) {
        this.eof = true;
        break;
      }
      this.filled += read;
      this.fileOffset += read;
    }
    return this.pos + n <= this.filled;
  }

  advance(): boolean {
    if (this.closed) return false;
    if (!this.have(1)) {
      this.close();
      return false;
    }
    this.have(10);
    const length = readVarintAt(this.buf.subarray(0, this.filled), this.pos);
    const headerLength = varintEnd.pos - this.pos;
    // `have` may move the unread bytes to a new buffer: positions are taken after it.
    if (!this.have(headerLength + length)) throw new Error("a spilled shuffle run is truncated");
    const start = this.pos + headerLength;
    this.view.parse(this.buf, start, start + length);
    this.pos = start + length;
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
