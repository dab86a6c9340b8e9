// Shuffle throughput on the local object store, beside the disk's sequential write bandwidth
// measured in the same run.
//
//   npm run bench:shuffle -- [--gigabytes 1] [--maps 16] [--reducers 16] [--dir DIR] [--s3-megabytes 64]
//
// When LocalStack answers on 127.0.0.1:4566 (localstack/start.sh), the same shuffle also runs,
// smaller, against its S3, with and without push-based merge, and prints request counts beside
// the model in docs/shuffle.md.
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
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CountingObjectStore,
  LocalObjectStore,
  type ObjectStore,
  type PartitionedOutput,
  PartitionedObjectWriter,
  S3ObjectStore,
  mergeGroups,
  mergePartitionedOutputs,
  partitionOf,
  predictedRequests,
} from "../src/shuffle/index.js";
import { readInput } from "../src/worker/edge-reader.js";

const RECORD = 100;
const KEY = 10;

const { values } = parseArgs({
  options: {
    gigabytes: { type: "string", default: "1" },
    maps: { type: "string", default: "16" },
    reducers: { type: "string", default: "16" },
    dir: { type: "string" },
    "s3-megabytes": { type: "string", default: "64" },
  },
});
const s3MB = Number(values["s3-megabytes"]);
const endpoint = process.env.LOCALSTACK_ENDPOINT ?? "http://127.0.0.1:4566";
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

interface ShuffleRun {
  inputMB: number;
  storedMB: number;
  groups: number;
  mapSeconds: number;
  mergeSeconds: number;
  reduceSeconds: number;
}

/** Map, optionally merge, then reduce `bytes` of records through `store`. */
async function runShuffle(store: ObjectStore, bytes: number, mapCount: number, reducerCount: number, mergeFactor?: number): Promise<ShuffleRun> {
  const perMap = Math.floor(bytes / RECORD / mapCount);
  const header = new ByteWriter().bytes(encodeTimestampMillis(0n)).int32BE(1).byte(0x0f).finish();
  let outputs: PartitionedOutput[] = [];
  let stored = 0;

  const mapStart = performance.now();
  for (let m = 0; m < mapCount; m++) {
    const data = randomBytes(perMap * RECORD);
    const writer = new PartitionedObjectWriter(reducerCount);
    for (let i = 0; i < perMap; i++) {
      const key = data.subarray(i * RECORD, i * RECORD + KEY);
      const value = data.subarray(i * RECORD + KEY, (i + 1) * RECORD);
      const element = Buffer.concat([header, Uint8Array.of(KEY), key, Uint8Array.of(RECORD - KEY), value]);
      writer.add(partitionOf(element.subarray(header.length, header.length + 1 + KEY), reducerCount), element);
    }
    const key = `map-${m}`;
    const offsets = await writer.write(store, key);
    stored += offsets[offsets.length - 1]!;
    outputs.push({ key, offsets });
  }
  const mapSeconds = (performance.now() - mapStart) / 1000;

  const mergeStart = performance.now();
  if (mergeFactor) outputs = await Promise.all(mergeGroups(outputs, mergeFactor).map((g, i) => mergePartitionedOutputs(store, g, `merged-${i}`)));
  const mergeSeconds = (performance.now() - mergeStart) / 1000;

  const reduceStart = performance.now();
  let groups = 0;
  const tree = (id: string) => resolveCoder(coders, id);
  for (let r = 0; r < reducerCount; r++) {
    const ranges: ObjectRange[] = outputs.map((o) => ({ key: o.key, start: o.offsets[r]!, end: o.offsets[r + 1]! }));
    const elements = await readInput(
      store,
      { read: { kind: "group", inputWireCoderId: "wv", mergeWindows: false, timestampCombiner: "endOfWindow" }, wireCoderId: "wvGrouped", ranges },
      tree,
    );
    groups += elements.length;
  }
  const reduceSeconds = (performance.now() - reduceStart) / 1000;
  return { inputMB: (perMap * mapCount * RECORD) / 1e6, storedMB: stored / 1e6, groups, mapSeconds, mergeSeconds, reduceSeconds };
}

async function localStackS3(): Promise<S3ObjectStore | undefined> {
  const clientConfig = { endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "test", secretAccessKey: "test" } };
  const bucket = `bench-shuffle-${Date.now()}`;
  try {
    await new S3Client(clientConfig).send(new CreateBucketCommand({ Bucket: bucket }));
  } catch {
    return undefined;
  }
  return new S3ObjectStore({ bucket, spread: 8, clientConfig });
}

async function main(): Promise<void> {
  const diskMBs = diskWriteBandwidth();
  const local = new CountingObjectStore(new LocalObjectStore(root));
  const run = await runShuffle(local, totalBytes, maps, reducers);
  const total = run.mapSeconds + run.reduceSeconds;
  const throughput = run.inputMB / total;
  console.log(`shuffle of ${run.inputMB.toFixed(0)} MB (${RECORD}-byte records, ${KEY}-byte keys), M=${maps} R=${reducers}, local store in ${root}`);
  console.log(`  stored as ${run.storedMB.toFixed(0)} MB (windowed-value framing), ${local.puts} PUTs, ${local.gets} ranged GETs, ${run.groups} groups`);
  console.log(`  map (generate + partition + write): ${run.mapSeconds.toFixed(1)} s   reduce (read + group): ${run.reduceSeconds.toFixed(1)} s`);
  console.log(`  end to end: ${throughput.toFixed(1)} MB/s   disk sequential write (dd, fdatasync): ${diskMBs.toFixed(1)} MB/s   ratio: ${((throughput / diskMBs) * 100).toFixed(0)}%`);
  rmSync(root, { recursive: true, force: true });

  const s3 = await localStackS3();
  if (!s3) {
    console.log(`\nLocalStack S3 is not reachable at ${endpoint}: start it with localstack/start.sh for the S3 part.`);
    return;
  }
  const s3Maps = 32;
  const s3Reducers = 32;
  const factor = 8;
  console.log(`\nLocalStack S3 (${endpoint}), ${s3MB} MB, M=${s3Maps} R=${s3Reducers}, keys over 8 hashed prefixes:`);
  console.log(`  ${"variant".padEnd(22)} ${"PUTs".padStart(6)} ${"GETs".padStart(6)} ${"model PUT/GET".padStart(14)} ${"seconds".padStart(8)}`);
  for (const f of [undefined, factor]) {
    const counted = new CountingObjectStore(s3);
    const r = await runShuffle(counted, s3MB * 1e6, s3Maps, s3Reducers, f);
    const model = predictedRequests(s3Maps, s3Reducers, f);
    const name = f ? `merge factor ${f}` : "no merge";
    const seconds = r.mapSeconds + r.mergeSeconds + r.reduceSeconds;
    console.log(`  ${name.padEnd(22)} ${String(counted.puts).padStart(6)} ${String(counted.gets).padStart(6)} ${`${model.puts}/${model.gets}`.padStart(14)} ${seconds.toFixed(1).padStart(8)}`);
  }
}

await main();
