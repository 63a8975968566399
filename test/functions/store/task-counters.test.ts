import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { dynamodb } from '../../../functions/aws/dynamodb.ts';
import { HostBusy } from '../../../functions/core/errors.ts';
import { newRestartTask, type TaskRecord } from '../../../functions/core/task.ts';
import { retryTask, rollbackTask } from '../../../functions/core/task-lifecycle.ts';
import {
  BLOCK_COUNT_ATTRIBUTE,
  BUCKET_COUNTERS_PARTITION,
  blockCounterKey,
  blockEndId,
  blockOfCounter,
  bucketCounterKey,
  countedBy,
  hostCounterKey,
  LIST_BLOCK_IDS,
} from '../../../functions/store/table-schema.ts';
import { counterUpdates, countsOf, matchingCount } from '../../../functions/store/task-counters.ts';
import { fromTaskItem } from '../../../functions/store/task-item.ts';
import { WorkflowTaskStore } from '../../../functions/store/workflow-task-store.ts';
import { createRestartTask, endStoredTask } from '../../support/tasks.ts';
import { createTestTables, type TestTables, tableItems } from '../../support/test-tables.ts';

const task = (overrides: Partial<TaskRecord> = {}): TaskRecord => ({
  ...newRestartTask({
    firstId: 700,
    hostId: 12,
    creator: 'alice',
    type: 'MANUAL',
    prohibitRollback: false,
    executionArn: 'arn:aws:states:us-east-1:1:execution:sm:task-700',
    now: new Date('2026-11-30T23:59:59.000Z'),
  }),
  ...overrides,
});

/** The counter changes of a transition, as counter key → attribute → delta. */
function deltas(before: TaskRecord | undefined, after: TaskRecord | undefined) {
  return counterUpdates(before, after, 'tasks').map(({ Update }) => {
    const key = unmarshall(Update!.Key!);
    const names = Update!.ExpressionAttributeNames!;
    const values = Update!.ExpressionAttributeValues!;
    const changes = Object.fromEntries(
      [...Update!.UpdateExpression!.replace(/^ADD /, '').split(', ')].map((term) => {
        const [name, value] = term.split(' ');
        return [names[name!], Number(values[value!]!.N)];
      }),
    );
    return { key, changes };
  });
}

describe('counterUpdates', () => {
  const running = task();
  const keys = [bucketCounterKey('2026-11', 700), hostCounterKey(12)];

  const block = blockCounterKey('2026-11', 700);

  it('counts a created task in its creation bucket and its host by status, and in its id block', () => {
    expect(countsOf(running)).toEqual([
      ...keys.map((key) => ({ key, attribute: 'RUNNING#Restart OCP agent' })),
      { key: block, attribute: BLOCK_COUNT_ATTRIBUTE },
    ]);
    expect(deltas(undefined, running)).toEqual([
      ...keys.map((key) => ({ key, changes: { 'RUNNING#Restart OCP agent': 1 } })),
      { key: block, changes: { [BLOCK_COUNT_ATTRIBUTE]: 1 } },
    ]);
  });

  it('uncounts a deleted task', () => {
    expect(deltas(running, undefined)).toEqual([
      ...keys.map((key) => ({ key, changes: { 'RUNNING#Restart OCP agent': -1 } })),
      { key: block, changes: { [BLOCK_COUNT_ATTRIBUTE]: -1 } },
    ]);
  });

  it('names the id block in its counter’s sort key, so that newer blocks sort after older ones', () => {
    const blocks = [0, LIST_BLOCK_IDS - 1, LIST_BLOCK_IDS, 2 ** 40].map((id) =>
      blockCounterKey('2026-11', id),
    );
    expect(blocks.map((key) => blockOfCounter(key.sk))).toEqual([
      0,
      0,
      1,
      Math.floor(2 ** 40 / LIST_BLOCK_IDS),
    ]);
    expect(blocks.map((key) => key.sk).sort()).toEqual(blocks.map((key) => key.sk));
    expect(blockEndId(1)).toBe(2 * LIST_BLOCK_IDS);
  });

  it.each([
    ['finished', running, task({ status: 'SUCCESSFUL' })],
    ['finished', running, task({ status: 'FAILED' })],
    ['reopened', task({ status: 'FAILED' }), task({ status: 'RUNNING', operation: 'RETRY' })],
    ['restored', task({ status: 'RUNNING', operation: 'RETRY' }), task({ status: 'FAILED' })],
  ])('moves a %s task from its old status to its new one, in the same two items', (_kind, before, after) => {
    expect(deltas(before, after)).toEqual(
      keys.map((key) => ({
        key,
        changes: { [`${before.status}#Restart OCP agent`]: -1, [`${after.status}#Restart OCP agent`]: 1 },
      })),
    );
  });

  it('changes nothing when the status stays', () => {
    const attempt = task({
      subtasks: running.subtasks.map((s, i) => (i === 0 ? { ...s, status: 'RUNNING' } : s)),
    });
    expect(counterUpdates(running, attempt, 'tasks')).toEqual([]);
    expect(counterUpdates(undefined, undefined, 'tasks')).toEqual([]);
  });

  it('spreads the tasks of one bucket over its shards', () => {
    const shards = new Set(
      Array.from({ length: 40 }, (_, i) => bucketCounterKey('2026-11', 1000 + 6 * i).sk),
    );
    expect(shards.size).toBeGreaterThan(1);
    expect([...shards].every((sk) => sk.startsWith('2026-11#'))).toBe(true);
  });
});

describe('matchingCount', () => {
  const counter = {
    pk: 'COUNT#HOST#1',
    sk: 'COUNT',
    'RUNNING#Restart OCP agent': 1,
    'FAILED#Restart OCP agent': 4,
    'FAILED#Upgrade OCP agent': 2,
    'SUCCESSFUL#Restart OCP agent': 10,
  };

  it.each([
    [{}, 17],
    [{ status: 'FAILED' as const }, 6],
    [{ name: 'Restart' }, 15],
    [{ name: 'OCP agent', status: 'FAILED' as const }, 6],
    [{ name: 'Upgrade', status: 'RUNNING' as const }, 0],
  ])('sums the attributes matching %o', (filter, expected) => {
    expect(matchingCount(counter, filter)).toBe(expected);
  });

  it('reads a counter attribute back, whatever the task name holds', () => {
    expect(countedBy('FAILED#a#b c')).toEqual({ status: 'FAILED', name: 'a#b c' });
    expect(countedBy('pk')).toBeUndefined();
  });
});

describe('counters kept by the store', () => {
  let tables: TestTables;
  let store: WorkflowTaskStore;

  beforeAll(async () => {
    tables = await createTestTables();
    store = new WorkflowTaskStore(tables.taskTable);
  });

  /** Every counter item equals the counts of the task items it counts (a consistent scan). */
  async function expectCountersToMatchTasks() {
    const items = await tableItems(tables.taskTable);
    const tasks = items.filter((item) => item.sk === 'TASK').map(fromTaskItem);
    const counters = items.filter((item) => String(item.pk).startsWith('COUNT#'));
    for (const counter of counters) {
      const { pk: _pk, sk: _sk, ...attributes } = counter;
      const expected: Record<string, number> = Object.fromEntries(
        Object.keys(attributes).map((attribute) => [attribute, 0]),
      );
      for (const t of tasks) {
        for (const { key, attribute } of countsOf(t)) {
          if (key.pk === counter.pk && key.sk === counter.sk)
            expected[attribute] = (expected[attribute] ?? 0) + 1;
        }
      }
      expect(attributes, `${counter.pk} ${counter.sk}`).toEqual(expected);
    }
    for (const t of tasks) {
      for (const { key } of countsOf(t))
        expect(counters.some((c) => c.pk === key.pk && c.sk === key.sk)).toBe(true);
    }
    return { tasks, counters };
  }

  const hostCount = async (hostId: number) =>
    (await tableItems(tables.taskTable)).find((item) => item.pk === hostCounterKey(hostId).pk);

  it('counts a task when it is created and moves it when it ends', async () => {
    const created = await createRestartTask(store, 1);
    expect(await hostCount(1)).toMatchObject({ 'RUNNING#Restart OCP agent': 1 });
    await endStoredTask(store, created.id, 'FAILED');
    expect(await hostCount(1)).toMatchObject({
      'RUNNING#Restart OCP agent': 0,
      'FAILED#Restart OCP agent': 1,
    });
    await expectCountersToMatchTasks();
  });

  it('moves a task back to RUNNING when it is reopened, and back to FAILED when it is restored', async () => {
    const created = await createRestartTask(store, 2);
    const failed = await endStoredTask(store, created.id, 'FAILED');
    const reopened = await store.save(failed, retryTask(failed, new Date()));
    expect(await hostCount(2)).toMatchObject({
      'RUNNING#Restart OCP agent': 1,
      'FAILED#Restart OCP agent': 0,
    });
    const restored = await store.save(reopened, failed);
    expect(await hostCount(2)).toMatchObject({
      'RUNNING#Restart OCP agent': 0,
      'FAILED#Restart OCP agent': 1,
    });
    await store.save(restored, rollbackTask(restored, new Date()));
    await endStoredTask(store, created.id, 'SUCCESSFUL');
    expect(await hostCount(2)).toMatchObject({
      'RUNNING#Restart OCP agent': 0,
      'FAILED#Restart OCP agent': 0,
      'SUCCESSFUL#Restart OCP agent': 1,
    });
    await expectCountersToMatchTasks();
  });

  it('uncounts a task whose execution could not be started', async () => {
    const created = await createRestartTask(store, 3, 'request-3');
    await store.deleteUnstartedTask(created, 'request-3');
    expect(await hostCount(3)).toMatchObject({ 'RUNNING#Restart OCP agent': 0 });
    await expectCountersToMatchTasks();
  });

  it('leaves the counters as they were when a transaction is refused', async () => {
    const running = await createRestartTask(store, 4);
    const before = await tableItems(tables.taskTable);
    await expect(createRestartTask(store, 4)).rejects.toBeInstanceOf(HostBusy);
    const stale = { ...running, status: 'FAILED' as const, endTime: running.startTime };
    await expect(store.save(stale, retryTask(stale, new Date()))).rejects.toThrow();
    expect((await tableItems(tables.taskTable)).filter((item) => item.pk !== 'COUNTER')).toEqual(
      before.filter((item) => item.pk !== 'COUNTER'),
    );
    // Finishing an ended task changes nothing, counters included.
    await endStoredTask(store, running.id, 'SUCCESSFUL');
    const finished = await tableItems(tables.taskTable);
    await endStoredTask(store, running.id, 'FAILED');
    expect(await tableItems(tables.taskTable)).toEqual(finished);
    await expectCountersToMatchTasks();
  });

  it('keeps counts per creation month, for tasks created in different months', async () => {
    for (const [hostId, at] of [
      [5, '2025-01-31T23:59:59.999Z'],
      [6, '2025-02-01T00:00:00.000Z'],
      [7, '2025-02-15T12:00:00.000Z'],
    ] as const) {
      const created = await createRestartTask(store, hostId, undefined, new Date(at));
      await endStoredTask(store, created.id, 'SUCCESSFUL', { endTime: at.replace('Z', '+00:00') });
    }
    const { counters } = await expectCountersToMatchTasks();
    const months = (month: string) =>
      counters
        .filter((c) => c.pk === BUCKET_COUNTERS_PARTITION && String(c.sk).startsWith(`${month}#`))
        .reduce((total, c) => total + matchingCount(c, {}), 0);
    expect([months('2025-01'), months('2025-02')]).toEqual([1, 2]);
  });

  it('retries a transaction that a concurrent one cancelled, and only such a one', async () => {
    const attempts: string[] = [];
    let conflicts = 1;
    // Below the SDK's retry: as DynamoDB answers when another transaction holds a counter item.
    dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
        attempts.push('sent');
        if (conflicts-- > 0) {
          const items = (args.input as { TransactItems: unknown[] }).TransactItems;
          throw new TransactionCanceledException({
            message: 'Transaction cancelled',
            $metadata: {},
            CancellationReasons: items.map((_, i) => ({ Code: i === 2 ? 'TransactionConflict' : 'None' })),
          });
        }
        return next(args);
      },
      { step: 'deserialize', priority: 'high', name: 'injectTransactionConflict' },
    );
    try {
      const created = await createRestartTask(store, 8);
      expect(attempts).toEqual(['sent', 'sent']);
      expect(await store.getTask(created.id)).toEqual(created);
      attempts.length = 0;
      await expect(createRestartTask(store, 8)).rejects.toBeInstanceOf(HostBusy);
      expect(attempts).toEqual(['sent']);
    } finally {
      dynamodb.middlewareStack.remove('injectTransactionConflict');
    }
    await expectCountersToMatchTasks();
  });
});
