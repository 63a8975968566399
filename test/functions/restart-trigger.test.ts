import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/catalog.ts';
import {
  hostRestartsOf,
  type ScheduledHostRestart,
  scheduledRestartInput,
} from '../../functions/core/scheduled-restart.ts';
import { fromTaskItem } from '../../functions/store/task-item.ts';
import {
  createTestTables,
  registerHost,
  type TestTables,
  tableItems,
  testDynamoDb,
} from '../support/test-tables.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:restart-agent';
const SCHEDULED_QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/scheduled-restarts';
const REJECTED_QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/rejected';
const HOSTS = 30;
const sfnMock = mockClient(SFNClient);
const sqsMock = mockClient(SQSClient);
const eventsMock = mockClient(EventBridgeClient);
let tables: TestTables;
let handler: typeof import('../../functions/restart-trigger.ts').handler;
let nextMessage = 0;

beforeAll(async () => {
  tables = await createTestTables();
  Object.assign(process.env, {
    [ENV.stateMachineArn]: STATE_MACHINE_ARN,
    [ENV.eventBusName]: 'bus',
    [ENV.rejectedQueueUrl]: REJECTED_QUEUE,
    [ENV.scheduledRestartQueueUrl]: SCHEDULED_QUEUE,
  });
  for (let hostId = 1; hostId <= HOSTS; hostId++) {
    await registerHost(tables, { hostId, instanceId: `mi-${String(hostId).padStart(17, '0')}` });
  }
  ({ handler } = await import('../../functions/restart-trigger.ts'));
});

beforeEach(() => {
  sfnMock.reset();
  sqsMock.reset();
  eventsMock.reset();
  sfnMock.on(StartExecutionCommand).callsFake((input) => ({
    executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${input.name}`,
    startDate: new Date(),
  }));
  sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
    Successful: (input.Entries ?? []).map((entry) => ({
      Id: entry.Id,
      MessageId: `m-${nextMessage++}`,
      MD5OfMessageBody: '',
    })),
    Failed: [],
  }));
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'rejected' });
  eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
});

const byNumber = (a: number, b: number) => a - b;
const tasksOf = async (runHosts: readonly number[]) =>
  (await tableItems(tables.taskTable))
    .filter((item) => item.sk === 'TASK')
    .map(fromTaskItem)
    .filter((task) => runHosts.includes(task.hostId));
const locksOf = async (runHosts: readonly number[]) =>
  (await tableItems(tables.taskTable)).filter(
    (item) => item.sk === 'LOCK' && runHosts.includes(Number(String(item.pk).replace('HOST#', ''))),
  );
const batchOf = (messages: readonly (ScheduledHostRestart | string)[]): SQSEvent => ({
  Records: messages.map((message, index) => ({
    messageId: `message-${index}`,
    receiptHandle: `receipt-${index}`,
    body: typeof message === 'string' ? message : JSON.stringify(message),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'scheduler',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:scheduled-restarts',
    awsRegion: 'us-east-1',
  })),
});
const run = (hostIds: number[], runId: string) =>
  scheduledRestartInput(hostIds, runId, 'nightly', 'weekly refresh').scheduledRestart;

describe('a schedule run', () => {
  it('is queued as one message per host, ten to a SendMessageBatch call, without starting anything itself', async () => {
    const hostIds = Array.from({ length: 25 }, (_, i) => 1000 + i);

    const answer = await handler(scheduledRestartInput(hostIds, 'run-fan-out', 'nightly'));

    expect(answer).toEqual({ outcome: 'QUEUED', runId: 'run-fan-out', hosts: 25 });
    const calls = sqsMock.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
    expect(calls.map((input) => input.Entries?.length)).toEqual([10, 10, 5]);
    expect(calls.every((input) => input.QueueUrl === SCHEDULED_QUEUE)).toBe(true);
    const bodies = calls.flatMap((input) =>
      (input.Entries ?? []).map((entry) => JSON.parse(entry.MessageBody ?? '')),
    );
    expect(bodies).toEqual(
      hostRestartsOf(scheduledRestartInput(hostIds, 'run-fan-out', 'nightly').scheduledRestart),
    );
    expect(sfnMock.commandCalls(StartExecutionCommand)).toEqual([]);
  });

  it('fails, to be delivered again, when SQS refuses any of its messages', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: '0', SenderFault: false, Code: 'InternalError', Message: 'try again' }],
    });

    await expect(handler(scheduledRestartInput([1, 2], 'run-refused'))).rejects.toThrow(
      /SQS refused 1 of 2 scheduled host restarts of run run-refused \(InternalError/,
    );
  });
});

describe('a batch of scheduled host restarts', () => {
  it('starts one task per host, each SCHEDULED and created by the schedule, and reports no failure', async () => {
    const hostIds = [1, 2, 3];

    const answer = (await handler(batchOf(hostRestartsOf(run(hostIds, 'run-a'))))) as SQSBatchResponse;

    expect(answer).toEqual({ batchItemFailures: [] });
    const tasks = await tasksOf(hostIds);
    expect(tasks.map((task) => Number(task.hostId)).sort(byNumber)).toEqual(hostIds);
    for (const task of tasks) {
      expect(task).toMatchObject({ type: 'SCHEDULED', creator: 'nightly', reason: 'weekly refresh' });
    }
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(3);
  });

  it('delivered again, starts nothing and creates no second task', async () => {
    const hostIds = [4, 5, 6];
    const batch = batchOf(hostRestartsOf(run(hostIds, 'run-b')));
    await handler(batch);
    const before = await tasksOf(hostIds);

    const answer = await handler(batch);

    expect(answer).toEqual({ batchItemFailures: [] });
    expect(await tasksOf(hostIds)).toEqual(before);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(3);
  });

  it('starts the same hosts again in the next run', async () => {
    const hostIds = [7];
    await handler(batchOf(hostRestartsOf(run(hostIds, 'run-c1'))));
    // The first run's task ended: its host is free again, as finish-task leaves it.
    for (const lock of await locksOf(hostIds)) {
      await testDynamoDb.send(
        new DeleteItemCommand({ TableName: tables.taskTable, Key: marshall({ pk: lock.pk, sk: lock.sk }) }),
      );
    }

    await handler(batchOf(hostRestartsOf(run(hostIds, 'run-c2'))));

    expect(await tasksOf(hostIds)).toHaveLength(2);
  });

  it('reports only the host whose start failed, leaves nothing behind for it, and starts it on redelivery', async () => {
    const hostIds = [8, 9, 10];
    sfnMock.on(StartExecutionCommand, { stateMachineArn: STATE_MACHINE_ARN }).callsFake((input) => {
      if (JSON.parse(input.input).hostId === 9)
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      return { executionArn: `arn:${input.name}`, startDate: new Date() };
    });
    const batch = batchOf(hostRestartsOf(run(hostIds, 'run-d')));

    const answer = await handler(batch);

    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'message-1' }] });
    expect((await tasksOf(hostIds)).map((task) => Number(task.hostId)).sort(byNumber)).toEqual([8, 10]);
    expect(await locksOf([9])).toEqual([]);

    sfnMock.on(StartExecutionCommand).callsFake((input) => ({
      executionArn: `arn:${input.name}`,
      startDate: new Date(),
    }));
    expect(await handler(batchOf([hostRestartsOf(run(hostIds, 'run-d'))[1]!]))).toEqual({
      batchItemFailures: [],
    });
    expect((await tasksOf(hostIds)).map((task) => Number(task.hostId)).sort(byNumber)).toEqual([8, 9, 10]);
  });

  it('rejects a malformed message visibly, once, instead of having it delivered again', async () => {
    const answer = await handler(
      batchOf(['not json', JSON.stringify({ scheduledHostRestart: { runId: 'r', hostId: -1 } })]),
    );

    expect(answer).toEqual({ batchItemFailures: [] });
    const rejected = sqsMock
      .commandCalls(SendMessageCommand)
      .map((call) => JSON.parse(call.args[0].input.MessageBody ?? ''));
    expect(rejected.map((message) => message.reason)).toEqual([
      'Invalid scheduled host restart: the message is not JSON',
      expect.stringMatching(/^Invalid scheduled host restart: scheduledHostRestart\.hostId: /),
    ]);
    expect(
      sqsMock
        .commandCalls(SendMessageCommand)
        .every((call) => call.args[0].input.QueueUrl === REJECTED_QUEUE),
    ).toBe(true);
  });

  it('skips and reports a host that already has a running task', async () => {
    const hostIds = [11];
    await handler(batchOf(hostRestartsOf(run(hostIds, 'run-e1'))));

    const answer = await handler(batchOf(hostRestartsOf(run(hostIds, 'run-e2'))));

    expect(answer).toEqual({ batchItemFailures: [] });
    expect(await tasksOf(hostIds)).toHaveLength(1);
    const reported = eventsMock
      .commandCalls(PutEventsCommand)
      .map((call) => JSON.parse(call.args[0].input.Entries?.[0]?.Detail ?? '{}'));
    expect(reported).toContainEqual(expect.objectContaining({ outcome: 'SKIPPED', hostId: '11' }));
  });
});
