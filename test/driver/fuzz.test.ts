// Malformed input through a real JobServer over gRPC: the captured pipelines of test/fixtures,
// mutated at random (seeded, so a failure replays with FUZZ_SEED), and the job API called with
// ids it never gave out. Every answer must be OK or a clean client error naming the problem,
// never INTERNAL or UNKNOWN; mutated pipelines that prepare are run, and must end by themselves;
// and the server must go on serving the valid pipelines, and run a real Python job right.
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { JobServiceClient } from "apache-beam/proto/beam_job_api.grpc-client";
import { JobMessage_MessageImportance, JobState_Enum, PrepareJobRequest, PrepareJobResponse } from "apache-beam/proto/beam_job_api";
import { Pipeline } from "apache-beam/proto/beam_runner_api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Coders, Environments, Transforms, WindowFns } from "../../src/common/urns.js";
import { JobServer } from "../../src/driver/index.js";
import { LocalObjectStore } from "../../src/store/index.js";
import { runCases } from "../e2e/run-cases.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const MUTATIONS = Number(process.env.FUZZ_MUTATIONS ?? 600);
/** Mutated pipelines that prepare and are then run to their end (each starts tasks and harnesses). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 12);
const TERMINAL = new Set([JobState_Enum.DONE, JobState_Enum.FAILED, JobState_Enum.CANCELLED]);
const ACCEPTABLE = new Set([grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.FAILED_PRECONDITION, grpc.status.UNIMPLEMENTED, grpc.status.NOT_FOUND]);
const PREPARE_PATH = "/org.apache.beam.model.job_management.v1.JobService/Prepare";

const fixturesDir = new URL("../fixtures/", import.meta.url);
const fixtures = readdirSync(fixturesDir)
  .filter((f) => f.endsWith(".pb"))
  .sort()
  // Copied out of the Buffer: a Buffer's slice() is a view, and the byte mutations must not write through it.
  .map((f) => ({ name: f.replace(/\.pb$/, ""), bytes: new Uint8Array(readFileSync(new URL(f, fixturesDir))) }));

/** mulberry32: small, seeded, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let random = rng(SEED);
const int = (n: number): number => Math.floor(random() * n);
const pick = <T>(xs: readonly T[]): T | undefined => (xs.length === 0 ? undefined : xs[int(xs.length)]);
const keysOf = (m: Record<string, unknown>): string[] => Object.keys(m);

type ComponentKind = "coders" | "pcollections" | "windowingStrategies" | "transforms" | "environments";
const KINDS: ComponentKind[] = ["coders", "pcollections", "windowingStrategies", "transforms", "environments"];

const RANDOM_URNS = [
  ...Object.values(Transforms),
  ...Object.values(Coders),
  ...Object.values(Environments),
  ...Object.values(WindowFns),
  "",
  "beam:transform:made_up:v1",
  "not a urn",
  "beam:coder:kv:v1\u0000",
];

/** A mutation of a decoded pipeline; returns what it did, for the failure report. */
type PipelineMutation = (p: Pipeline) => string;

/** Every place one id refers to another, as a setter. */
function referenceSites(p: Pipeline): { what: string; set: (id: string) => void }[] {
  const c = p.components!;
  const sites: { what: string; set: (id: string) => void }[] = [];
  p.rootTransformIds.forEach((_, i) => sites.push({ what: `root ${i}`, set: (id) => (p.rootTransformIds[i] = id) }));
  for (const [id, pc] of Object.entries(c.pcollections)) {
    sites.push({ what: `pcollection ${id} coder`, set: (to) => (pc.coderId = to) });
    sites.push({ what: `pcollection ${id} windowing strategy`, set: (to) => (pc.windowingStrategyId = to) });
  }
  for (const [id, ws] of Object.entries(c.windowingStrategies)) {
    sites.push({ what: `windowing strategy ${id} window coder`, set: (to) => (ws.windowCoderId = to) });
    sites.push({ what: `windowing strategy ${id} environment`, set: (to) => (ws.environmentId = to) });
  }
  for (const [id, coder] of Object.entries(c.coders)) {
    coder.componentCoderIds.forEach((_, i) => sites.push({ what: `coder ${id} component ${i}`, set: (to) => (coder.componentCoderIds[i] = to) }));
  }
  for (const [id, t] of Object.entries(c.transforms)) {
    for (const tag of Object.keys(t.inputs)) sites.push({ what: `transform ${id} input ${tag}`, set: (to) => (t.inputs[tag] = to) });
    for (const tag of Object.keys(t.outputs)) sites.push({ what: `transform ${id} output ${tag}`, set: (to) => (t.outputs[tag] = to) });
    t.subtransforms.forEach((_, i) => sites.push({ what: `transform ${id} subtransform ${i}`, set: (to) => (t.subtransforms[i] = to) }));
    sites.push({ what: `transform ${id} environment`, set: (to) => (t.environmentId = to) });
  }
  return sites;
}

/** An id of `kind` that exists, for references that are well formed but wrong. */
const existing = (p: Pipeline, kind: ComponentKind): string => pick(keysOf(p.components![kind])) ?? "none";

const PIPELINE_MUTATIONS: Record<string, PipelineMutation> = {
  deleteEntry: (p) => {
    const kind = pick(KINDS)!;
    const id = pick(keysOf(p.components![kind]));
    if (id !== undefined) delete p.components![kind][id];
    return `delete ${kind} '${id}'`;
  },
  danglingReference: (p) => {
    const site = pick(referenceSites(p));
    site?.set(`missing-${int(1000)}`);
    return `dangling ${site?.what}`;
  },
  wrongKindReference: (p) => {
    // Points a reference at an id that exists, but of another kind or another role.
    const site = pick(referenceSites(p));
    const id = existing(p, pick(KINDS)!);
    site?.set(id);
    return `${site?.what} -> '${id}'`;
  },
  ownSubtransform: (p) => {
    const id = existing(p, "transforms");
    p.components!.transforms[id]?.subtransforms.push(id);
    return `'${id}' its own subtransform`;
  },
  twoCycle: (p) => {
    const a = existing(p, "transforms");
    const b = existing(p, "transforms");
    p.components!.transforms[a]?.subtransforms.push(b);
    p.components!.transforms[b]?.subtransforms.push(a);
    return `'${a}' <-> '${b}'`;
  },
  coderCycle: (p) => {
    const a = existing(p, "coders");
    const b = existing(p, "coders");
    p.components!.coders[a]?.componentCoderIds.push(b);
    p.components!.coders[b]?.componentCoderIds.push(a);
    return `coders '${a}' <-> '${b}'`;
  },
  emptyField: (p) => {
    const c = p.components!;
    const choices: [string, () => void][] = [
      ["components", () => (p.components = undefined)],
      ["roots", () => (p.rootTransformIds = [])],
      ["transform spec", () => void (c.transforms[existing(p, "transforms")]!.spec = undefined)],
      ["transform unique name", () => void (c.transforms[existing(p, "transforms")]!.uniqueName = "")],
      ["transform inputs", () => void (c.transforms[existing(p, "transforms")]!.inputs = {})],
      ["transform outputs", () => void (c.transforms[existing(p, "transforms")]!.outputs = {})],
      ["transform environment", () => void (c.transforms[existing(p, "transforms")]!.environmentId = "")],
      ["transform payload", () => void (c.transforms[existing(p, "transforms")]!.spec!.payload = new Uint8Array())],
      ["coder spec", () => void (c.coders[existing(p, "coders")]!.spec = undefined)],
      ["coder components", () => void (c.coders[existing(p, "coders")]!.componentCoderIds = [])],
      ["pcollection coder", () => void (c.pcollections[existing(p, "pcollections")]!.coderId = "")],
      ["pcollection windowing", () => void (c.pcollections[existing(p, "pcollections")]!.windowingStrategyId = "")],
      ["window fn", () => void (c.windowingStrategies[existing(p, "windowingStrategies")]!.windowFn = undefined)],
      ["window coder", () => void (c.windowingStrategies[existing(p, "windowingStrategies")]!.windowCoderId = "")],
      ["environment urn", () => void (c.environments[existing(p, "environments")]!.urn = "")],
      ["environment payload", () => void (c.environments[existing(p, "environments")]!.payload = new Uint8Array([0xff, 0x01]))],
    ];
    const [what, apply] = pick(choices)!;
    try {
      apply();
    } catch {
      // The chosen component kind was empty: nothing to clear.
    }
    return `empty ${what}`;
  },
  randomUrn: (p) => {
    const c = p.components!;
    const urn = pick(RANDOM_URNS)!;
    const kind = pick(["transforms", "coders", "environments", "windowingStrategies"] as const)!;
    const id = existing(p, kind);
    if (kind === "transforms" && c.transforms[id]) c.transforms[id].spec = { urn, payload: c.transforms[id].spec?.payload ?? new Uint8Array() };
    if (kind === "coders" && c.coders[id]) c.coders[id].spec = { urn, payload: new Uint8Array() };
    if (kind === "environments" && c.environments[id]) c.environments[id].urn = urn;
    if (kind === "windowingStrategies" && c.windowingStrategies[id]) c.windowingStrategies[id].windowFn = { urn, payload: new Uint8Array() };
    return `${kind} '${id}' urn '${urn}'`;
  },
  randomPayload: (p) => {
    const bytes = new Uint8Array(int(64)).map(() => int(256));
    const id = existing(p, "transforms");
    const t = p.components!.transforms[id];
    if (t?.spec) t.spec.payload = bytes;
    return `transform '${id}' payload of ${bytes.length} random bytes`;
  },
  requirement: (p) => {
    p.requirements.push(pick(["beam:requirement:pardo:made_up:v1", ""])!);
    return "unknown requirement";
  },
  hugeRepetition: (p) => {
    const c = p.components!;
    const n = 20_000 + int(20_000);
    const choice = int(5);
    const root = c.transforms[p.rootTransformIds[0] ?? ""];
    if (choice === 0 && root) {
      // The same subtransform listed n times.
      const sub = root.subtransforms[0] ?? p.rootTransformIds[0]!;
      for (let i = 0; i < n; i++) root.subtransforms.push(sub);
      return `subtransform repeated ${n} times`;
    }
    if (choice === 1) {
      // A coder nested n deep.
      for (let i = 0; i < n; i++) c.coders[`deep-${i}`] = { spec: { urn: Coders.iterable, payload: new Uint8Array() }, componentCoderIds: [`deep-${i + 1}`] };
      c.coders[`deep-${n}`] = { spec: { urn: Coders.bytes, payload: new Uint8Array() }, componentCoderIds: [] };
      const pc = c.pcollections[existing(p, "pcollections")];
      if (pc) pc.coderId = "deep-0";
      return `coder nested ${n} deep`;
    }
    if (choice === 2 && root) {
      // A composite nested n deep, no cycle.
      const leaf = p.rootTransformIds[0]!;
      for (let i = 0; i < n; i++) c.transforms[`wrap-${i}`] = { ...root, uniqueName: `Wrap${i}`, subtransforms: [i + 1 < n ? `wrap-${i + 1}` : leaf] };
      p.rootTransformIds[0] = "wrap-0";
      return `hierarchy nested ${n} deep`;
    }
    if (choice === 3) {
      const t = c.transforms[existing(p, "transforms")];
      const pc = existing(p, "pcollections");
      for (let i = 0; i < n; i++) if (t) t.inputs[`in${i}`] = pc;
      return `${n} inputs`;
    }
    for (let i = 0; i < n; i++) p.rootTransformIds.push(p.rootTransformIds[0] ?? "x");
    return `root repeated ${n} times`;
  },
};

/** Mutations of the serialized pipeline: the request carries bytes that may not decode. */
const BYTE_MUTATIONS: Record<string, (b: Uint8Array) => Uint8Array> = {
  truncate: (b) => b.slice(0, int(b.length)),
  flip: (b) => {
    const out = b.slice();
    for (let i = 1 + int(8); i > 0; i--) {
      const at = int(out.length);
      out[at] = out[at]! ^ (1 << int(8));
    }
    return out;
  },
  randomise: (b) => {
    const out = b.slice();
    const at = int(out.length);
    for (let i = 0; i < 16 && at + i < out.length; i++) out[at + i] = int(256);
    return out;
  },
  garbage: () => new Uint8Array(int(200)).map(() => int(256)),
};

/** One seeded mutation of a captured pipeline: its bytes, and what was done, for the failure report. */
function mutation(): { fixture: { name: string; bytes: Uint8Array }; kind: string; what: string; bytes: Uint8Array } {
  const fixture = pick(fixtures)!;
  let bytes: Uint8Array;
  let kind: string;
  let what: string;
  if (random() < 0.2) {
    kind = pick(Object.keys(BYTE_MUTATIONS))!;
    bytes = BYTE_MUTATIONS[kind]!(fixture.bytes);
    what = `${bytes.length} of ${fixture.bytes.length} bytes`;
  } else {
    const pipeline = Pipeline.fromBinary(fixture.bytes);
    // Mostly one mutation, sometimes a few stacked.
    const steps = random() < 0.8 ? 1 : 2 + int(3);
    const done: string[] = [];
    const kinds: string[] = [];
    for (let s = 0; s < steps; s++) {
      const name = pick(Object.keys(PIPELINE_MUTATIONS).filter((k) => k !== "hugeRepetition" || random() < 0.1))!;
      kinds.push(name);
      if (!pipeline.components && name !== "requirement") continue;
      done.push(PIPELINE_MUTATIONS[name]!(pipeline));
    }
    kind = kinds.join("+");
    what = done.join(", ");
    bytes = Pipeline.toBinary(pipeline);
  }
  return { fixture, kind, what, bytes };
}

/** PrepareJobRequest bytes around raw pipeline bytes: field 1 (pipeline), field 3 (job name). */
function prepareRequestBytes(pipeline: Uint8Array): Buffer {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  const name = Buffer.from("fuzz");
  return Buffer.concat([Buffer.from([0x0a, ...varint(pipeline.length)]), pipeline, Buffer.from([0x1a, ...varint(name.length)]), name]);
}

let server: JobServer;
let jobs: JobServiceClient;
let raw: grpc.Client;

interface Answer {
  code: grpc.status;
  details: string;
  preparationId?: string;
  stagingSessionToken?: string;
}

function prepareRaw(request: Buffer): Promise<Answer> {
  return new Promise((resolve) =>
    raw.makeUnaryRequest(
      PREPARE_PATH,
      (b: Buffer) => b,
      (b: Buffer) => PrepareJobResponse.fromBinary(b),
      request,
      (e, r) => resolve(e ? { code: e.code, details: e.details } : { code: grpc.status.OK, details: "", preparationId: r!.preparationId, stagingSessionToken: r!.stagingSessionToken }),
    ),
  );
}

const answer = <Req, Res>(fn: (req: Req, cb: (e: grpc.ServiceError | null, r?: Res) => void) => unknown, req: Req): Promise<Answer & { response?: Res }> =>
  new Promise((resolve) => fn(req, (e, r) => resolve(e ? { code: e.code, details: e.details } : { code: grpc.status.OK, details: "", response: r })));

function streamAnswer(open: (req: { jobId: string }) => grpc.ClientReadableStream<unknown>, jobId: string): Promise<Answer> {
  return new Promise((resolve) => {
    const stream = open({ jobId });
    stream.on("data", () => undefined);
    stream.on("error", (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details }));
    stream.on("end", () => resolve({ code: grpc.status.OK, details: "" }));
  });
}

beforeAll(async () => {
  server = await JobServer.start({ port: 0, workers: 1 });
  jobs = new JobServiceClient(server.address, grpc.credentials.createInsecure());
  raw = new grpc.Client(server.address, grpc.credentials.createInsecure());
});

afterAll(async () => {
  jobs?.close();
  raw?.close();
  await server?.stop();
});

describe("the job server under malformed input", () => {
  it(`answers ${MUTATIONS} mutated pipelines (seed ${SEED}) with OK or a clean client error, and still prepares every valid one`, async () => {
    random = rng(SEED);
    const storeRoot = server.store instanceof LocalObjectStore ? server.store.root : "\u0000";
    const histogram: Record<string, number> = {};
    const byMutation: Record<string, Record<string, number>> = {};
    const failures: string[] = [];
    const plannerTrips: Record<string, { count: number; first: string }> = {};
    const started = Date.now();
    for (let i = 0; i < MUTATIONS; i++) {
      const { fixture, kind, what, bytes } = mutation();
      const result = await prepareRaw(prepareRequestBytes(bytes));
      const code = grpc.status[result.code];
      histogram[code] = (histogram[code] ?? 0) + 1;
      const family = kind.split("+")[0]!;
      byMutation[family] ??= {};
      byMutation[family][code] = (byMutation[family][code] ?? 0) + 1;
      // A planner that tripped rather than rejected: acceptable to the client, but a planner bug to fix.
      const tripped = /^the pipeline could not be planned: (\w+: .{0,80})/.exec(result.details)?.[1];
      const describe = `#${i} ${fixture.name} ${kind} (${what}): ${code} ${result.details.slice(0, 300)}`;
      if (tripped) (plannerTrips[tripped] ??= { count: 0, first: describe.slice(0, 200) }).count++;
      if (!ACCEPTABLE.has(result.code) || result.code === grpc.status.NOT_FOUND) failures.push(describe);
      else if (result.details.includes(storeRoot)) failures.push(`store path leaked: ${describe}`);
      else if (result.code !== grpc.status.OK && !result.details) failures.push(`no details: ${describe}`);
      if (result.preparationId) {
        // Prepared: the job is there, STOPPED, and can be cancelled.
        const state = await answer(jobs.getState.bind(jobs), { jobId: result.preparationId });
        if (state.response?.state !== JobState_Enum.STOPPED) failures.push(`prepared but state ${grpc.status[state.code]} ${state.details}: ${describe}`);
        const cancelled = await answer(jobs.cancel.bind(jobs), { jobId: result.preparationId });
        if (cancelled.code !== grpc.status.OK) failures.push(`prepared but cancel ${grpc.status[cancelled.code]}: ${describe}`);
      }
    }
    const elapsed = Date.now() - started;
    console.log(`fuzz seed ${SEED}: ${MUTATIONS} mutations in ${elapsed} ms; codes ${JSON.stringify(histogram)}`);
    console.log(`by mutation: ${JSON.stringify(byMutation)}`);
    console.log(`planner trips (INVALID_ARGUMENT 'could not be planned'): ${JSON.stringify(plannerTrips, null, 1)}`);
    expect(failures.slice(0, 20)).toEqual([]);

    // The server still serves: every captured pipeline prepares.
    for (const fixture of fixtures) {
      const prepared = await answer(jobs.prepare.bind(jobs), PrepareJobRequest.create({ pipeline: Pipeline.fromBinary(fixture.bytes), jobName: fixture.name }));
      expect(prepared.details).toBe("");
      expect(prepared.code).toBe(grpc.status.OK);
    }
  }, 60_000);

  it(`runs the first ${RUNS} mutated pipelines that prepare (seed ${SEED + 2}) to an end, and a valid Python job afterwards gives FnApiRunner's answer`, async () => {
    random = rng(SEED + 2);
    const ends: Record<string, number> = {};
    const failures: string[] = [];
    let ran = 0;
    for (let tried = 0; ran < RUNS && tried < 50 * RUNS; tried++) {
      const { fixture, kind, what, bytes } = mutation();
      const prepared = await prepareRaw(prepareRequestBytes(bytes));
      if (!prepared.preparationId) continue;
      ran++;
      const describe = `${fixture.name} ${kind} (${what})`;
      const run = await answer(jobs.run.bind(jobs), { preparationId: prepared.preparationId, retrievalToken: prepared.stagingSessionToken ?? "" });
      if (run.code !== grpc.status.OK) {
        if (!ACCEPTABLE.has(run.code) || run.code === grpc.status.NOT_FOUND || !run.details) failures.push(`Run ${grpc.status[run.code]} ${run.details}: ${describe}`);
        ends[`Run ${grpc.status[run.code]}`] = (ends[`Run ${grpc.status[run.code]}`] ?? 0) + 1;
        continue;
      }
      // Each job must end by itself (DONE, or FAILED saying why): none may hang or take the server down.
      const deadline = Date.now() + 120_000;
      let state: JobState_Enum | undefined;
      while (Date.now() < deadline) {
        state = (await answer(jobs.getState.bind(jobs), { jobId: prepared.preparationId })).response?.state;
        if (state !== undefined && TERMINAL.has(state)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const end = state === undefined ? "no state" : JobState_Enum[state];
      ends[end] = (ends[end] ?? 0) + 1;
      if (state === JobState_Enum.FAILED) {
        const error = server.registry.visibleTo(undefined).find((j) => j.id === prepared.preparationId)?.messages.filter((m) => m.importance === JobMessage_MessageImportance.JOB_MESSAGE_ERROR).pop();
        console.log(`FAILED: ${describe.slice(0, 160)}: ${error?.messageText.split("\n", 1)[0]?.slice(0, 300)}`);
      }
      if (state === undefined || !TERMINAL.has(state)) {
        failures.push(`still ${end} after 120 s: ${describe}`);
        await answer(jobs.cancel.bind(jobs), { jobId: prepared.preparationId });
      }
    }
    console.log(`fuzz seed ${SEED + 2}: ran ${ran} mutated pipelines that prepared; ends ${JSON.stringify(ends)}`);
    expect(ran).toBe(RUNS);
    expect(failures).toEqual([]);

    // A real job afterwards, from the Python SDK: the server still runs pipelines, and right.
    const workdir = mkdtempSync(join(tmpdir(), "fuzz-after-"));
    const [ours, reference] = await Promise.all([
      runCases("portable", ["combiners"], { workdir, extra: ["--job_endpoint", server.address] }),
      runCases("fnapi", ["combiners"], { workdir }),
    ]);
    expect(ours.combiners!.error).toBeNull();
    expect(reference.combiners!.lines!.length).toBeGreaterThan(0);
    expect(ours.combiners!.lines).toEqual(reference.combiners!.lines);
  }, 600_000);

  it("answers job-API calls about jobs it never prepared with NOT_FOUND, and empty or undecodable requests with INVALID_ARGUMENT", async () => {
    random = rng(SEED + 1);
    const ids = ["", "[fake]", "job-00000000", "../../etc/passwd", "x".repeat(10_000), "\u0000\uffff", ...Array.from({ length: 20 }, () => `job-${int(1e9)}`)];
    const codes: Record<string, number> = {};
    for (const id of ids) {
      const calls: Answer[] = [
        await answer(jobs.run.bind(jobs), { preparationId: id, retrievalToken: "" }),
        await answer(jobs.getState.bind(jobs), { jobId: id }),
        await answer(jobs.cancel.bind(jobs), { jobId: id }),
        await answer(jobs.getPipeline.bind(jobs), { jobId: id }),
        await answer(jobs.getJobMetrics.bind(jobs), { jobId: id }),
        await streamAnswer(jobs.getMessageStream.bind(jobs), id),
        await streamAnswer(jobs.getStateStream.bind(jobs), id),
      ];
      for (const c of calls) {
        codes[grpc.status[c.code]] = (codes[grpc.status[c.code]] ?? 0) + 1;
        expect(c.code).toBe(grpc.status.NOT_FOUND);
        expect(c.details).toMatch(/^no job with id '/);
      }
    }
    console.log(`job API with ${ids.length} unknown ids: ${JSON.stringify(codes)}`);

    await expect(answer(jobs.prepare.bind(jobs), PrepareJobRequest.create({ jobName: "job" }))).resolves.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(answer(jobs.prepare.bind(jobs), PrepareJobRequest.create({ pipeline: Pipeline.create(), jobName: "job" }))).resolves.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining("no components") as unknown,
    });
    // A request that is not a PrepareJobRequest at all: a field whose wire type is invalid.
    const undecodable = await prepareRaw(Buffer.from([0x0f, 0x01, 0x02]));
    expect(undecodable).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining("the Prepare request is not a valid message") as unknown });
  });
});
