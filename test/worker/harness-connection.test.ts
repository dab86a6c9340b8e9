// What a failed bundle's error says about its cause: the SDK's own error report is the
// pipeline's (a user failure), a harness gone away is the infrastructure's (TaskResult.cause).
import { EventEmitter } from "node:events";
import type * as grpc from "@grpc/grpc-js";
import type { InstructionRequest, InstructionResponse } from "apache-beam/proto/beam_fn_api";
import { describe, expect, it } from "vitest";
import { HarnessConnection, HarnessLostError, SdkInstructionError } from "../../src/worker/harness-connection.js";

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
