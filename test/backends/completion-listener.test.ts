// CompletionListener against a scripted SQS client: several pollers at once, a batch handled
// together, its delete batched and never holding up the next receive.
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, type Message, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { CompletionListener, type MessageVerdict, pollersFor } from "../../src/backends/aws/completion-listener.js";

/**
 * An SQS client whose receives answer the batches the test queues, in order, and otherwise wait
 * (as a long poll does) until aborted; its deletes answer when the test says.
 */
function fakeSqs() {
  const batches: Message[][] = [];
  const waitingReceives: ((messages: Message[]) => void)[] = [];
  const deletes: string[][] = [];
  const deleteAnswers: (() => void)[] = [];
  let receives = 0;
  const client = {
    send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> {
      if (command instanceof GetQueueAttributesCommand) return Promise.resolve({ Attributes: {} });
      if (command instanceof DeleteMessageBatchCommand) {
        deletes.push(command.input.Entries!.map((e) => e.ReceiptHandle!));
        return new Promise((resolve) => deleteAnswers.push(() => resolve({})));
      }
      if (command instanceof ReceiveMessageCommand) {
        receives++;
        const batch = batches.shift();
        if (batch) return Promise.resolve({ Messages: batch });
        return new Promise((resolve, reject) => {
          waitingReceives.push((messages) => resolve({ Messages: messages }));
          options?.abortSignal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
        });
      }
      throw new Error(`unexpected command ${String(command)}`);
    },
  };
  return {
    client: client as unknown as SQSClient,
    /** Answers a waiting receive, or the next one. */
    deliver(messages: Message[]) {
      const waiting = waitingReceives.shift();
      if (waiting) waiting(messages);
      else batches.push(messages);
    },
    get receives() {
      return receives;
    },
    get waitingReceives() {
      return waitingReceives.length;
    },
    deletes,
    answerDeletes: () => deleteAnswers.splice(0).forEach((answer) => answer()),
  };
}

const message = (id: string): Message => ({ Body: id, ReceiptHandle: `handle-${id}` });
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe("CompletionListener", () => {
  it("keeps `pollers` receives out at once", async () => {
    const sqs = fakeSqs();
    const listener = new CompletionListener(sqs.client, "queue", 20, () => Promise.resolve("handled"), 3);
    await listener.start();
    await settled();
    expect(sqs.waitingReceives).toBe(3);
    await listener.stop();
  });

  it("handles a batch's messages together and deletes the handled ones in one batch", async () => {
    const sqs = fakeSqs();
    const started: string[] = [];
    const finishers: ((verdict: MessageVerdict) => void)[] = [];
    const listener = new CompletionListener(sqs.client, "queue", 20, (body) => {
      started.push(body);
      return new Promise((resolve) => finishers.push(resolve));
    });
    await listener.start();
    await settled();
    sqs.deliver([message("a"), message("b"), message("c")]);
    await settled();
    // All three started before any finished.
    expect(started).toEqual(["a", "b", "c"]);
    finishers[0]!("handled");
    finishers[1]!("unreadable");
    finishers[2]!("handled");
    await settled();
    expect(sqs.deletes).toEqual([["handle-a", "handle-c"]]);
    sqs.answerDeletes();
    await listener.stop();
  });

  it("receives again while a delete is still unanswered, and stop waits for the delete", async () => {
    const sqs = fakeSqs();
    const listener = new CompletionListener(sqs.client, "queue", 20, () => Promise.resolve("handled"));
    await listener.start();
    await settled();
    sqs.deliver([message("a")]);
    await settled();
    expect(sqs.deletes).toEqual([["handle-a"]]);
    // The delete has not answered, yet the poller is already waiting on its next receive.
    expect(sqs.receives).toBe(2);
    expect(sqs.waitingReceives).toBe(1);
    let stopped = false;
    const stopping = listener.stop().then(() => (stopped = true));
    await settled();
    expect(stopped).toBe(false);
    sqs.answerDeletes();
    await stopping;
    expect(stopped).toBe(true);
  });

  it("runs one poller per 250 invocations in flight, from 1 to 8", () => {
    expect([1, 100, 250, 251, 1000, 5000].map(pollersFor)).toEqual([1, 1, 1, 2, 4, 8]);
  });
});
