import { generateMapInput, coders } from "./shuffle-tasks.js";
import { GrowableBuffer, hashBytes } from "../src/shuffle/index.js";
import { writeKeyedRecordFrom } from "../src/shuffle/keyed-record.js";
import { WindowedKvScanner } from "../src/codec/index.js";
const wire = coders("wv");
const input = generateMapInput(625_000);
const sc = new WindowedKvScanner(wire);
for (let rep = 0; rep < 4; rep++) {
  let t = performance.now(); let n = 0;
  for (const m of input) for (let p = 0; p < m.length; ) { p = sc.scan(m, p); n++; }
  const scan = performance.now() - t; t = performance.now();
  let h = 0;
  for (const m of input) for (let p = 0; p < m.length; ) { const e = sc.scan(m, p); h ^= hashBytes(m, sc.keyStart, sc.keyEnd); p = e; }
  const scanHash = performance.now() - t; t = performance.now();
  const outs = Array.from({ length: 16 }, () => new GrowableBuffer(Number(process.env.INIT ?? 16384)));
  for (const m of input) for (let p = 0; p < m.length; ) { const e = sc.scan(m, p); const hh = hashBytes(m, sc.keyStart, sc.keyEnd); writeKeyedRecordFrom(outs[hh % 16]!, hh, m, p, sc.windowsStart, sc.windowsStart, sc.keyStart, sc.keyEnd, e); p = e; }
  const all = performance.now() - t;
  console.log({ n, scan: scan.toFixed(0), scanHash: scanHash.toFixed(0), all: all.toFixed(0) });
}
