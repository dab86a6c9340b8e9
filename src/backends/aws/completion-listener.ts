// Long-polls the SQS results queue and hands each message to the backend. A message the backend
// handled (matched, duplicate, late or for no known attempt) is deleted; one it cannot read is
// left alone, so after the queue's maxReceiveCount it moves to the dead-letter queue for a person
// to look at, and never blocks the queue.
//
// Throughput: a receive returns at most 10 messages, so with a thousand invocations in flight one
// poller waiting on each round trip caps completions near 10 per round trip. Several pollers
// receive at once, a batch's messages are handled together, and its delete goes out without
// holding up the next receive (bench/fanout.ts measures it; docs/performance.md).
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, type Message, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { log } from "../../common/log.js";

export type MessageVerdict = "handled" | "unreadable";

/** Pollers for `concurrency` invocations in flight: one per 250, from 1 to 8. */
export function pollersFor(concurrency: number): number {
  return Math.min(8, Math.max(1, Math.ceil(concurrency / 250)));
}

export class CompletionListener {
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  /** Deletes sent and not yet answered; `stop` waits for them. */
  private readonly deletes = new Set<Promise<void>>();
  /** Receive errors in a row (logged once per streak). */
  private failures = 0;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly waitSeconds: number,
    private readonly onMessage: (body: string) => Promise<MessageVerdict>,
    private readonly pollers = 1,
  ) {}

  /** Checks the queue exists (a clear error now beats every task timing out later), then polls. */
  async start(): Promise<void> {
    try {
      await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ["RedrivePolicy"] }));
    } catch (e) {
      throw new Error(`the results queue ${this.queueUrl} cannot be read: ${(e as Error).message}`, { cause: e });
    }
    this.loops = Array.from({ length: this.pollers }, () => this.poll());
  }

  private async poll(): Promise<void> {
    while (!this.abort.signal.aborted) {
      let messages: Message[];
      try {
        const response = await this.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: this.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: this.waitSeconds }),
          { abortSignal: this.abort.signal },
        );
        messages = response.Messages ?? [];
        this.failures = 0;
      } catch (e) {
        if (this.abort.signal.aborted) return;
        if (this.failures++ === 0) log.warn(`receiving from ${this.queueUrl} failed (retrying): ${(e as Error).message}`, { component: "aws-backend" });
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** this.failures)));
        continue;
      }
      const verdicts = await Promise.all(messages.map((m) => this.onMessage(m.Body ?? "")));
      const handled = messages.filter((_, i) => verdicts[i] === "handled");
      if (handled.length > 0) this.delete(handled);
    }
  }

  private delete(messages: Message[]): void {
    const sent = this.sqs
      .send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      )
      .then(
        () => undefined,
        // Not deleted: the messages come back after the visibility timeout, and are duplicates then.
        () => undefined,
      );
    this.deletes.add(sent);
    void sent.finally(() => this.deletes.delete(sent));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
    await Promise.all([...this.deletes]);
  }
}
