import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { MessageQueues } from '#use-cases/ports';
import { sqs } from './sqs.ts';

/** The MessageQueues port over SQS: one call per method. */
export class SqsQueues implements MessageQueues {
  constructor(private readonly client: SQSClient = sqs) {}

  async send(queueUrl: string, body: string): Promise<void> {
    await this.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  }

  async sendBatch(
    queueUrl: string,
    bodies: readonly string[],
  ): Promise<{ code: string; message?: string }[]> {
    const result = await this.client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies.map((body, index) => ({ Id: String(index), MessageBody: body })),
      }),
    );
    return (result.Failed ?? []).map((failed) => ({
      code: failed.Code ?? '',
      ...(failed.Message ? { message: failed.Message } : {}),
    }));
  }
}
