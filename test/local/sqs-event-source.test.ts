import { createHash } from 'node:crypto';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { failedMessageIds, type SqsEventSource, startSqsEventSource } from '#local/sqs-event-source';
import { LocalSqs, type QueueSettings } from '../../local/services/sqs.ts';
import { eventually } from '../support/local-client.ts';

const QUEUE = 'http://127.0.0.1:1/000000000000/work';
const DEAD_LETTERS = 'http://127.0.0.1:1/000000000000/dead-letters';

/** Every delivery the function saw: message body, receive count, time. */
interface Delivery {
  body: string;
  receiveCount: number;
  at: number;
  batch: number;
}

let mapping: SqsEventSource | undefined;
afterEach(async () => {
  await mapping?.stop();
  mapping = undefined;
});

function queueWith(settings: Omit<QueueSettings, 'url'> = {}): LocalSqs {
  return new LocalSqs([{ url: QUEUE, ...settings }, DEAD_LETTERS]);
}

function consume(
  sqs: LocalSqs,
  answer: (event: SQSEvent) => unknown,
  options: { batchSize?: number; maxConcurrency?: number } = {},
): Delivery[] {
  const deliveries: Delivery[] = [];
  let batches = 0;
  mapping = startSqsEventSource({
    sqs,
    queueUrl: QUEUE,
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:work',
    region: 'us-east-1',
    batchSize: options.batchSize ?? 10,
    maxConcurrency: options.maxConcurrency ?? 2,
    handler: async (event) => {
      batches++;
      for (const record of event.Records) {
        deliveries.push({
          body: record.body,
          receiveCount: Number(record.attributes.ApproximateReceiveCount),
          at: Date.now(),
          batch: batches,
        });
      }
      return answer(event);
    },
  });
  return deliveries;
}

const sendAll = (sqs: LocalSqs, bodies: string[]) => {
  for (const body of bodies) sqs.send(QUEUE, body);
};
const bodies = (count: number) => Array.from({ length: count }, (_, i) => `message-${i}`);
const failing = (event: SQSEvent, which: (body: string) => boolean) => ({
  batchItemFailures: event.Records.filter((record) => which(record.body)).map((record) => ({
    itemIdentifier: record.messageId,
  })),
});

describe('the local SQS event source mapping', () => {
  it('delivers every message once, in batches of at most the batch size, and deletes what was handled', async () => {
    const sqs = queueWith();
    sendAll(sqs, bodies(25));

    const deliveries = consume(sqs, () => ({ batchItemFailures: [] }));
    await mapping?.idle();

    expect(deliveries.map((delivery) => delivery.body).sort()).toEqual(bodies(25).sort());
    const sizes = new Map<number, number>();
    for (const { batch } of deliveries) sizes.set(batch, (sizes.get(batch) ?? 0) + 1);
    expect(Math.max(...sizes.values())).toBeLessThanOrEqual(10);
    expect(sqs.messages(QUEUE)).toEqual([]);
  });

  it('delivers again only the messages named in batchItemFailures, once the visibility timeout has passed', async () => {
    const sqs = queueWith({ visibilityTimeoutSeconds: 1 });
    sendAll(sqs, bodies(5));
    const failOnce = new Set(['message-3']);

    const deliveries = consume(sqs, (event) =>
      failing(event, (body) => {
        const fail = failOnce.has(body);
        failOnce.delete(body);
        return fail;
      }),
    );
    await eventually(() => deliveries.length === 6, 'the failed message delivered again', 5_000);
    await mapping?.idle();

    const redelivered = deliveries.filter((delivery) => delivery.body === 'message-3');
    expect(redelivered.map((delivery) => delivery.receiveCount)).toEqual([1, 2]);
    const [first, second] = redelivered;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(900);
    expect(deliveries.filter((delivery) => delivery.body !== 'message-3')).toHaveLength(4);
    expect(sqs.messages(QUEUE)).toEqual([]);
  });

  it('delivers the whole batch again when the function throws', async () => {
    const sqs = queueWith({ visibilityTimeoutSeconds: 0 });
    sendAll(sqs, bodies(3));
    let calls = 0;

    const deliveries = consume(
      sqs,
      () => {
        calls++;
        if (calls === 1) throw new Error('downstream unavailable');
        return undefined;
      },
      { maxConcurrency: 1 },
    );
    await eventually(() => deliveries.length === 6, 'the batch delivered twice', 5_000);
    await mapping?.idle();

    expect(deliveries.map((delivery) => delivery.receiveCount)).toEqual([1, 1, 1, 2, 2, 2]);
    expect(sqs.messages(QUEUE)).toEqual([]);
  });

  it('fails the whole batch when batchItemFailures names a message that is not in it', async () => {
    const sqs = queueWith({ visibilityTimeoutSeconds: 0 });
    sendAll(sqs, bodies(2));
    let calls = 0;

    const deliveries = consume(
      sqs,
      () => {
        calls++;
        return calls === 1 ? { batchItemFailures: [{ itemIdentifier: 'not-a-message-of-this-batch' }] } : {};
      },
      { maxConcurrency: 1 },
    );
    await eventually(() => deliveries.length === 4, 'the batch delivered twice', 5_000);

    expect(deliveries.map((delivery) => delivery.receiveCount)).toEqual([1, 1, 2, 2]);
  });

  it('moves a message that keeps failing to the dead-letter queue after maxReceiveCount deliveries', async () => {
    const sqs = queueWith({
      visibilityTimeoutSeconds: 0,
      redrive: { deadLetterQueueUrl: DEAD_LETTERS, maxReceiveCount: 3 },
    });
    sendAll(sqs, ['poison', 'fine']);

    const deliveries = consume(sqs, (event) => failing(event, (body) => body === 'poison'), {
      maxConcurrency: 1,
    });
    await eventually(() => sqs.messages(DEAD_LETTERS).length === 1, 'the dead letter', 5_000);
    await mapping?.idle();

    expect(deliveries.filter((delivery) => delivery.body === 'poison').map((d) => d.receiveCount)).toEqual([
      1, 2, 3,
    ]);
    expect(deliveries.filter((delivery) => delivery.body === 'fine')).toHaveLength(1);
    expect(sqs.messages(DEAD_LETTERS).map((message) => message.Body)).toEqual(['poison']);
    expect(sqs.messages(QUEUE)).toEqual([]);
  });

  it('runs at most maxConcurrency invocations at once', async () => {
    const sqs = queueWith();
    sendAll(sqs, bodies(30));
    let running = 0;
    let most = 0;

    consume(
      sqs,
      async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
      },
      { batchSize: 1, maxConcurrency: 3 },
    );
    await mapping?.idle();

    expect(most).toBe(3);
  });
});

describe('reading the function’s answer', () => {
  const messages = ['a', 'b'].map((id) => ({
    MessageId: id,
    Body: id,
    SentTimestamp: 0,
    ReceiptHandle: id,
    ReceiveCount: 1,
    FirstReceiveTimestamp: 0,
    MD5OfBody: '',
  }));

  it('counts no answer, an empty answer and an empty or null list as complete success', () => {
    for (const answer of [undefined, null, {}, { batchItemFailures: [] }, { batchItemFailures: null }]) {
      expect(failedMessageIds(answer, messages)).toEqual(new Set());
    }
  });

  it('names the failed messages', () => {
    expect(failedMessageIds({ batchItemFailures: [{ itemIdentifier: 'b' }] }, messages)).toEqual(
      new Set(['b']),
    );
  });

  it('fails the batch on an empty, null, misnamed or unknown itemIdentifier', () => {
    for (const failure of [
      { itemIdentifier: '' },
      { itemIdentifier: null },
      { id: 'a' },
      { itemIdentifier: 'c' },
    ]) {
      expect(failedMessageIds({ batchItemFailures: [failure] }, messages)).toBe('all');
    }
  });
});

describe('the local SQS queue', () => {
  it('hides a received message for the visibility timeout and deletes it by its receipt handle', () => {
    const sqs = queueWith({ visibilityTimeoutSeconds: 60 });
    sqs.send(QUEUE, 'one');

    const [received] = sqs.receive(QUEUE, 10);

    expect(sqs.receive(QUEUE, 10)).toEqual([]);
    expect(sqs.counts(QUEUE)).toEqual({ visible: 0, inFlight: 1 });
    sqs.delete(QUEUE, received?.ReceiptHandle ?? '');
    expect(sqs.messages(QUEUE)).toEqual([]);
  });

  it('refuses a SendMessageBatch as SQS does: more than ten entries, repeated ids, invalid ids, none', async () => {
    const sqs = queueWith();
    const batch = (entries: { Id: string; MessageBody: string }[]) =>
      sqs.handle('SendMessageBatch', { QueueUrl: QUEUE, Entries: entries });
    const entry = (Id: string) => ({ Id, MessageBody: 'x' });

    await expect(batch(Array.from({ length: 11 }, (_, i) => entry(String(i))))).rejects.toMatchObject({
      name: 'TooManyEntriesInBatchRequest',
    });
    await expect(batch([entry('a'), entry('a')])).rejects.toMatchObject({ name: 'BatchEntryIdsNotDistinct' });
    await expect(batch([entry('a.b')])).rejects.toMatchObject({ name: 'InvalidBatchEntryId' });
    await expect(batch([])).rejects.toMatchObject({ name: 'EmptyBatchRequest' });
    await expect(
      batch([
        { Id: 'a', MessageBody: 'x'.repeat(200_000) },
        { Id: 'b', MessageBody: 'x'.repeat(100_000) },
      ]),
    ).rejects.toMatchObject({ name: 'BatchRequestTooLong' });
    expect(sqs.messages(QUEUE)).toEqual([]);
  });

  it('accepts a batch of ten, answering each entry with its message id and body MD5', async () => {
    const sqs = queueWith();

    const answer = (await sqs.handle('SendMessageBatch', {
      QueueUrl: QUEUE,
      Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `e${i}`, MessageBody: `body-${i}` })),
    })) as { Successful: { Id: string; MessageId: string; MD5OfMessageBody: string }[]; Failed: unknown[] };

    expect(answer.Failed).toEqual([]);
    expect(answer.Successful.map((entry) => entry.Id)).toEqual(Array.from({ length: 10 }, (_, i) => `e${i}`));
    expect(sqs.messages(QUEUE).map((message) => message.MessageId)).toEqual(
      answer.Successful.map((entry) => entry.MessageId),
    );
    expect(answer.Successful[0]?.MD5OfMessageBody).toBe(createHash('md5').update('body-0').digest('hex'));
  });
});
