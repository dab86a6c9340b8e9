// Aggregates the MonitoringInfos of committed task attempts into one job-wide set, the way
// Beam's runners report them: per metric URN and labels, counters summed, distributions
// combined, gauges the latest, string sets unioned. Types the runner cannot combine (bounded
// tries, histograms) keep the last value reported.
import { MonitoringInfo } from "apache-beam/proto/metrics";
import { ByteReader, ByteWriter } from "../codec/byte-io.js";

const SUM_INT64 = "beam:metrics:sum_int64:v1";
const DISTRIBUTION_INT64 = "beam:metrics:distribution_int64:v1";
const LATEST_INT64 = "beam:metrics:latest_int64:v1";
const SET_STRING = "beam:metrics:set_string:v1";

/** Only user metrics are reported; the SDK's own (element counts, timings) are per bundle noise here. */
const USER_METRIC_PREFIX = "beam:metric:user:";

type Combine = (a: Uint8Array, b: Uint8Array) => Uint8Array;

const COMBINERS: Record<string, Combine> = {
  [SUM_INT64]: (a, b) => encodeVarints([varints(a)[0]! + varints(b)[0]!]),
  [DISTRIBUTION_INT64]: (a, b) => {
    const [c1, s1, min1, max1] = varints(a) as [bigint, bigint, bigint, bigint];
    const [c2, s2, min2, max2] = varints(b) as [bigint, bigint, bigint, bigint];
    if (c1 === 0n) return b;
    if (c2 === 0n) return a;
    return encodeVarints([c1 + c2, s1 + s2, min1 < min2 ? min1 : min2, max1 > max2 ? max1 : max2]);
  },
  // Payload: varint timestamp (ms), varint value. The later timestamp wins.
  [LATEST_INT64]: (a, b) => (varints(b)[0]! >= varints(a)[0]! ? b : a),
  // Payload: IterableCoder(StrUtf8Coder), outer context.
  [SET_STRING]: (a, b) => encodeStringSet(new Set([...decodeStringSet(a), ...decodeStringSet(b)])),
};

export class MetricsAggregator {
  private readonly metrics = new Map<string, MonitoringInfo>();

  /** Adds one committed attempt's metrics (serialized MonitoringInfo protos, base64). */
  add(encoded: string[]): void {
    for (const e of encoded) {
      const info = MonitoringInfo.fromBinary(Buffer.from(e, "base64"));
      if (!info.urn.startsWith(USER_METRIC_PREFIX)) continue;
      const labels = Object.entries(info.labels).sort(([a], [b]) => a.localeCompare(b));
      const id = JSON.stringify([info.urn, info.type, labels]);
      const existing = this.metrics.get(id);
      const combine = COMBINERS[info.type];
      this.metrics.set(id, existing && combine ? { ...info, payload: combine(existing.payload, info.payload) } : info);
    }
  }

  results(): MonitoringInfo[] {
    return [...this.metrics.values()];
  }
}

function varints(payload: Uint8Array): bigint[] {
  const r = new ByteReader(payload);
  const out: bigint[] = [];
  while (!r.done) out.push(r.readVarBigInt());
  return out;
}

function encodeVarints(values: bigint[]): Uint8Array {
  const w = new ByteWriter();
  for (const v of values) w.varint(v);
  return w.finish();
}

function decodeStringSet(payload: Uint8Array): string[] {
  const r = new ByteReader(payload);
  const out: string[] = [];
  if (r.done) return out;
  const count = r.readInt32BE();
  for (let i = 0; i < count; i++) out.push(Buffer.from(r.readBytes(r.readVarint())).toString("utf8"));
  return out;
}

function encodeStringSet(values: Set<string>): Uint8Array {
  const w = new ByteWriter().int32BE(values.size);
  for (const v of values) {
    const b = Buffer.from(v, "utf8");
    w.varint(b.length).bytes(b);
  }
  return w.finish();
}

/** A user metric as people read it: where it was reported, its name, and its value in words. */
export interface MetricView {
  step: string;
  namespace: string;
  name: string;
  kind: "counter" | "distribution" | "gauge" | "set" | "other";
  value: string;
}

/**
 * User metrics (MonitoringInfos) as MetricViews, sorted by step, namespace and name. `stepName`
 * turns a transform id into the name the user gave it (the pipeline's unique name).
 */
export function describeMetrics(infos: MonitoringInfo[], stepName: (transformId: string) => string = (id) => id): MetricView[] {
  return infos
    .map((info) => {
      const base = { step: stepName(info.labels.PTRANSFORM ?? ""), namespace: info.labels.NAMESPACE ?? "", name: info.labels.NAME ?? info.urn };
      switch (info.type) {
        case SUM_INT64:
          return { ...base, kind: "counter" as const, value: String(varints(info.payload)[0] ?? 0n) };
        case DISTRIBUTION_INT64: {
          const [count = 0n, sum = 0n, min = 0n, max = 0n] = varints(info.payload);
          const mean = count === 0n ? 0 : Number(sum) / Number(count);
          return { ...base, kind: "distribution" as const, value: `count ${count}, sum ${sum}, min ${min}, max ${max}, mean ${mean.toFixed(2)}` };
        }
        case LATEST_INT64:
          return { ...base, kind: "gauge" as const, value: String(varints(info.payload)[1] ?? 0n) };
        case SET_STRING:
          return { ...base, kind: "set" as const, value: decodeStringSet(info.payload).sort().join(", ") };
        default:
          return { ...base, kind: "other" as const, value: `${info.type} (${info.payload.length} bytes)` };
      }
    })
    .sort((a, b) => a.step.localeCompare(b.step) || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}
