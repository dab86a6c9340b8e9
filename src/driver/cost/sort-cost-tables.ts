// docs/cost.md's tables, rendered from the price table and the sort model: the doc holds this
// text between markers, `npm run cost:model -- --write` rewrites it, and a test fails when the
// two differ, so no figure in the doc is typed by hand.
import { AWS_PRICES, priceList } from "../../common/aws-cost.js";
import { DEFAULT_MERGE } from "../scheduler/index.js";
import {
  ASSUMED_S3_BYTES_PER_SECOND,
  DEFAULT_SORT_MODEL,
  MEASURED_SHUFFLE_BYTES_PER_SECOND,
  MEASURED_SPILLING_REDUCE_BYTES_PER_SECOND,
  type SortModel,
  type SortModelOptions,
  modelSort,
} from "./sort-cost-model.js";

const TB = 1e12;
/** The wordcount benchmark's bytes per second per worker (bench/README.md: 57.8 MB in 8.70 s on 2 workers). */
const MEASURED_WORDCOUNT_BYTES_PER_SECOND = 57.8e6 / 8.7 / 2;

/** The sizes the doc models: 1 TB at the CDK construct's concurrency, 100 TB at issue 15's thousand-way fan-out. */
export const SORT_SIZES = [
  { bytes: 1 * TB, concurrency: 100 },
  { bytes: 100 * TB, concurrency: 1000 },
];
/** Largest task inputs: what /tmp holds with room, and what lets a merge group of 16 fit in 3008 MB. */
export const TASK_INPUT_CAPS = [5e9, 128e6];

function usd(n: number): string {
  if (n >= 100) return `$${Math.round(n).toLocaleString("en-US")}`;
  if (n >= 0.1 || n === 0) return `$${n.toFixed(2)}`;
  return `$${n.toPrecision(2)}`;
}
const count = (n: number) => Math.round(n).toLocaleString("en-US");
const bytes = (n: number) => (n >= TB ? `${n / TB} TB` : n >= 1e9 ? `${n / 1e9} GB` : `${n / 1e6} MB`);
const rate = (n: number) => `${(n / 1e6).toFixed(1)} MB/s`;
const duration = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`);
const row = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
const header = (names: string[]) => [row(names), row(names.map(() => "---"))].join("\n");

function priceTable(): string {
  const rows = priceList().map(([name, p]) => {
    const per = p.per === 1 ? p.unit : `${count(p.per)} ${p.unit}`;
    return row([`\`${name}\``, `$${p.usd.toLocaleString("en-US", { maximumFractionDigits: 12 })} per ${per}`, p.source]);
  });
  return [`Region ${AWS_PRICES.region}, recorded ${AWS_PRICES.recorded}:`, "", header(["price", "USD", "published at"]), ...rows].join("\n");
}

function withArm(model: SortModel): SortModel {
  return modelSort({ ...model.options, architecture: "arm64" });
}

function scenarioTable(bytesSorted: number, concurrency: number): string {
  const lines = [
    `**${bytes(bytesSorted)}**, ${count(concurrency)} invocations at once:`,
    "",
    header([
      "largest task input",
      "push-merge",
      "M = R",
      "merge tasks",
      "invocations",
      "Lambda GB-s",
      "S3 PUT-class",
      "S3 GET",
      "SQS",
      "wall (est.)",
      "x86 total",
      "x86 $/TB",
      "arm64 $/TB",
      "runs as built?",
    ]),
  ];
  for (const maxTaskInputBytes of TASK_INPUT_CAPS) {
    for (const merge of [false, DEFAULT_MERGE] as const) {
      const x86 = modelSort({ ...DEFAULT_SORT_MODEL, bytes: bytesSorted, concurrency, maxTaskInputBytes, merge });
      const arm = withArm(x86);
      const gbSeconds = x86.cost.lines.filter((l) => l.item.startsWith("Lambda duration")).reduce((n, l) => n + l.quantity, 0);
      lines.push(
        row([
          bytes(maxTaskInputBytes),
          x86.mergeFactor ? `F = ${x86.mergeFactor}` : "off",
          count(x86.partitions),
          count(x86.mergeTasks),
          count(x86.invocations),
          count(gbSeconds),
          count(x86.usage.s3.writeRequests),
          count(x86.usage.s3.readRequests),
          count(x86.usage.sqsRequests),
          duration(x86.wallSeconds),
          usd(x86.cost.totalUsd),
          usd(x86.usdPerTerabyte),
          usd(arm.usdPerTerabyte),
          x86.warnings.length ? `no: ${x86.warnings.join("; ")}` : "yes",
        ]),
      );
    }
  }
  return lines.join("\n");
}

/** The baseline: 1 TB, 5 GB tasks, no merge (the largest tasks a merge cannot take). */
export function baselineOptions(): SortModelOptions {
  return { ...DEFAULT_SORT_MODEL, bytes: TB, merge: false };
}

function breakdownTable(): string {
  const model = modelSort(baselineOptions());
  const rows = model.cost.lines.map((l) => row([l.item, count(l.quantity) === "0" ? l.quantity.toFixed(4) : count(l.quantity), l.unit, usd(l.usd)]));
  const r = model.requests;
  const requests = [
    header(["S3 requests", "PUT-class", "GET"]),
    row(["input (the SDK's 16 MiB reads)", count(r.input.writes), count(r.input.reads)]),
    row(["shuffle (map objects in 16 MiB parts; one ranged GET per object and partition)", count(r.shuffle.writes), count(r.shuffle.reads)]),
    row(["output (the SDK's 5 MiB parts, start, completion, rename)", count(r.output.writes), count(r.output.reads)]),
    row(["bookkeeping (journaled commits, descriptors)", count(r.bookkeeping.writes), count(r.bookkeeping.reads)]),
  ];
  return [
    `The baseline (1 TB, 5 GB tasks, no merge, x86): ${count(model.partitions)} map tasks of ${duration(model.taskSeconds.map)} and ${count(model.partitions)} reduce tasks of ${duration(model.taskSeconds.reduce)}.`,
    "",
    header(["line", "quantity", "unit", "USD"]),
    ...rows,
    row(["**total**", "", "", `**${usd(model.cost.totalUsd)}**`]),
    "",
    ...requests,
  ].join("\n");
}

function sensitivityTable(): string {
  const s3 = ASSUMED_S3_BYTES_PER_SECOND;
  const spilling = MEASURED_SPILLING_REDUCE_BYTES_PER_SECOND;
  const rates = [
    { label: "measured CPU rates (map; spilling reduce), were S3 no bound", map: MEASURED_SHUFFLE_BYTES_PER_SECOND.map, reduce: spilling },
    { label: "assumed S3 bandwidth; measured spilling reduce (the baseline)", map: s3, reduce: spilling },
    { label: "half the assumed S3 bandwidth", map: s3 / 2, reduce: Math.min(spilling, s3 / 2) },
    { label: "a spilling reduce as fast as S3", map: s3, reduce: s3 },
    { label: "measured wordcount, every element through Python", map: MEASURED_WORDCOUNT_BYTES_PER_SECOND, reduce: MEASURED_WORDCOUNT_BYTES_PER_SECOND },
  ];
  const lines = [header(["per-task throughput", "map / reduce", "tasks (map / reduce)", "Lambda (x86)", "x86 $/TB", "arm64 $/TB", "runs as built?"])];
  for (const r of rates) {
    // The baseline's 5 GB reduce tasks spill: the reduce rate is the spilling one.
    const x86 = modelSort({ ...baselineOptions(), mapBytesPerSecond: r.map, reduceBytesPerSecond: r.reduce, spillingReduceBytesPerSecond: r.reduce });
    lines.push(
      row([
        r.label,
        `${rate(r.map)} / ${rate(r.reduce)}`,
        `${duration(x86.taskSeconds.map)} / ${duration(x86.taskSeconds.reduce)}`,
        usd(x86.cost.lambdaUsd),
        usd(x86.usdPerTerabyte),
        usd(withArm(x86).usdPerTerabyte),
        x86.warnings.length ? `no: ${x86.warnings.join("; ")}` : "yes",
      ]),
    );
  }
  return lines.join("\n");
}

/**
 * Exoshuffle-CloudSort, the 2022 CloudSort (Indy) winner: 100 TB in 5,378 s on 40 i4i.4xlarge
 * EC2 instances with input and output on S3, $97 of cloud resources
 * (https://people.eecs.berkeley.edu/~lsf/publication/exoshuffle-cloudsort/,
 * https://www.anyscale.com/blog/ray-breaks-the-usd1-tb-barrier-as-the-worlds-most-cost-efficient-sorting).
 */
export const EXOSHUFFLE_CLOUDSORT_USD_PER_TB = 0.97;

function comparisonTable(): string {
  const ours = (label: string, options: SortModelOptions) => {
    const x86 = modelSort(options);
    const runs = x86.warnings.length ? "modelled; not as built (above)" : "modelled";
    return row([label, runs, usd(x86.usdPerTerabyte), usd(withArm(x86).usdPerTerabyte)]);
  };
  return [
    header(["sort", "how known", "x86 $/TB", "arm64 $/TB"]),
    row(["Exoshuffle-CloudSort, 100 TB, 40 i4i.4xlarge EC2 instances + S3", "measured (2022)", usd(EXOSHUFFLE_CLOUDSORT_USD_PER_TB), "—"]),
    ours("this runner, 1 TB, 5 GB tasks, no merge (the baseline)", baselineOptions()),
    ours("this runner, 100 TB, 5 GB tasks, no merge", { ...baselineOptions(), bytes: 100 * TB, concurrency: 1000 }),
    ours("the baseline, were a spilling reduce as fast as S3", { ...baselineOptions(), spillingReduceBytesPerSecond: ASSUMED_S3_BYTES_PER_SECOND }),
  ].join("\n");
}

/** Every generated table of docs/cost.md, in order. */
export function renderCostTables(): string {
  return [
    "### Prices",
    "",
    priceTable(),
    "",
    "### A sort, by size, task size and merge",
    "",
    ...SORT_SIZES.flatMap((s) => [scenarioTable(s.bytes, s.concurrency), ""]),
    "### Where the baseline's dollars go",
    "",
    breakdownTable(),
    "",
    "### How much the throughput matters (1 TB, 5 GB tasks, no merge)",
    "",
    sensitivityTable(),
    "",
    "### Against Exoshuffle's CloudSort record",
    "",
    comparisonTable(),
  ].join("\n");
}

export const COST_DOC_BEGIN = "<!-- BEGIN cost tables (generated: npm run cost:model -- --write) -->";
export const COST_DOC_END = "<!-- END cost tables -->";

/** The tables now in `doc` (between the markers). */
export function costTablesIn(doc: string): string {
  const start = doc.indexOf(COST_DOC_BEGIN);
  const end = doc.indexOf(COST_DOC_END);
  if (start < 0 || end < start) throw new Error(`docs/cost.md lost its markers (${COST_DOC_BEGIN} ... ${COST_DOC_END})`);
  return doc.slice(start + COST_DOC_BEGIN.length, end).trim();
}

/** `doc` with `tables` between its markers. */
export function withCostTables(doc: string, tables: string): string {
  costTablesIn(doc);
  return `${doc.slice(0, doc.indexOf(COST_DOC_BEGIN) + COST_DOC_BEGIN.length)}\n${tables}\n${doc.slice(doc.indexOf(COST_DOC_END))}`;
}
