import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AwsError, type LocalService, unknownOperation } from '#local/local-service';

/** A message as the local queue keeps it. */
export interface QueuedMessage {
  MessageId: string;
  Body: string;
  SentTimestamp: number;
}

const SendMessageInput = z.object({ QueueUrl: z.string(), MessageBody: z.string().min(1).max(262_144) });
const QueueInput = z.object({
  QueueUrl: z.string(),
  MaxNumberOfMessages: z.number().int().min(1).max(10).optional(),
});

/**
 * The few SQS calls the product makes (dead-letter and rejected-request queues): SendMessage, and
 * ReceiveMessage / GetQueueAttributes for operators and tests. Queues exist when declared; nothing expires.
 */
export class LocalSqs implements LocalService {
  private readonly queues = new Map<string, QueuedMessage[]>();

  constructor(queueUrls: readonly string[]) {
    for (const url of queueUrls) this.queues.set(url, []);
  }

  /** Every message of a queue, oldest first (not removed). */
  messages(queueUrl: string): QueuedMessage[] {
    return [...this.queue(queueUrl)];
  }

  /** In-process send, for local dead letters. */
  send(queueUrl: string, body: string): void {
    this.queue(queueUrl).push({ MessageId: randomUUID(), Body: body, SentTimestamp: Date.now() });
  }

  async handle(operation: string, input: unknown): Promise<unknown> {
    switch (operation) {
      case 'SendMessage': {
        const { QueueUrl, MessageBody } = parse(SendMessageInput, input);
        this.send(QueueUrl, MessageBody);
        // The SDK checks the body's MD5, as SQS returns it.
        const MD5OfMessageBody = createHash('md5').update(MessageBody).digest('hex');
        return { MessageId: this.queue(QueueUrl).at(-1)?.MessageId, MD5OfMessageBody };
      }
      case 'ReceiveMessage': {
        const { QueueUrl, MaxNumberOfMessages } = parse(QueueInput, input);
        return {
          Messages: this.queue(QueueUrl)
            .slice(0, MaxNumberOfMessages ?? 1)
            .map((m) => ({ ...m, ReceiptHandle: m.MessageId })),
        };
      }
      case 'GetQueueAttributes': {
        const { QueueUrl } = parse(QueueInput, input);
        return { Attributes: { ApproximateNumberOfMessages: String(this.queue(QueueUrl).length) } };
      }
      default:
        throw unknownOperation(`AmazonSQS.${operation}`);
    }
  }

  private queue(url: string): QueuedMessage[] {
    const queue = this.queues.get(url);
    if (!queue)
      throw new AwsError(
        'AWS.SimpleQueueService.NonExistentQueue',
        `The specified queue does not exist: ${url}`,
      );
    return queue;
  }
}

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success)
    throw new AwsError('InvalidParameterValue', result.error.issues[0]?.message ?? 'invalid input');
  return result.data;
}
