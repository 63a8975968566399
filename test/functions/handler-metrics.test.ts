import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/catalog.ts';
import { METRICS, METRICS_NAMESPACE } from '../../functions/core/metric-names.ts';
import { newRestartTask, type TaskRecord } from '../../functions/core/task.ts';
import { listPartitionOf, taskKey } from '../../functions/store/table-schema.ts';
import { WorkflowTaskStore } from '../../functions/store/workflow-task-store.ts';
import { captureMetrics } from '../support/emf.ts';
import { createRestartTask } from '../support/tasks.ts';
import { createTestTables } from '../support/test-tables.ts';

const eventsMock = mockClient(EventBridgeClient);
const sfnMock = mockClient(SFNClient);
let publish: typeof import('../../functions/publish-task-events.ts').handler;
let sweep: typeof import('../../functions/sweep-tasks.ts').handler;
let store: WorkflowTaskStore;

const created = newRestartTask({
  firstId: 42,
  hostId: 7,
  creator: 'alice',
  type: 'MANUAL',
  prohibitRollback: false,
  executionArn: 'arn:aws:states:us-east-1:1:execution:sm:task-42',
  now: new Date('2026-12-01T10:00:00.000Z'),
});
const running: TaskRecord = {
  ...created,
  subtasks: created.subtasks.map((s) =>
    s.index === 0 ? { ...s, status: 'RUNNING', startTime: '2026-12-01T10:00:00.000+00:00' } : s,
  ),
};
const failed: TaskRecord = {
  ...running,
  status: 'FAILED',
  endTime: '2026-12-01T10:00:30.000+00:00',
  subtasks: running.subtasks.map((s) =>
    s.index === 0 ? { ...s, status: 'FAILED', endTime: '2026-12-01T10:00:30.000+00:00' } : s,
  ),
};
const item = (task: TaskRecord) =>
  marshall({ ...taskKey(task.id), listPk: listPartitionOf(task.startTime), ...task });
const record = (sequence: string, before: TaskRecord | undefined, after: TaskRecord): DynamoDBRecord => ({
  eventName: before ? 'MODIFY' : 'INSERT',
  dynamodb: {
    SequenceNumber: sequence,
    ApproximateCreationDateTime: 1_796_000_000,
    ...(before ? { OldImage: item(before) as never } : {}),
    NewImage: item(after) as never,
  },
});
const publishRecords = (records: DynamoDBRecord[]) => publish({ Records: records } as DynamoDBStreamEvent);

beforeAll(async () => {
  const { taskTable } = await createTestTables();
  store = new WorkflowTaskStore(taskTable);
  process.env[ENV.eventBusName] = 'bus';
  process.env[ENV.commandOutputLogGroup] = '/ocp/command-output';
  ({ handler: publish } = await import('../../functions/publish-task-events.ts'));
  ({ handler: sweep } = await import('../../functions/sweep-tasks.ts'));
});

beforeEach(() => {
  eventsMock.reset();
  sfnMock.reset();
});

describe('metrics of publish-task-events', () => {
  it('counts a started task, a failed subtask’s duration and a failed task, in the product namespace', async () => {
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
    const metrics = await captureMetrics(() =>
      publishRecords([record('1', undefined, created), record('2', running, failed)]),
    );
    expect(metrics).toEqual([
      {
        namespace: METRICS_NAMESPACE,
        name: METRICS.restartTaskStarted.name,
        unit: 'Count',
        value: 1,
        dimensions: {},
      },
      {
        namespace: METRICS_NAMESPACE,
        name: METRICS.subtaskDuration.name,
        unit: 'Seconds',
        value: 30,
        dimensions: { subtask: 'prepare', outcome: 'FAILED' },
      },
      {
        namespace: METRICS_NAMESPACE,
        name: METRICS.restartTaskEnded.name,
        unit: 'Count',
        value: 1,
        dimensions: { outcome: 'FAILED' },
      },
    ]);
  });

  it('counts nothing for a change it could not publish (the stream delivers it again)', async () => {
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [] });
    let result: unknown;
    const metrics = await captureMetrics(async () => {
      result = await publishRecords([record('1', running, failed)]);
    });
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '1' }] });
    expect(metrics).toEqual([]);
  });
});

describe('metrics of sweep-tasks', () => {
  it('reports no running task as 0 and 0', async () => {
    const metrics = await captureMetrics(() => sweep());
    expect(metrics.map(({ name, value }) => [name, value])).toEqual([
      [METRICS.runningTasks.name, 0],
      [METRICS.oldestRunningTaskAge.name, 0],
    ]);
  });

  it('reports the running tasks and the oldest one’s age, counting one it could not check', async () => {
    const old = await createRestartTask(store, 1, undefined, new Date(Date.now() - 2000_000));
    await createRestartTask(store, 2);
    sfnMock.on(DescribeExecutionCommand, { executionArn: old.executor }).rejects(new Error('throttled'));
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', input: '{}' } as never);
    await expect.poll(async () => (await store.hostLocks()).length).toBe(2);
    const metrics = await captureMetrics(() => sweep());
    const byName = Object.fromEntries(metrics.map(({ name, value }) => [name, value]));
    expect(byName[METRICS.runningTasks.name]).toBe(2);
    expect(byName[METRICS.oldestRunningTaskAge.name]).toBeGreaterThanOrEqual(2000);
    expect(byName[METRICS.oldestRunningTaskAge.name]).toBeLessThan(2100);
  });
});
