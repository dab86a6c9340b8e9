// Runs one task: a stage's bundle over one input partition, on a warm SDK harness.
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { type ProcessBundleResponse, ProcessBundleDescriptor, RemoteGrpcPort } from "apache-beam/proto/beam_fn_api";
import { setTimeout as delay } from "node:timers/promises";
import { MonitoringInfo } from "apache-beam/proto/metrics";
import { encodeTimestampMillis } from "../codec/byte-io.js";
import { type CoderTree, resolveCoder } from "../codec/coders.js";
import { MIN_TIMESTAMP_MILLIS, PANE_NO_FIRING, encodeWindowedValue } from "../codec/windows.js";
import type { EnvironmentSpec, MergeTaskSpec, TaskOutputResult, TaskResult, TaskSpec, WorkerTask } from "../common/task-spec.js";
import { Transforms } from "../common/urns.js";
import { OverflowValues, ShuffleOutputWriter, mergePartitionedOutputs } from "../shuffle/index.js";
import { type ObjectStore, jobPrefix } from "../store/index.js";
import { type ReadOptions, readInputChunks, readsStateBackedValues } from "../shuffle/edge-reader.js";
import { FnApiServer } from "./fn-api-server.js";
import { SdkWindowMerger } from "./sdk-window-merger.js";
import { type HarnessConnection, failureCause } from "./harness-connection.js";
import { type HarnessOptions, type SdkHarness, startHarness } from "./sdk-harness.js";
import { TaskStateStore } from "./state-store.js";
import { HarnessPool } from "./harness-pool.js";
import { PendingTimers } from "./pending-timers.js";
import { watchProgress } from "./progress-watchdog.js";
import { SpareInterpreters } from "./spare-interpreters.js";

/** Guards against a timer that keeps re-setting itself forever. */
const MAX_TIMER_ROUNDS = 10_000;
/** Guards against a splittable DoFn that defers forever (an unbounded source in a batch job). */
const MAX_RESUME_ROUNDS = 100_000;
/** Pause before resuming deferred work; batch has no reason to honour longer requested delays. */
const RESUME_DELAY_MS = 10;

export interface TaskRunnerOptions extends Omit<HarnessOptions, "interpreters"> {
  /** Shuffle data a task holds in memory before spilling sorted runs to local disk (Lambda: /tmp). */
  shuffleMemoryBytes: number;
  /** A bundle with no data or state traffic with its harness for this long fails as an infrastructure loss. */
  noProgressTimeoutMs: number;
  /** Keep an interpreter of `python` waiting, Beam imported, for the next harness (spare-interpreters.ts). */
  spareInterpreter?: boolean;
}

type FiringTimers = { transformId: string; timerFamilyId: string; timers: Uint8Array[] }[];

/** The elements to resume a checkpointed splittable DoFn with, encoded as the stage's source sends them. */
function residualElements(spec: TaskSpec, response: ProcessBundleResponse): Uint8Array[] {
  return response.residualRoots.map((root) => {
    const app = root.application;
    if (!app) throw new Error("the harness returned a residual without an application");
    if (app.transformId !== spec.mainConsumer) {
      throw new Error(`the harness returned a residual for '${app.transformId}', which does not read the stage's input`);
    }
    return app.element;
  });
}

export class TaskRunner {
  /** Warm harnesses, shared between jobs where nothing they read differs (harness-pool.ts). */
  readonly harnesses: HarnessPool;
  private readonly descriptors = new Map<string, Promise<ProcessBundleDescriptor>>();

  /** Interpreters of the worker's Python started ahead of need (spare-interpreters.ts). */
  readonly interpreters = new SpareInterpreters();

  private constructor(
    private readonly server: FnApiServer,
    readonly store: ObjectStore,
    private readonly options: TaskRunnerOptions,
  ) {
    const harnessOptions = { ...options, interpreters: this.interpreters };
    this.harnesses = new HarnessPool(store, (spec) => startHarness(server, spec.environment satisfies EnvironmentSpec, spec, store, harnessOptions));
    if (options.spareInterpreter !== false) this.interpreters.keep(options.python);
  }

  static async create(store: ObjectStore, options: TaskRunnerOptions): Promise<TaskRunner> {
    return new TaskRunner(await FnApiServer.start(), store, options);
  }

  async run(task: WorkerTask): Promise<TaskResult> {
    this.interpreters.taskStarted();
    try {
      return await (task.kind === "merge" ? this.merge(task) : this.runBundleTask(task));
    } finally {
      this.interpreters.taskEnded();
    }
  }

  private async merge(spec: MergeTaskSpec): Promise<TaskResult> {
    try {
      const merged = await mergePartitionedOutputs(this.store, spec.inputs, spec.outputKey);
      const format = spec.inputs[0]?.format ?? "plain";
      const compression = spec.inputs[0]?.compression;
      const elements = spec.inputs.reduce((n, i) => n + i.elements, 0);
      return { ok: true, workerPid: process.pid, monitoringInfos: [], outputs: [{ id: spec.materializationId, ...merged, format, ...(compression && { compression }), elements }] };
    } catch (e) {
      return { ok: false, workerPid: process.pid, error: `merging map outputs failed: ${(e as Error).message}`, retryable: true };
    }
  }

  private async runBundleTask(spec: TaskSpec): Promise<TaskResult> {
    let harness: SdkHarness | undefined;
    try {
      const descriptor = await this.descriptor(spec.descriptorKey);
      if (spec.passThrough) return { ok: true, workerPid: process.pid, ...(await this.copyThrough(spec, descriptor)) };
      harness = await this.harnesses.acquire(spec);
      const connection = harness.connection;
      await connection.register(descriptor);
      const outputs = await this.execute(spec, descriptor, connection);
      return { ok: true, workerPid: process.pid, ...outputs };
    } catch (e) {
      const closed = harness?.connection.closed;
      if (closed !== undefined && harness) this.harnesses.drop(harness);
      const logs = harness?.connection.recentErrors().slice(-3).join("\n") ?? "";
      const message = e instanceof Error ? e.message : String(e);
      return {
        ok: false,
        workerPid: process.pid,
        error: message + (logs && !message.includes(logs) ? `\nSDK harness errors:\n${logs}` : ""),
        retryable: true,
        ...failureCause(e, closed),
      };
    }
  }

  async close(): Promise<void> {
    this.interpreters.close();
    await this.harnesses.close();
    await this.server.stop();
  }

  private descriptor(key: string): Promise<ProcessBundleDescriptor> {
    let d = this.descriptors.get(key);
    if (!d) {
      d = this.store.get(key).then((bytes) => withEndpoint(ProcessBundleDescriptor.fromBinary(bytes), key, this.server.address));
      d.catch(() => this.descriptors.delete(key));
      this.descriptors.set(key, d);
    }
    return d;
  }

  /** The job has ended: its warm harnesses stop unless another job shares them (or soon does). */
  endJob(jobId: string): void {
    this.harnesses.endJob(jobId);
    // Its descriptors (keys under jobs/<job>/) are not needed again: a worker outlives many jobs.
    for (const key of this.descriptors.keys()) if (key.startsWith(jobPrefix(jobId))) this.descriptors.delete(key);
  }

  /** A pass-through stage: every element of the main input goes to every output, no harness. */
  private async copyThrough(spec: TaskSpec, descriptor: ProcessBundleDescriptor): Promise<{ outputs: TaskOutputResult[]; monitoringInfos: string[] }> {
    const coders = coderLookup(descriptor);
    const sinks = outputWriters(spec, coders, this.options.shuffleMemoryBytes);
    const readOptions: ReadOptions = { memoryBudgetBytes: this.options.shuffleMemoryBytes, spillDir: tmpdir() };
    const input = spec.main.kind === "impulse" ? [impulseElement()] : chunkBytes(readInputChunks(this.store, spec.main, coders, readOptions));
    for await (const data of input) for (const { writer } of sinks.values()) writer.addElements(data);
    return { outputs: await this.writeOutputs(spec, sinks), monitoringInfos: [] };
  }

  private async execute(
    spec: TaskSpec,
    descriptor: ProcessBundleDescriptor,
    connection: HarnessConnection,
  ): Promise<{ outputs: TaskOutputResult[]; monitoringInfos: string[] }> {
    const coders = coderLookup(descriptor);
    const sinks = outputWriters(spec, coders, this.options.shuffleMemoryBytes);
    const onOutput = (transformId: string, data: Uint8Array): void => {
      // The writer copies: the harness's message buffer is reused by gRPC.
      sinks.get(transformId)?.writer.addElements(data);
    };

    const windowMerger = spec.windowMergeDescriptorKey ? new SdkWindowMerger(connection, await this.descriptor(spec.windowMergeDescriptorKey)) : undefined;
    const overflow =
      spec.main.kind === "edge" && readsStateBackedValues(coders(spec.main.wireCoderId)) ? new OverflowValues(tmpdir()) : undefined;
    const readOptions: ReadOptions = { memoryBudgetBytes: this.options.shuffleMemoryBytes, spillDir: tmpdir(), overflow, windowMerger };
    const state = new TaskStateStore(this.store, spec.sideInputs, coders, readOptions);
    const edgeInput = spec.main.kind === "impulse" ? undefined : chunkBytes(readInputChunks(this.store, spec.main, coders, readOptions));
    try {
      return await this.runBundles(spec, descriptor, connection, coders, state, onOutput, edgeInput ?? [impulseElement()], sinks);
    } finally {
      // However the bundles ended, the input is done with: returning its reader closes the
      // grouping's spilled runs and deletes their files now, not when the process exits (a warm
      // Lambda runs task after task). A no-op once the input has been read to its end.
      await edgeInput?.return(undefined);
      overflow?.close();
    }
  }

  private async runBundles(
    spec: TaskSpec,
    descriptor: ProcessBundleDescriptor,
    connection: HarnessConnection,
    coders: (id: string) => CoderTree,
    state: TaskStateStore,
    onOutput: (transformId: string, data: Uint8Array) => void,
    mainInput: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    sinks: OutputWriters,
  ): Promise<{ outputs: TaskOutputResult[]; monitoringInfos: string[] }> {
    const metrics: MonitoringInfo[][] = [];
    let timers = new PendingTimers(spec, coders);
    const runBundle = async (input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, firing: FiringTimers): Promise<Uint8Array[]> => {
      const done = await this.bundle(spec, descriptor.id, connection, input, firing, state, onOutput, timers);
      metrics.push(done.response.monitoringInfos);
      // Finalization callbacks (e.g. acknowledging a source) run once the bundle's output is in
      // the worker's hands, before any checkpointed remainder is resumed.
      if (done.response.requiresFinalization) await connection.finalizeBundle(done.instructionId);
      return residualElements(spec, done.response);
    };
    // A splittable DoFn may checkpoint: its residual restrictions come back as new input.
    let pending = await runBundle(mainInput, []);
    for (let round = 1; pending.length > 0; round++) {
      if (round >= MAX_RESUME_ROUNDS) throw new Error(`a splittable DoFn was still deferring work after ${MAX_RESUME_ROUNDS} bundles`);
      await delay(RESUME_DELAY_MS);
      pending = await runBundle([Buffer.concat(pending)], []);
    }
    for (let round = 0; timers.size > 0; round++) {
      if (round >= MAX_TIMER_ROUNDS) throw new Error(`timers were still being set after ${MAX_TIMER_ROUNDS} rounds`);
      const firing = timers.drain();
      timers = new PendingTimers(spec, coders);
      const residuals = await runBundle([], firing);
      if (residuals.length > 0) throw new Error("a timer callback deferred work (residual restrictions), which batch timers do not support");
    }

    const outputs = await this.writeOutputs(spec, sinks);
    return { outputs, monitoringInfos: metrics.flat().map((m) => Buffer.from(MonitoringInfo.toBinary(m)).toString("base64")) };
  }

  private async writeOutputs(spec: TaskSpec, sinks: OutputWriters): Promise<TaskOutputResult[]> {
    const outputs: TaskOutputResult[] = [];
    for (const { spec: o, writer } of sinks.values()) {
      const key = `${spec.outputPrefix}/${safeName(o.pcollection)}`;
      const offsets = await writer.write(this.store, key, o.compression);
      outputs.push({ id: o.id, key, offsets, format: o.format, ...(o.compression && { compression: o.compression }), elements: writer.records });
    }
    return outputs;
  }

  /** Runs one bundle to completion and returns its metrics. */
  private async bundle(
    spec: TaskSpec,
    descriptorId: string,
    connection: HarnessConnection,
    input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    firing: FiringTimers,
    state: TaskStateStore,
    onOutput: (transformId: string, data: Uint8Array) => void,
    timers: PendingTimers,
  ): Promise<{ instructionId: string; response: ProcessBundleResponse }> {
    const openSinks = new Set(spec.outputs.map((o) => o.sinkTransformId));
    const openTimerOutputs = new Set(spec.timers.map((t) => `${t.transformId}\0${t.timerFamilyId}`));
    let outputsDone!: () => void;
    let bundleFailed!: (e: unknown) => void;
    const allOutputs = new Promise<void>((resolve, reject) => {
      outputsDone = resolve;
      bundleFailed = reject;
    });
    allOutputs.catch(() => undefined);
    // A bad element must fail this bundle, never the worker process.
    const guarded =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A): void => {
        try {
          fn(...args);
        } catch (e) {
          bundleFailed(e);
        }
      };
    const check = (): void => {
      if (openSinks.size === 0 && openTimerOutputs.size === 0) outputsDone();
    };
    check();
    const { instructionId, response } = connection.startBundle(
      descriptorId,
      {
        onData: guarded((transformId: string, data: Uint8Array, isLast: boolean) => {
          if (data.length > 0) onOutput(transformId, data);
          if (isLast) {
            openSinks.delete(transformId);
            check();
          }
        }),
        onTimers: guarded((transformId: string, timerFamilyId: string, data: Uint8Array, isLast: boolean) => {
          if (data.length > 0) timers.add(transformId, timerFamilyId, data);
          if (isLast) {
            openTimerOutputs.delete(`${transformId}\0${timerFamilyId}`);
            check();
          }
        }),
      },
      state.handle,
    );
    const stopWatching = watchProgress(connection, this.options.noProgressTimeoutMs);
    try {
      const sending = sendBundleInput(connection, spec, instructionId, input, firing);
      sending.catch(() => undefined); // once the race is lost, its failure is nobody's to report
      // The harness may answer with an error before it opens its data stream (it failed building
      // the bundle's operations), and sending waits for that stream: the answer wins the race.
      await Promise.race([sending, response.then(() => sending), connection.lost]);
      const result = await Promise.race([response, connection.lost, allOutputs.then(() => response)]);
      await Promise.race([allOutputs, connection.lost]);
      return { instructionId, response: result };
    } finally {
      stopWatching();
      connection.finishBundle(instructionId);
    }
  }
}

/** Sends a bundle's main input, then its firing timers and the end of each timer family. */
async function sendBundleInput(
  connection: HarnessConnection,
  spec: TaskSpec,
  instructionId: string,
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  firing: FiringTimers,
): Promise<void> {
  await connection.sendInput(instructionId, spec.main.sourceTransformId, input);
  for (const t of spec.timers) {
    const f = firing.find((x) => x.transformId === t.transformId && x.timerFamilyId === t.timerFamilyId);
    const base = { instructionId, transformId: t.transformId, timerFamilyId: t.timerFamilyId };
    if (f) await connection.send({ data: [], timers: [{ ...base, timers: Buffer.concat(f.timers), isLast: false }] });
    await connection.send({ data: [], timers: [{ ...base, timers: new Uint8Array(), isLast: true }] });
  }
}

/** A task's output writers by sink transform. */
type OutputWriters = Map<string, { spec: TaskSpec["outputs"][number]; writer: ShuffleOutputWriter }>;

function coderLookup(descriptor: ProcessBundleDescriptor): (id: string) => CoderTree {
  const cache = new Map<string, CoderTree>();
  return (id) => {
    let c = cache.get(id);
    if (!c) cache.set(id, (c = resolveCoder(descriptor.coders, id)));
    return c;
  };
}

function outputWriters(spec: TaskSpec, coders: (id: string) => CoderTree, shuffleMemoryBytes: number): OutputWriters {
  // The task's shuffle memory is shared by its outputs; past its share, an output spills.
  const budget = { memoryBudgetBytes: shuffleMemoryBytes / Math.max(1, spec.outputs.length), spillDir: tmpdir() };
  return new Map(spec.outputs.map((o) => [o.sinkTransformId, { spec: o, writer: new ShuffleOutputWriter(coders(o.wireCoderId), o.partitions, o.partitionBy, o.format, budget) }]));
}

/** Impulse's one element: an empty byte array in the global window at the start of time. */
function impulseElement(): Buffer {
  return encodeWindowedValue(encodeTimestampMillis(MIN_TIMESTAMP_MILLIS), new Uint8Array(), PANE_NO_FIRING, [Uint8Array.of(0)]);
}

async function* chunkBytes(chunks: AsyncIterable<{ bytes: Buffer }>): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) yield chunk.bytes;
}

/** Fills the worker's own address into the data ports and the state endpoint. */
function withEndpoint(d: ProcessBundleDescriptor, id: string, address: string): ProcessBundleDescriptor {
  d.id = id;
  for (const t of Object.values(d.transforms)) {
    if (t.spec?.urn === Transforms.dataSource || t.spec?.urn === Transforms.dataSink) {
      const port = RemoteGrpcPort.fromBinary(t.spec.payload);
      port.apiServiceDescriptor = { url: address, authentication: undefined };
      t.spec.payload = RemoteGrpcPort.toBinary(port);
    }
  }
  if (d.stateApiServiceDescriptor) d.stateApiServiceDescriptor = { url: address };
  if (d.timerApiServiceDescriptor) d.timerApiServiceDescriptor = { url: address };
  return d;
}

function safeName(pcollection: string): string {
  return pcollection.replace(/[^A-Za-z0-9_.-]/g, "_") + "-" + randomUUID().slice(0, 8);
}
