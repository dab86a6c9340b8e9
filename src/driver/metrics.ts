// Aggregates the MonitoringInfos of committed task attempts into one job-wide set, the way
// Beam's runners report them: counters summed, distributions combined, per metric and labels.
import { MonitoringInfo } from "apache-beam/proto/metrics";
import { ByteReader, ByteWriter } from "../codec/byte-io.js";

const SUM_INT64 = "beam:metrics:sum_int64:v1";
const DISTRIBUTION_INT64 = "beam:metrics:distribution_int64:v1";

export class MetricsAggregator {
  private readonly metrics = new Map<string, { info: MonitoringInfo; values: bigint[] }>();

  /** Adds one committed attempt's metrics (serialized MonitoringInfo protos, base64). */
  add(encoded: string[]): void {
    for (const e of encoded) {
      const info = MonitoringInfo.fromBinary(Buffer.from(e, "base64"));
      if (info.type !== SUM_INT64 && info.type !== DISTRIBUTION_INT64) continue;
      const labels = Object.entries(info.labels).sort(([a], [b]) => a.localeCompare(b));
      const id = JSON.stringify([info.urn, info.type, labels]);
      const values = decodeValues(info.payload);
      const existing = this.metrics.get(id);
      if (!existing) {
        this.metrics.set(id, { info, values });
      } else if (info.type === SUM_INT64) {
        existing.values[0]! += values[0]!;
      } else {
        const [c1, s1, min1, max1] = existing.values as [bigint, bigint, bigint, bigint];
        const [c2, s2, min2, max2] = values as [bigint, bigint, bigint, bigint];
        existing.values = c1 === 0n ? values : c2 === 0n ? existing.values : [c1 + c2, s1 + s2, min1 < min2 ? min1 : min2, max1 > max2 ? max1 : max2];
      }
    }
  }

  results(): MonitoringInfo[] {
    return [...this.metrics.values()].map(({ info, values }) => {
      const w = new ByteWriter();
      for (const v of values) w.varint(v);
      return { ...info, payload: w.finish() };
    });
  }
}

function decodeValues(payload: Uint8Array): bigint[] {
  const r = new ByteReader(payload);
  const out: bigint[] = [];
  while (!r.done) out.push(r.readVarBigInt());
  return out;
}
