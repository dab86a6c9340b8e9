// The timers a bundle sets, held until they fire (task-runner.ts runs them as further bundles).
import { ByteReader } from "../codec/byte-io.js";
import { type CoderTree, splitTimer } from "../codec/coders.js";
import type { TaskSpec } from "../common/task-spec.js";

/**
 * Timers set during a bundle, keyed by (transform, family, key, tag, windows): a later setting
 * replaces an earlier one and a clear removes it. In batch the watermark jumps to the end of
 * time once the input is exhausted, so every timer left standing fires, earliest first.
 */
export class PendingTimers {
  private readonly byId = new Map<string, { fireAt: bigint; bytes: Uint8Array; transformId: string; family: string }>();

  constructor(
    private readonly spec: TaskSpec,
    private readonly coders: (id: string) => CoderTree,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  add(transformId: string, family: string, data: Uint8Array): void {
    const t = this.spec.timers.find((x) => x.transformId === transformId && x.timerFamilyId === family);
    if (!t) throw new Error(`the harness set timer family '${family}' on '${transformId}', which the plan does not declare`);
    const coder = this.coders(t.coderId);
    const r = new ByteReader(data);
    while (!r.done) {
      const timer = splitTimer(coder, r);
      const id = `${transformId}\0${family}\0${Buffer.from(timer.identity).toString("latin1")}`;
      if (timer.cleared) this.byId.delete(id);
      else this.byId.set(id, { fireAt: timer.fireAt, bytes: Buffer.from(timer.whole), transformId, family });
    }
  }

  drain(): { transformId: string; timerFamilyId: string; timers: Uint8Array[] }[] {
    const sorted = [...this.byId.values()].sort((a, b) => (a.fireAt < b.fireAt ? -1 : a.fireAt > b.fireAt ? 1 : 0));
    const out = new Map<string, { transformId: string; timerFamilyId: string; timers: Uint8Array[] }>();
    for (const t of sorted) {
      const k = `${t.transformId}\0${t.family}`;
      let group = out.get(k);
      if (!group) out.set(k, (group = { transformId: t.transformId, timerFamilyId: t.family, timers: [] }));
      group.timers.push(t.bytes);
    }
    this.byId.clear();
    return [...out.values()];
  }
}
