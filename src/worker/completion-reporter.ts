// Sends an asynchronously invoked task's result to the driver's SQS results queue. A result too
// large for a message is stored in the object store and sent by reference.
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
import { COMPLETION_INLINE_LIMIT_BYTES, COMPLETION_TYPE, type CompletionMessage } from "../common/completion.js";
import type { ReplyTo } from "../common/task-payload.js";
import type { TaskResult } from "../common/task-spec.js";
import { type ObjectStore, resultReferenceKey } from "../store/index.js";

let sqs: SQSClient | undefined;

/** Reports `result`; throws when it cannot, so that Lambda records the invocation as failed. */
export async function reportCompletion(replyTo: ReplyTo, jobId: string, result: TaskResult, store: () => Promise<ObjectStore>): Promise<void> {
  sqs ??= new SQSClient({ maxAttempts: 5 });
  let message: CompletionMessage = { type: COMPLETION_TYPE, invocationId: replyTo.invocationId, result };
  let body = JSON.stringify(message);
  if (Buffer.byteLength(body) > COMPLETION_INLINE_LIMIT_BYTES) {
    const resultRef = resultReferenceKey(jobId, replyTo.invocationId);
    await (await store()).put(resultRef, Buffer.from(JSON.stringify(result)));
    message = { type: COMPLETION_TYPE, invocationId: replyTo.invocationId, resultRef };
    body = JSON.stringify(message);
  }
  await sqs.send(new SendMessageCommand({ QueueUrl: replyTo.queueUrl, MessageBody: body }));
}
