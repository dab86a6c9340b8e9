// What a failed bundle's error says about its cause: the SDK's own error report is the
// pipeline's (a user failure), a harness gone away or idle too long is the infrastructure's (TaskResult.cause).
import { EventEmitter } from "node:events";
import type * as grpc from "@grpc/grpc-js";
import type { Elements, InstructionRequest, InstructionResponse } from "apache-beam/proto/beam_fn_api";
import { describe, expect, it } from "vitest";
import { HarnessConnection, HarnessLostError, NoProgressError, SdkInstructionError, failureCause } from "../../src/worker/harness-connection.js";
import { watchProgress } from "../../src/worker/progress-watchdog.js";

/** A control stream whose requests are recorded and whose responses the test sends. */
function fakeControl() {
  const requests: InstructionRequest[] = [];
  const stream = Object.assign(new EventEmitter(), {
    write: (request: InstructionRequest) => requests.push(request) > 0,
    end: () => undefined,
  });
  return { requests, stream, call: stream as unknown as grpc.ServerDuplexStream<InstructionResponse, InstructionRequest> };
}

const noReceiver = { onData: () => undefined, onTimers: () => undefined };
const noState = () => Promise.resolve({ oneofKind: undefined });

async function startedBundle() {
  const connection = new HarnessConnection("w-test");
  const control = fakeControl();
  connection.attachControl(control.call);
  const { instructionId, response } = connection.startBundle("descriptor-1", noReceiver, noState);
  // The request goes out once the control stream is known to be ready.
  await new Promise((resolve) => setImmediate(resolve));
  expect(control.requests.map((r) => r.instructionId)).toEqual([instructionId]);
  return { connection, control, instructionId, response };
}

describe("a harness connection's bundle errors", () => {
  it("when the SDK answers a bundle with an error, it rejects with an SdkInstructionError (a user failure)", async () => {
    const { control, instructionId, response } = await startedBundle();

    control.stream.emit("data", { instructionId, error: "Traceback ...\nValueError: boom", response: { oneofKind: undefined } });

    await expect(response).rejects.toBeInstanceOf(SdkInstructionError);
    await expect(response).rejects.toThrow("ValueError: boom");
  });

  it("when the control stream closes mid-bundle, it rejects with a HarnessLostError (the infrastructure's)", async () => {
    const { connection, control, response } = await startedBundle();

    control.stream.emit("end");

    await expect(response).rejects.toBeInstanceOf(HarnessLostError);
    expect(connection.closed).toBeInstanceOf(HarnessLostError);
  });
});

describe("a harness connection's idle time (the no-progress watchdog's measure)", () => {
  /** A data stream that accepts every write. */
  function fakeData() {
    const written: Elements[] = [];
    const stream = Object.assign(new EventEmitter(), { write: (e: Elements) => written.push(e) > 0, end: () => undefined });
    return { written, call: stream as unknown as grpc.ServerDuplexStream<Elements, Elements> };
  }

  it("grows while nothing passes, is 0 while the runner waits for its own input, and restarts with each chunk sent", async () => {
    const connection = new HarnessConnection("w-idle");
    connection.attachControl(fakeControl().call);
    const data = fakeData();
    connection.attachData(data.call);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(connection.idleMs).toBeGreaterThanOrEqual(50);

    let idleWhileReading = -1;
    async function* slowInput() {
      await new Promise((resolve) => setTimeout(resolve, 60));
      idleWhileReading = connection.idleMs;
      yield Uint8Array.of(1);
    }
    await connection.sendInput("b1", "source", slowInput());

    expect(idleWhileReading).toBe(0);
    expect(connection.idleMs).toBeLessThan(50);
    expect(data.written.map((e) => e.data[0]!.isLast)).toEqual([false, true]);
  });
});

describe("the no-progress watchdog", () => {
  it("closes a connection idle for the timeout with a NoProgressError (an infrastructure loss)", async () => {
    const connection = new HarnessConnection("w-stuck");
    const stop = watchProgress(connection, 100);
    try {
      await expect(connection.lost).rejects.toBeInstanceOf(NoProgressError);
      expect(connection.closed?.message).toMatch(/^the bundle made no progress for 0.1 s .*BEAM_LAMBDA_TASK_NO_PROGRESS_TIMEOUT_MS/);
      expect(failureCause(connection.closed, connection.closed)).toEqual({ cause: "infrastructure" });
    } finally {
      stop();
    }
  });
});
