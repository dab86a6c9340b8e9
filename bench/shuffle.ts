// Shuffle throughput on the local object store, beside the disk's sequential write bandwidth
// measured in the same run.
//
//   npm run bench:shuffle -- [--gigabytes 1] [--maps 16] [--reducers 16] [--dir DIR]
//
// TeraSort-style input: 100-byte records with 10-byte random keys, generated inside each map
// task, encoded as Beam windowed KVs (global window) exactly as a worker's sink receives them.
// Map: partition by key hash and write one object per map task. Reduce: read each partition's
// byte range from every map output and group by key, as a GroupByKey reader does.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Coder } from "apache-beam/proto/beam_runner_api";
import { ByteWriter, encodeTimestampMillis, resolveCoder } from "../src/codec/index.js";
import type { ObjectRange } from "../src/common/task-spec.js";
import { Coders } from "../src/common/urns.js";
import { LocalObjectStore, PartitionedObjectWriter, partitionOf } from "../src/shuffle/index.js";
import { readInput } from "../src/worker/edge-reader.js";

const RECORD = 100;
const KEY = 10;

const { values } = parseArgs({
  options: {
    gigabytes: { type: "string", default: "1" },
    maps: { type: "string", default: "16" },
    reducers: { type: "string", default: "16" },
    dir: { type: "string" },
  },
});
const totalBytes = Math.round(Number(values.gigabytes) * 1e9);
const maps = Number(values.maps);
const reducers = Number(values.reducers);
const root = mkdtempSync(join(values.dir ?? "/tmp", "bench-shuffle-"));

const coder = (urn: string, ...c: string[]): Coder => ({ spec: { urn, payload: new Uint8Array() }, componentCoderIds: c });
const coders: Record<string, Coder> = {
  bytes: coder(Coders.bytes),
  kv: coder(Coders.kv, "bytes", "bytes"),
  global: coder(Coders.globalWindow),
  wv: coder(Coders.windowedValue, "kv", "global"),
  values: coder(Coders.iterable, "bytes"),
  grouped: coder(Coders.kv, "bytes", "values"),
  wvGrouped: coder(Coders.windowedValue, "grouped", "global"),
};

/** Sequential write bandwidth of the disk under `root`, in MB/s (dd reports on stderr). */
function diskWriteBandwidth(): number {
  const probe = join(root, "dd-probe");
  const count = Math.min(1024, Math.round(totalBytes / 2 ** 20));
  const out = execFileSync("sh", ["-c", `dd if=/dev/zero of='${probe}' bs=1M count=${count} conv=fdatasync 2>&1; rm -f '${probe}'`], { encoding: "utf8" });
  return parseDd(out);
}

function parseDd(out: string): number {
  const m = /(\d+) bytes .* copied, ([\d.]+) s/.exec(out);
  if (!m) throw new Error(`cannot read dd's output: ${out}`);
  return Number(m[1]) / Number(m[2]) / 1e6;
}

async function main(): Promise<void> {
  const diskMBs = diskWriteBandwidth();
  const store = new LocalObjectStore(root);
  const perMap = Math.floor(totalBytes / RECORD / maps);
  const header = new ByteWriter().bytes(encodeTimestampMillis(0n)).int32BE(1).byte(0x0f).finish();
  const outputs: { key: string; offsets: number[] }[] = [];
  let stored = 0;

  const mapStart = performance.now();
  for (let m = 0; m < maps; m++) {
    const data = randomBytes(perMap * RECORD);
    const writer = new PartitionedObjectWriter(reducers);
    for (let i = 0; i < perMap; i++) {
      const key = data.subarray(i * RECORD, i * RECORD + KEY);
      const value = data.subarray(i * RECORD + KEY, (i + 1) * RECORD);
      const element = Buffer.concat([header, Uint8Array.of(KEY), key, Uint8Array.of(RECORD - KEY), value]);
      writer.add(partitionOf(element.subarray(header.length, header.length + 1 + KEY), reducers), element);
    }
    const key = `map-${m}`;
    const offsets = await writer.write(store, key);
    stored += offsets[offsets.length - 1]!;
    outputs.push({ key, offsets });
  }
  const mapSeconds = (performance.now() - mapStart) / 1000;

  const reduceStart = performance.now();
  let groups = 0;
  let requests = 0;
  const tree = (id: string) => resolveCoder(coders, id);
  for (let r = 0; r < reducers; r++) {
    const ranges: ObjectRange[] = outputs.map((o) => ({ key: o.key, start: o.offsets[r]!, end: o.offsets[r + 1]! }));
    requests += ranges.length;
    const elements = await readInput(
      store,
      { read: { kind: "group", inputWireCoderId: "wv", mergeWindows: false, timestampCombiner: "endOfWindow" }, wireCoderId: "wvGrouped", ranges },
      tree,
    );
    groups += elements.length;
  }
  const reduceSeconds = (performance.now() - reduceStart) / 1000;

  const inputMB = (perMap * maps * RECORD) / 1e6;
  const total = mapSeconds + reduceSeconds;
  const throughput = inputMB / total;
  console.log(`shuffle of ${inputMB.toFixed(0)} MB (${perMap * maps} records of ${RECORD} B, ${KEY}-byte keys), M=${maps} R=${reducers}, local store in ${root}`);
  console.log(`  stored as ${(stored / 1e6).toFixed(0)} MB (windowed-value framing), ${maps} PUTs, ${requests} ranged GETs, ${groups} groups`);
  console.log(`  map (generate + partition + write): ${mapSeconds.toFixed(1)} s   reduce (read + group): ${reduceSeconds.toFixed(1)} s`);
  console.log(`  end to end: ${throughput.toFixed(1)} MB/s   disk sequential write (dd, fdatasync): ${diskMBs.toFixed(1)} MB/s   ratio: ${((throughput / diskMBs) * 100).toFixed(0)}%`);
  rmSync(root, { recursive: true, force: true });
}

await main();
