import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SqsQueues } from '../../../functions/aws/sqs-queues.ts';

const client = new SQSClient({});
const sqsMock = mockClient(client);
const queues = new SqsQueues(client);
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/1/q';

beforeEach(() => sqsMock.reset());

describe('SqsQueues', () => {
  it('sends one message', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });

    await queues.send(QUEUE, '{"a":1}');

    expect(sqsMock.commandCalls(SendMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: QUEUE,
      MessageBody: '{"a":1}',
    });
  });

  it('sends a batch with ids by position and answers SQS’s reason for each message it refused', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({
      Successful: [{ Id: '0', MessageId: 'm', MD5OfMessageBody: '' }],
      Failed: [
        { Id: '1', Code: 'InternalError', Message: 'try again', SenderFault: false },
        { Id: '2', Code: 'ThrottlingException', SenderFault: false },
      ],
    });

    const refused = await queues.sendBatch(QUEUE, ['a', 'b', 'c']);

    expect(refused).toEqual([
      { code: 'InternalError', message: 'try again' },
      { code: 'ThrottlingException' },
    ]);
    expect(sqsMock.commandCalls(SendMessageBatchCommand)[0]!.args[0].input).toEqual({
      QueueUrl: QUEUE,
      Entries: [
        { Id: '0', MessageBody: 'a' },
        { Id: '1', MessageBody: 'b' },
        { Id: '2', MessageBody: 'c' },
      ],
    });
  });
});
