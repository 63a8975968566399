import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/catalog.ts';
import { newBatch } from '../../functions/core/batch-task.ts';
import { newRestartTask, type TaskRecord } from '../../functions/core/task.ts';
import { toBatchHostItem, toBatchItem } from '../../functions/store/batch-item.ts';
import { listPartitionOf, taskKey } from '../../functions/store/table-schema.ts';
import { counterUpdates, countsOf } from '../../functions/store/task-counters.ts';

const eventsMock = mockClient(EventBridgeClient);
let handler: typeof import('../../functions/publish-task-events.ts').handler;

const running = newRestartTask({
  firstId: 42,
  hostId: 7,
  creator: 'alice',
  type: 'MANUAL',
  prohibitRollback: false,
  executionArn: 'arn:aws:states:us-east-1:1:execution:sm:task-42',
  now: new Date('2026-12-01T10:00:00.000Z'),
});
const succeeded: TaskRecord = { ...running, status: 'SUCCESSFUL', endTime: '2026-12-01T10:01:00.000+00:00' };

type Image = Record<string, unknown>;
const record = (sequence: string, oldImage: Image | undefined, newImage: Image): DynamoDBRecord => ({
  eventName: oldImage ? 'MODIFY' : 'INSERT',
  dynamodb: {
    SequenceNumber: sequence,
    ApproximateCreationDateTime: 1_796_000_000,
    ...(oldImage ? { OldImage: marshall(oldImage) as never } : {}),
    NewImage: marshall(newImage) as never,
  },
});
const taskItem = (task: TaskRecord) => ({
  ...taskKey(task.id),
  listPk: listPartitionOf(task.startTime),
  ...task,
});

/** The counter items as the transaction that ended the task leaves them. */
const counterItems = countsOf(running)
  .filter(({ attribute }) => attribute.startsWith('RUNNING#'))
  .map(({ key }) => ({
    ...key,
    'RUNNING#Restart OCP agent': 0,
    'SUCCESSFUL#Restart OCP agent': 1,
  }));

beforeAll(async () => {
  process.env[ENV.eventBusName] = 'bus';
  ({ handler } = await import('../../functions/publish-task-events.ts'));
});

beforeEach(() => {
  eventsMock.reset();
  eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
});

const invoke = (records: DynamoDBRecord[]) => handler({ Records: records } as DynamoDBStreamEvent);

describe('publish-task-events', () => {
  it('publishes nothing for the stream records of counter items', async () => {
    expect(counterUpdates(running, succeeded, 'tasks')).toHaveLength(counterItems.length);
    const result = await invoke(
      counterItems.map((item, i) => record(`${i + 1}`, { ...item, 'RUNNING#Restart OCP agent': 1 }, item)),
    );
    expect(result).toEqual({ batchItemFailures: [] });
    expect(eventsMock.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('publishes the task change of the same transaction, with no trace of the item keys', async () => {
    await invoke([
      record('1', taskItem(running), taskItem(succeeded)),
      ...counterItems.map((item, i) => record(`${i + 2}`, undefined, item)),
    ]);
    const entries = eventsMock
      .commandCalls(PutEventsCommand)
      .flatMap((call) => call.args[0].input.Entries ?? []);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      expect(entry.Resources).toEqual([running.executor]);
      expect(entry.Detail).not.toMatch(/listPk|COUNT#/);
    }
  });

  it('publishes a batch’s and its hosts’ status changes as batch status changes', async () => {
    const { batch, hosts } = newBatch({
      firstId: 200,
      hostIds: [7],
      creator: 'alice',
      type: 'MANUAL',
      prohibitRollback: false,
      rollout: {
        maxConcurrency: 1,
        maxErrors: 0,
        healthCheckSeconds: 0,
        asked: { maxConcurrency: '1', maxErrors: '0' },
      },
      executor: 'arn:aws:states:us-east-1:1:execution:batch:batch-200',
      now: new Date('2026-12-02T08:00:00.000Z'),
    });
    const host = hosts[0]!;

    const result = await invoke([
      record('1', undefined, toBatchItem(batch)),
      record('2', undefined, toBatchHostItem(host)),
      record('3', toBatchHostItem(host), toBatchHostItem({ ...host, status: 'RUNNING', taskId: 201 })),
      record('4', toBatchItem(batch), toBatchItem({ ...batch, status: 'SUCCESSFUL' })),
    ]);

    expect(result).toEqual({ batchItemFailures: [] });
    const entries = eventsMock
      .commandCalls(PutEventsCommand)
      .flatMap((call) => call.args[0].input.Entries ?? []);
    expect(entries.map((entry) => entry.DetailType)).toEqual([
      'OCP Agent Batch Status Change',
      'OCP Agent Batch Status Change',
      'OCP Agent Batch Status Change',
    ]);
    expect(entries.map((entry) => JSON.parse(entry.Detail!))).toMatchObject([
      { batchId: 200, status: 'RUNNING', sequence: '1' },
      { batchId: 200, host: { hostId: 7, status: 'RUNNING', taskId: 201 }, sequence: '3' },
      { batchId: 200, status: 'SUCCESSFUL', previousStatus: 'RUNNING', sequence: '4' },
    ]);
    expect(entries[0]!.Resources).toEqual([batch.executor]);
  });
});
