import { describe, expect, it } from 'vitest';
import { LocalSqs } from '../../local/services/sqs.ts';

const QUEUE = 'http://127.0.0.1:1/000000000000/work';

describe('the local SQS queue', () => {
  it('hides a received message for the visibility timeout and deletes it by its receipt handle', () => {
    const sqs = new LocalSqs([{ url: QUEUE, visibilityTimeoutSeconds: 60 }]);
    sqs.send(QUEUE, 'one');

    const [received] = sqs.receive(QUEUE, 10);

    expect(sqs.receive(QUEUE, 10)).toEqual([]);
    expect(sqs.counts(QUEUE)).toEqual({ visible: 0, inFlight: 1 });
    sqs.delete(QUEUE, received?.ReceiptHandle ?? '');
    expect(sqs.messages(QUEUE)).toEqual([]);
  });

  it('shows a received message again once its visibility timeout has passed', () => {
    const sqs = new LocalSqs([QUEUE]);
    sqs.send(QUEUE, 'one');

    sqs.receive(QUEUE, 1, 0);

    expect(sqs.receive(QUEUE, 1).map((message) => [message.Body, message.ReceiveCount])).toEqual([
      ['one', 2],
    ]);
  });

  it('refuses an operation the product does not call, and a queue nobody declared', async () => {
    const sqs = new LocalSqs([QUEUE]);

    await expect(sqs.handle('SendMessageBatch', { QueueUrl: QUEUE, Entries: [] })).rejects.toThrow();
    await expect(sqs.handle('SendMessage', { QueueUrl: `${QUEUE}-other`, MessageBody: 'x' })).rejects.toThrow(
      /does not exist/,
    );
  });
});
