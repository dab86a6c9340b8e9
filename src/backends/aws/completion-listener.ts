// Long-polls the SQS results queue and hands each message to the backend. A message the backend
// handled (matched, duplicate, late or for no known attempt) is deleted; one it cannot read is
// left alone, so after the queue's maxReceiveCount it moves to the dead-letter queue for a person
// to look at, and never blocks the queue.
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, type Message, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";

export type MessageVerdict = "handled" | "unreadable";

export class CompletionListener {
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  /** Receive errors in a row (logged once per streak). */
  private failures = 0;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly waitSeconds: number,
    private readonly onMessage: (body: string) => Promise<MessageVerdict>,
  ) {}

  /** Checks the queue exists (a clear error now beats every task timing out later), then polls. */
  async start(): Promise<void> {
    try {
      await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ["RedrivePolicy"] }));
    } catch (e) {
      throw new Error(`the results queue ${this.queueUrl} cannot be read: ${(e as Error).message}`, { cause: e });
    }
    this.loop = this.poll();
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
        if (this.failures++ === 0) process.stderr.write(`beam-lambda: receiving from ${this.queueUrl} failed (retrying): ${(e as Error).message}\n`);
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** this.failures)));
        continue;
      }
      const handled: Message[] = [];
      for (const m of messages) if ((await this.onMessage(m.Body ?? "")) === "handled") handled.push(m);
      if (handled.length > 0) await this.delete(handled);
    }
  }

  private async delete(messages: Message[]): Promise<void> {
    try {
      await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    } catch {
      // Not deleted: the messages come back after the visibility timeout, and are duplicates then.
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}
