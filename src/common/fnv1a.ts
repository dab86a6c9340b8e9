// FNV-1a, the runner's one hash of bytes. Two things depend on its exact values and must not
// drift: the shuffle's key hash (which also picks a record's partition) and the S3 store's
// shard of a key (where objects already written are looked for).

/** FNV-1a over bytes [start, end) of `buf`, as an unsigned 32-bit number. */
export function fnv1a32(buf: Uint8Array, start = 0, end = buf.length): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= buf[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
