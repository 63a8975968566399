import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { MessageQueues } from '#use-cases/ports';
import { sqs } from './sqs.ts';

/** The MessageQueues port over SQS. */
export class SqsQueues implements MessageQueues {
  constructor(private readonly client: SQSClient = sqs) {}

  async send(queueUrl: string, body: string): Promise<void> {
    await this.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  }
}
