import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AwsError, type LocalService, unknownOperation } from '#local/local-service';

/** A message as the local queue keeps it. */
export interface QueuedMessage {
  MessageId: string;
  Body: string;
  SentTimestamp: number;
}

/** A message received and not yet deleted: what a consumer holds. */
export interface ReceivedMessage extends QueuedMessage {
  ReceiptHandle: string;
  /** How many times it has been received, this time included. */
  ReceiveCount: number;
  FirstReceiveTimestamp: number;
  MD5OfBody: string;
}

/** A queue's settings, as SQS keeps them in its attributes. */
export interface QueueSettings {
  url: string;
  /** Seconds a received message stays hidden from other receivers. @default 30 (SQS's default) */
  visibilityTimeoutSeconds?: number;
}

interface StoredMessage extends QueuedMessage {
  receiveCount: number;
  firstReceiveTimestamp?: number;
  /** Epoch ms until which the message is in flight (received, not deleted): hidden from receivers. */
  hiddenUntil: number;
  /** The handle of its latest receipt; only that one deletes it. */
  receiptHandle?: string;
}

interface LocalQueue {
  settings: QueueSettings;
  messages: StoredMessage[];
}

/** SQS's limit on a message (its API reference): 256 KiB. */
const MAX_PAYLOAD_BYTES = 262_144;
const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30;

const MessageBody = z.string().min(1).max(MAX_PAYLOAD_BYTES);
const SendMessageInput = z.object({ QueueUrl: z.string(), MessageBody });
const ReceiveMessageInput = z.object({
  QueueUrl: z.string(),
  MaxNumberOfMessages: z.number().int().min(1).max(10).optional(),
  VisibilityTimeout: z.number().int().min(0).max(43_200).optional(),
});
const DeleteMessageInput = z.object({ QueueUrl: z.string(), ReceiptHandle: z.string().min(1) });
const QueueInput = z.object({ QueueUrl: z.string() });

/**
 * The SQS calls the product makes: SendMessage (dead-letter and rejected-request queues), and
 * ReceiveMessage / DeleteMessage / GetQueueAttributes for `npm run event`, operators and tests. A
 * received message stays hidden for the queue's visibility timeout and comes back unless deleted, as
 * on SQS. Queues exist when declared; nothing expires.
 */
export class LocalSqs implements LocalService {
  private readonly queues = new Map<string, LocalQueue>();

  constructor(queues: readonly (string | QueueSettings)[]) {
    for (const queue of queues) {
      const settings = typeof queue === 'string' ? { url: queue } : queue;
      this.queues.set(settings.url, { settings, messages: [] });
    }
  }

  /** Every message of a queue, oldest first, in flight or not (not removed). */
  messages(queueUrl: string): QueuedMessage[] {
    return this.queue(queueUrl).messages.map(({ MessageId, Body, SentTimestamp }) => ({
      MessageId,
      Body,
      SentTimestamp,
    }));
  }

  /** In-process send, for local dead letters. */
  send(queueUrl: string, body: string): QueuedMessage {
    const message = { MessageId: randomUUID(), Body: body, SentTimestamp: Date.now() };
    this.queue(queueUrl).messages.push({ ...message, receiveCount: 0, hiddenUntil: 0 });
    return message;
  }

  /** Receives up to `max` visible messages, oldest first, hiding each for the visibility timeout. */
  receive(queueUrl: string, max: number, visibilityTimeoutSeconds?: number): ReceivedMessage[] {
    const queue = this.queue(queueUrl);
    const now = Date.now();
    const hideMs = 1000 * (visibilityTimeoutSeconds ?? this.visibilityTimeoutSeconds(queue));
    const received: ReceivedMessage[] = [];
    for (const message of [...queue.messages]) {
      if (received.length >= max) break;
      if (message.hiddenUntil > now) continue;
      message.receiveCount++;
      message.firstReceiveTimestamp ??= now;
      message.hiddenUntil = now + hideMs;
      message.receiptHandle = randomUUID();
      received.push({
        MessageId: message.MessageId,
        Body: message.Body,
        SentTimestamp: message.SentTimestamp,
        ReceiptHandle: message.receiptHandle,
        ReceiveCount: message.receiveCount,
        FirstReceiveTimestamp: message.firstReceiveTimestamp,
        MD5OfBody: md5(message.Body),
      });
    }
    return received;
  }

  /**
   * Deletes the message a receipt handle names. A handle of an earlier receipt of a message that was
   * received again deletes nothing (SQS may or may not; the product never relies on it).
   */
  delete(queueUrl: string, receiptHandle: string): void {
    const queue = this.queue(queueUrl);
    const message = queue.messages.find((candidate) => candidate.receiptHandle === receiptHandle);
    if (message) this.remove(queue, message);
  }

  /** Counts as GetQueueAttributes reports them. */
  counts(queueUrl: string): { visible: number; inFlight: number } {
    const now = Date.now();
    const { messages } = this.queue(queueUrl);
    const inFlight = messages.filter((message) => message.hiddenUntil > now).length;
    return { visible: messages.length - inFlight, inFlight };
  }

  async handle(operation: string, input: unknown): Promise<unknown> {
    switch (operation) {
      case 'SendMessage': {
        const { QueueUrl, MessageBody } = parse(SendMessageInput, input);
        const { MessageId } = this.send(QueueUrl, MessageBody);
        // The SDK checks the body's MD5, as SQS returns it.
        return { MessageId, MD5OfMessageBody: md5(MessageBody) };
      }
      case 'ReceiveMessage': {
        const { QueueUrl, MaxNumberOfMessages, VisibilityTimeout } = parse(ReceiveMessageInput, input);
        const messages = this.receive(QueueUrl, MaxNumberOfMessages ?? 1, VisibilityTimeout);
        return {
          Messages: messages.map(({ MessageId, ReceiptHandle, MD5OfBody, Body }) => ({
            MessageId,
            ReceiptHandle,
            MD5OfBody,
            Body,
          })),
        };
      }
      case 'DeleteMessage': {
        const { QueueUrl, ReceiptHandle } = parse(DeleteMessageInput, input);
        this.delete(QueueUrl, ReceiptHandle);
        return {};
      }
      case 'GetQueueAttributes': {
        const { QueueUrl } = parse(QueueInput, input);
        const { visible, inFlight } = this.counts(QueueUrl);
        return {
          Attributes: {
            ApproximateNumberOfMessages: String(visible),
            ApproximateNumberOfMessagesNotVisible: String(inFlight),
          },
        };
      }
      default:
        throw unknownOperation(`AmazonSQS.${operation}`);
    }
  }

  private visibilityTimeoutSeconds(queue: LocalQueue): number {
    return queue.settings.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS;
  }

  private remove(queue: LocalQueue, message: StoredMessage): void {
    queue.messages.splice(queue.messages.indexOf(message), 1);
  }

  private queue(url: string): LocalQueue {
    const queue = this.queues.get(url);
    if (!queue)
      throw new AwsError(
        'AWS.SimpleQueueService.NonExistentQueue',
        `The specified queue does not exist: ${url}`,
      );
    return queue;
  }
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success)
    throw new AwsError('InvalidParameterValue', result.error.issues[0]?.message ?? 'invalid input');
  return result.data;
}
