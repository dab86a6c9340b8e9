// Shuffle throughput on the local object store, beside the disk's sequential write bandwidth
// measured in the same run.
//
//   npm run bench:shuffle -- [--gigabytes 1] [--maps 16] [--reducers 16] [--workers N] [--dir DIR]
//                            [--memory-mb 256] [--s3-megabytes 64]
//
// TeraSort-style input (100-byte records, 10-byte random keys) as Beam windowed KVs in data
// messages, generated before the clock starts. Map tasks (parse, partition by key hash, write one
// object each) then reduce tasks (fetch their range of every map output, sort, group into
// GroupByKey output elements) run on N worker threads, one per core by default, as a worker pool
// would. The end-to-end figure is input bytes over map + reduce wall time.
//
// When LocalStack answers on 127.0.0.1:4566 (localstack/start.sh), the same shuffle also runs,
// smaller, against its S3, with and without push-based merge, and prints request counts beside
// the model in docs/shuffle.md. Last, it measures whether compressing map output blocks pays.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { deflateRawSync, constants as zlib } from "node:zlib";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { type PartitionedOutput, mergeGroups, mergePartitionedOutputs, predictedRequests } from "../src/shuffle/index.js";
import { CountingObjectStore, LocalObjectStore, type ObjectStore } from "../src/store/index.js";
import { S3ObjectStore } from "../src/store/s3-object-store.js";
import { RECORD, KEY, generateMapInput, mapTask, reduceTask } from "./shuffle-tasks.js";

type Request =
  | { kind: "generate"; maps: { index: number; records: number }[] }
  | { kind: "map"; partitions: number }
  | { kind: "reduce"; outputs: PartitionedOutput[]; partitions: number[]; memoryBudgetBytes: number };

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      gigabytes: { type: "string", default: "1" },
      maps: { type: "string", default: "16" },
      reducers: { type: "string", default: "16" },
      workers: { type: "string", default: String(availableParallelism()) },
      dir: { type: "string" },
      "memory-mb": { type: "string", default: "256" },
      "s3-megabytes": { type: "string", default: "64" },
    },
  });
  const totalBytes = Math.round(Number(values.gigabytes) * 1e9);
  const maps = Number(values.maps);
  const reducers = Number(values.reducers);
  const workers = Number(values.workers);
  const memoryBudgetBytes = Number(values["memory-mb"]) * 2 ** 20;
  const root = mkdtempSync(join(values.dir ?? "/tmp", "bench-shuffle-"));

  const diskMBs = diskWriteBandwidth(root, totalBytes);
  const perMap = Math.floor(totalBytes / RECORD / maps);
  const inputMB = (perMap * maps * RECORD) / 1e6;
  const pool = Array.from({ length: workers }, () => startWorker(root));
  const ask = <T>(w: Worker, req: Request): Promise<T> =>
    new Promise((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
      w.postMessage(req);
    });
  const share = <T>(items: T[], w: number): T[] => items.filter((_, i) => i % workers === w);

  const mapIndexes = Array.from({ length: maps }, (_, i) => i);
  await Promise.all(pool.map((w, i) => ask(w, { kind: "generate", maps: share(mapIndexes, i).map((index) => ({ index, records: perMap })) })));

  const mapStart = performance.now();
  const mapped = await Promise.all(pool.map((w) => ask<{ outputs: PartitionedOutput[] }>(w, { kind: "map", partitions: reducers })));
  const mapSeconds = (performance.now() - mapStart) / 1000;
  const outputs = mapped.flatMap((m) => m.outputs);
  const storedMB = outputs.reduce((n, o) => n + o.offsets[o.offsets.length - 1]!, 0) / 1e6;

  const reduceStart = performance.now();
  const partitions = Array.from({ length: reducers }, (_, i) => i);
  const reduced = await Promise.all(
    pool.map((w, i) => ask<{ groups: number }>(w, { kind: "reduce", outputs, partitions: share(partitions, i), memoryBudgetBytes })),
  );
  const reduceSeconds = (performance.now() - reduceStart) / 1000;
  await Promise.all(pool.map((w) => w.terminate()));
  const groups = reduced.reduce((n, r) => n + r.groups, 0);

  // The disk's speed on a virtual machine moves with the host's caches: measure it again.
  const diskAfterMBs = diskWriteBandwidth(root, totalBytes);
  const throughput = inputMB / (mapSeconds + reduceSeconds);
  console.log(`shuffle of ${inputMB.toFixed(0)} MB (${RECORD}-byte records, ${KEY}-byte keys), M=${maps} R=${reducers}, ${workers} worker threads, local store in ${root}`);
  console.log(`  stored as ${storedMB.toFixed(0)} MB of keyed records, ${groups} groups`);
  console.log(`  map (parse + partition + write): ${mapSeconds.toFixed(2)} s   reduce (read + group): ${reduceSeconds.toFixed(2)} s`);
  const ratio = (disk: number) => `${((throughput / disk) * 100).toFixed(0)}%`;
  console.log(`  end to end: ${throughput.toFixed(1)} MB/s`);
  console.log(`  disk sequential write (dd, fdatasync): ${diskMBs.toFixed(1)} MB/s before, ${diskAfterMBs.toFixed(1)} MB/s after`);
  console.log(`  ratio: ${ratio(diskMBs)} of the first, ${ratio(diskAfterMBs)} of the second`);
  if (groups !== perMap * maps) throw new Error(`expected ${perMap * maps} groups (random 10-byte keys), got ${groups}`);
  rmSync(root, { recursive: true, force: true });

  await s3Requests(Number(values["s3-megabytes"]), memoryBudgetBytes);
  compression();
}

/** A worker thread running this file; Node 20 threads need tsx registered before a .ts entry. */
function startWorker(root: string): Worker {
  const code = `import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))}; register(); await import(${JSON.stringify(import.meta.url)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: { root } });
}

/** Sequential write bandwidth of the disk under `root`, in MB/s (dd reports on stderr). */
function diskWriteBandwidth(root: string, totalBytes: number): number {
  const probe = join(root, "dd-probe");
  const count = Math.min(1024, Math.round(totalBytes / 2 ** 20));
  const out = execFileSync("sh", ["-c", `dd if=/dev/zero of='${probe}' bs=1M count=${count} conv=fdatasync 2>&1; rm -f '${probe}'`], { encoding: "utf8" });
  const m = /(\d+) bytes .* copied, ([\d.]+) s/.exec(out);
  if (!m) throw new Error(`cannot read dd's output: ${out}`);
  return Number(m[1]) / Number(m[2]) / 1e6;
}

/** Map, optionally merge, then reduce `bytes` of records through `store`, in this thread. */
async function shuffleThrough(store: ObjectStore, bytes: number, maps: number, reducers: number, memoryBudgetBytes: number, factor?: number) {
  const perMap = Math.floor(bytes / RECORD / maps);
  let outputs: PartitionedOutput[] = [];
  for (let m = 0; m < maps; m++) outputs.push(await mapTask(store, generateMapInput(perMap), reducers, `map-${m}`));
  if (factor) outputs = await Promise.all(mergeGroups(outputs, factor).map((g, i) => mergePartitionedOutputs(store, g, `merged-${i}`)));
  let groups = 0;
  for (let r = 0; r < reducers; r++) groups += (await reduceTask(store, outputs, r, memoryBudgetBytes)).groups;
  if (groups !== perMap * maps) throw new Error(`expected ${perMap * maps} groups, got ${groups}`);
}

async function s3Requests(megabytes: number, memoryBudgetBytes: number): Promise<void> {
  const endpoint = process.env.LOCALSTACK_ENDPOINT ?? "http://127.0.0.1:4566";
  const clientConfig = { endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "test", secretAccessKey: "test" } };
  const bucket = `bench-shuffle-${Date.now()}`;
  try {
    await new S3Client(clientConfig).send(new CreateBucketCommand({ Bucket: bucket }));
  } catch {
    console.log(`\nLocalStack S3 is not reachable at ${endpoint}: start it with localstack/start.sh for the S3 part.`);
    return;
  }
  const s3 = new S3ObjectStore({ bucket, spread: 8, clientConfig });
  const maps = 32;
  const reducers = 32;
  console.log(`\nLocalStack S3 (${endpoint}), ${megabytes} MB, M=${maps} R=${reducers}, keys over 8 hashed prefixes:`);
  console.log(`  ${"variant".padEnd(22)} ${"PUTs".padStart(6)} ${"GETs".padStart(6)} ${"model PUT/GET".padStart(14)} ${"seconds".padStart(8)}`);
  for (const factor of [undefined, 8]) {
    const counted = new CountingObjectStore(s3);
    const start = performance.now();
    await shuffleThrough(counted, megabytes * 1e6, maps, reducers, memoryBudgetBytes, factor);
    const seconds = (performance.now() - start) / 1000;
    const model = predictedRequests(maps, reducers, factor);
    const name = factor ? `merge factor ${factor}` : "no merge";
    console.log(`  ${name.padEnd(22)} ${String(counted.puts).padStart(6)} ${String(counted.gets).padStart(6)} ${`${model.puts}/${model.gets}`.padStart(14)} ${seconds.toFixed(1).padStart(8)}`);
  }
}

/**
 * Would compressing map output blocks pay? Compresses 32 MB of keyed records of two kinds of
 * data with zlib's fastest raw deflate: TeraSort's random bytes, and word-count pairs.
 */
function compression(): void {
  console.log("\nCompressing map output (zlib raw deflate, level 1), 32 MB of keyed records:");
  console.log(`  ${"data".padEnd(26)} ${"ratio".padStart(6)} ${"MB/s in".padStart(8)}`);
  const samples: [string, Buffer][] = [
    ["TeraSort (random bytes)", keyedSample((i, out) => out.push(...randomRecord(i)))],
    ["word counts (text, 1)", keyedSample((i, out) => out.push(...wordRecord(i)))],
  ];
  for (const [name, sample] of samples) {
    const start = performance.now();
    const compressed = deflateRawSync(sample, { level: zlib.Z_BEST_SPEED });
    const seconds = (performance.now() - start) / 1000;
    console.log(`  ${name.padEnd(26)} ${(sample.length / compressed.length).toFixed(2).padStart(6)} ${(sample.length / 1e6 / seconds).toFixed(0).padStart(8)}`);
  }
}

function keyedSample(record: (i: number, out: Buffer[]) => void): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (let i = 0; size < 32e6; i++) {
    const before = parts.length;
    record(i, parts);
    for (let j = before; j < parts.length; j++) size += parts[j]!.length;
  }
  return Buffer.concat(parts);
}

function randomRecord(i: number): Buffer[] {
  const b = Buffer.allocUnsafe(RECORD);
  for (let j = 0; j < RECORD; j += 4) b.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ Math.imul(j + 7, 40503) ^ (Math.random() * 2 ** 32)) >>> 0, j);
  return [b];
}

const WORDS = "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were her she there one been we their all".split(" ");
function wordRecord(i: number): Buffer[] {
  const word = WORDS[Math.floor(Math.random() * WORDS.length)]! + (i % 97 === 0 ? String(i % 1000) : "");
  // keyed record: hash, key (length-prefixed utf8), no window, timestamp, value varint 1
  const key = Buffer.from(word);
  return [Buffer.from([14 + key.length, 0, 0, 0, 0, key.length + 1, key.length]), key, Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1])];
}

if (!isMainThread) {
  // A worker thread: generates its map tasks' input, then runs the tasks it is sent.
  const store = new LocalObjectStore((workerData as { root: string }).root);
  let inputs: { index: number; messages: Buffer[] }[] = [];
  const handle = async (req: Request): Promise<void> => {
    if (req.kind === "generate") {
      inputs = req.maps.map((m) => ({ index: m.index, messages: generateMapInput(m.records) }));
      parentPort!.postMessage({ done: true });
    } else if (req.kind === "map") {
      const outputs: PartitionedOutput[] = [];
      for (const input of inputs) outputs.push(await mapTask(store, input.messages, req.partitions, `map-${input.index}`));
      inputs = [];
      parentPort!.postMessage({ outputs });
    } else {
      let groups = 0;
      for (const p of req.partitions) groups += (await reduceTask(store, req.outputs, p, req.memoryBudgetBytes)).groups;
      parentPort!.postMessage({ groups });
    }
  };
  parentPort!.on("message", (req: Request) => void handle(req));
} else {
  await main();
}
