import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
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
});
