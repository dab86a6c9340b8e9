// The runner's side of one SDK harness's Fn API streams.
//
// One bundle, as the worker drives it:
//   runner                                   SDK harness
//   control: RegisterRequest(descriptor) ──▶
//                                        ◀── RegisterResponse
//   control: ProcessBundleRequest(id) ─────▶
//   data: Elements{source, chunk}... ──────▶  (is_last on the source, and on each timer family)
//                                        ◀── state: get/append/clear (side inputs, user state)
//                                        ◀── data: Elements{sink, chunk}... is_last per sink
//                                        ◀── control: ProcessBundleResponse(metrics) or error
// The bundle is done when the response has arrived AND every sink has sent is_last: the two
// travel on different streams, so either may come first.
import type * as grpc from "@grpc/grpc-js";
import type {
  Elements,
  InstructionRequest,
  InstructionResponse,
  LogEntry,
  ProcessBundleDescriptor,
  ProcessBundleResponse,
  StateRequest,
  StateResponse,
} from "apache-beam/proto/beam_fn_api";
import { LogEntry_Severity_Enum } from "apache-beam/proto/beam_fn_api";
import { log } from "../common/log.js";
import { readSetting } from "../common/config.js";
import { redactSecrets } from "../common/redact.js";
import type { FailureCause } from "../common/task-spec.js";

/** Where harness log entries go when BEAM_LAMBDA_HARNESS_LOGS is on. */
const harnessLog = log.child({ component: "harness" });

export interface BundleReceiver {
  onData(transformId: string, data: Uint8Array, isLast: boolean): void;
  onTimers(transformId: string, timerFamilyId: string, timers: Uint8Array, isLast: boolean): void;
}

export type StateHandler = (request: StateRequest) => Promise<StateResponse["response"]>;

export class HarnessError extends Error {
  override name = "HarnessError";
}

/**
 * The harness is gone: its process was killed, a stream closed, it never connected. Nothing about
 * the bundle says it will fail again, so the attempt is an infrastructure loss (TaskResult.cause).
 */
export class HarnessLostError extends HarnessError {
  override name = "HarnessLostError";
}

/** The SDK worker pool of a LOOPBACK / EXTERNAL environment did not answer: its process may be gone. */
export class WorkerPoolUnreachableError extends HarnessLostError {
  override name = "WorkerPoolUnreachableError";

  constructor(
    readonly address: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * A bundle saw no data or state traffic for the configured time (a DoFn stuck in a call that never
 * returns, a harness wedged): the harness is stopped and the attempt counts as a loss, retried
 * elsewhere, as a hung machine would be.
 */
export class NoProgressError extends HarnessLostError {
  override name = "NoProgressError";
}

/** The SDK answered an instruction with an error: the pipeline's code raised (a user failure). */
export class SdkInstructionError extends HarnessError {
  override name = "SdkInstructionError";
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

const MAX_REMEMBERED_LOGS = 50;

export class HarnessConnection {
  private control?: grpc.ServerDuplexStream<InstructionResponse, InstructionRequest>;
  private data?: grpc.ServerDuplexStream<Elements, Elements>;
  private readonly controlReady = deferred<void>();
  private readonly lostWith = deferred<never>();
  private readonly dataReady = deferred<void>();
  private readonly pending = new Map<string, Deferred<InstructionResponse>>();
  private readonly receivers = new Map<string, BundleReceiver>();
  private readonly stateHandlers = new Map<string, StateHandler>();
  private readonly descriptors = new Map<string, ProcessBundleDescriptor>();
  private readonly registered = new Set<string>();
  private readonly logs: string[] = [];
  private closedWith?: Error;
  private nextInstruction = 0;
  /** When data, state or control traffic last passed between the runner and the harness. */
  private lastTrafficAt = Date.now();
  private readingInput = false;

  constructor(readonly workerId: string) {}

  /** Rejects with the reason once the harness is gone; race it against anything that waits on the harness. */
  get lost(): Promise<never> {
    return this.lostWith.promise;
  }

  /**
   * Milliseconds since the last data, state or control traffic with the harness (log entries do
   * not count); 0 while the runner is reading the bundle's input (`sendInput`), which may wait for
   * a pipelined feed's producer: that wait is not the harness's.
   */
  get idleMs(): number {
    return this.readingInput ? 0 : Date.now() - this.lastTrafficAt;
  }

  /** Restarts the idle clock: a bundle starts, and the time between bundles is not the harness's. */
  noteTraffic(): void {
    this.lastTrafficAt = Date.now();
  }

  /** Resolves once the harness has opened its control stream. */
  get ready(): Promise<void> {
    return this.controlReady.promise;
  }

  attachControl(call: grpc.ServerDuplexStream<InstructionResponse, InstructionRequest>): void {
    this.control = call;
    call.on("data", (response: InstructionResponse) => {
      this.noteTraffic();
      const waiter = this.pending.get(response.instructionId);
      this.pending.delete(response.instructionId);
      waiter?.resolve(response);
    });
    const lost = (): void => this.close(new HarnessLostError(`the SDK harness ${this.workerId} closed its control stream`));
    call.on("end", lost);
    call.on("error", lost);
    this.controlReady.resolve();
  }

  attachData(call: grpc.ServerDuplexStream<Elements, Elements>): void {
    this.data = call;
    call.on("data", (elements: Elements) => {
      this.noteTraffic();
      for (const d of elements.data) this.receivers.get(d.instructionId)?.onData(d.transformId, d.data, d.isLast);
      for (const t of elements.timers) this.receivers.get(t.instructionId)?.onTimers(t.transformId, t.timerFamilyId, t.timers, t.isLast);
    });
    call.on("error", () => undefined);
    call.on("end", () => call.end());
    this.dataReady.resolve();
  }

  attachState(call: grpc.ServerDuplexStream<StateRequest, StateResponse>): void {
    call.on("data", (request: StateRequest) => {
      this.noteTraffic();
      const handler = this.stateHandlers.get(request.instructionId);
      const answer = handler
        ? handler(request)
        : Promise.reject(new Error(`no bundle '${request.instructionId}' is running on this worker`));
      answer.then(
        (response) => call.write({ id: request.id, error: "", response }),
        (e: unknown) => call.write({ id: request.id, error: String((e as Error)?.message ?? e), response: { oneofKind: undefined } }),
      );
    });
    call.on("error", () => undefined);
    call.on("end", () => call.end());
  }

  onLog(entry: LogEntry): void {
    // ERROR and CRITICAL are kept to explain a failing bundle.
    if (entry.severity >= LogEntry_Severity_Enum.ERROR) {
      this.logs.push(redactSecrets(entry.message + (entry.trace ? `\n${entry.trace}` : "")));
      if (this.logs.length > MAX_REMEMBERED_LOGS) this.logs.shift();
    }
    if (readSetting("harnessLogs")) {
      harnessLog.info(redactSecrets(entry.message), { harness: this.workerId, instruction: entry.instructionId || undefined, transform: entry.transformId || undefined });
    }
  }

  descriptor(id: string): ProcessBundleDescriptor | undefined {
    return this.descriptors.get(id);
  }

  /** Makes the descriptor known to the harness (once per harness). */
  async register(descriptor: ProcessBundleDescriptor): Promise<void> {
    if (this.registered.has(descriptor.id)) return;
    this.descriptors.set(descriptor.id, descriptor);
    const response = await this.instruct({ oneofKind: "register", register: { processBundleDescriptor: [descriptor] } });
    if (response.error) throw new SdkInstructionError(`the SDK harness rejected bundle descriptor ${descriptor.id}: ${response.error}`);
    this.registered.add(descriptor.id);
  }

  /** Starts a bundle; returns its instruction id and a promise of the harness's response. */
  startBundle(
    descriptorId: string,
    receiver: BundleReceiver,
    stateHandler: StateHandler,
  ): { instructionId: string; response: Promise<ProcessBundleResponse> } {
    const instructionId = `${this.workerId}-b${++this.nextInstruction}`;
    this.receivers.set(instructionId, receiver);
    this.stateHandlers.set(instructionId, stateHandler);
    const response = this.instruct(
      { oneofKind: "processBundle", processBundle: { processBundleDescriptorId: descriptorId, cacheTokens: [] } },
      instructionId,
    ).then((r) => {
      if (r.error) throw new SdkInstructionError(r.error);
      if (r.response.oneofKind !== "processBundle") throw new HarnessError(`unexpected response '${r.response.oneofKind}'`);
      return r.response.processBundle;
    });
    response.catch(() => undefined);
    return { instructionId, response };
  }

  /** Runs the bundle's finalization callbacks. Their failures are the SDK's to log, not the task's. */
  async finalizeBundle(instructionId: string): Promise<void> {
    const response = await this.instruct({ oneofKind: "finalizeBundle", finalizeBundle: { instructionId } });
    if (response.error) this.logs.push(`bundle finalization of ${instructionId} failed: ${response.error}`);
  }

  finishBundle(instructionId: string): void {
    this.receivers.delete(instructionId);
    this.stateHandlers.delete(instructionId);
  }

  /** Sends data to the harness, waiting for the data stream to open and for flow control. */
  async send(elements: Elements): Promise<void> {
    await Promise.race([this.dataReady.promise, this.controlReady.promise.then(() => this.dataReady.promise)]);
    this.throwIfClosed();
    this.noteTraffic();
    if (!this.data!.write(elements)) {
      await new Promise<void>((resolve) => this.data!.once("drain", resolve));
    }
  }

  /** Sends a bundle's input to a data source: each chunk (whole elements) as one message, then the end alone. */
  async sendInput(instructionId: string, transformId: string, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    const iterator = Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
    let finished = false;
    try {
      for (;;) {
        const next = await this.whileReadingInput(iterator.next());
        if (next.done) break;
        if (next.value.length > 0) await this.send({ data: [{ instructionId, transformId, data: next.value, isLast: false }], timers: [] });
      }
      finished = true;
    } finally {
      // Stopped early (the harness is gone): the input's reader releases what it holds, as for-await would have it.
      if (!finished) await iterator.return?.();
    }
    // The Fn API ignores data in a message that carries is_last, so the end goes alone.
    await this.send({ data: [{ instructionId, transformId, data: new Uint8Array(), isLast: true }], timers: [] });
  }

  private async whileReadingInput<T>(read: Promise<T> | T): Promise<T> {
    this.readingInput = true;
    try {
      return await read;
    } finally {
      this.readingInput = false;
      this.noteTraffic();
    }
  }

  recentErrors(): string[] {
    return [...this.logs];
  }

  close(error: Error): void {
    if (this.closedWith) return;
    this.closedWith = error;
    this.lostWith.reject(error);
    this.controlReady.reject(error);
    this.dataReady.reject(error);
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
    try {
      this.control?.end();
      this.data?.end();
    } catch {
      // The stream may already be gone; nothing more to release.
    }
  }

  get closed(): Error | undefined {
    return this.closedWith;
  }

  private throwIfClosed(): void {
    if (this.closedWith) throw this.closedWith;
  }

  private async instruct(request: InstructionRequest["request"], instructionId = `${this.workerId}-i${++this.nextInstruction}`): Promise<InstructionResponse> {
    await this.controlReady.promise;
    this.throwIfClosed();
    const waiter = deferred<InstructionResponse>();
    this.pending.set(instructionId, waiter);
    this.control!.write({ instructionId, request });
    return waiter.promise;
  }
}

/**
 * Why a bundle failed (TaskResult.cause). A harness that is gone, whatever error surfaced first,
 * is an infrastructure loss; an error the SDK reported is the pipeline's. Anything else (the
 * runner's own checks, a store error) is left unclassified and counts as a user failure.
 */
export function failureCause(error: unknown, closed: Error | undefined): { cause?: FailureCause; workerPoolUnreachable?: string } {
  if (error instanceof WorkerPoolUnreachableError) return { cause: "infrastructure", workerPoolUnreachable: error.address };
  if (error instanceof HarnessLostError || closed instanceof HarnessLostError) return { cause: "infrastructure" };
  if (error instanceof SdkInstructionError) return { cause: "user" };
  return {};
}
