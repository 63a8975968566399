import { DescribeTableCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskRecord } from '../../../functions/core/task.ts';
import { retryTask } from '../../../functions/core/task-lifecycle.ts';
import { hostLockKey, TASK_TABLE } from '../../../functions/store/table-schema.ts';
import type { HostLock } from '../../../functions/store/task-store.ts';
import { WorkflowTaskStore } from '../../../functions/store/workflow-task-store.ts';
import { createRestartTask, endStoredTask } from '../../support/tasks.ts';
import { createTestTables, type TestTables, tableItems, testDynamoDb } from '../../support/test-tables.ts';

let tables: TestTables;
let store: WorkflowTaskStore;

beforeAll(async () => {
  tables = await createTestTables();
  store = new WorkflowTaskStore(tables.taskTable);
});

const newTask = (hostId: number, idempotencyKey?: string) => createRestartTask(store, hostId, idempotencyKey);

const failed = (task: TaskRecord) => endStoredTask(store, task.id, 'FAILED');

/** The index is eventually consistent (a GSI): the locks it lists once it has caught up. */
const listedLocks = () => store.hostLocks().then((locks) => locks.sort((a, b) => a.taskId - b.taskId));

/** RUNNING tasks and lock items as the table holds them (a consistent scan): what the index must list. */
async function runningTasksAndLocks(hostIds: readonly number[]) {
  const items = await tableItems(tables.taskTable);
  const mine = (hostId: unknown) => hostIds.includes(Number(hostId));
  const running = items
    .filter((item) => item.sk === 'TASK' && item.status === 'RUNNING' && mine(item.host))
    .map((item) => ({ hostId: Number(item.host), taskId: Number(item.id) }));
  const locks = items
    .filter((item) => item.sk === 'LOCK' && mine(String(item.pk).replace('HOST#', '')))
    .map((item) => ({ hostId: Number(String(item.pk).replace('HOST#', '')), taskId: Number(item.taskId) }));
  const byTask = (a: { taskId: number }, b: { taskId: number }) => a.taskId - b.taskId;
  return { running: running.sort(byTask), locks: locks.sort(byTask) };
}

const listed = async (hostIds: readonly number[]) =>
  (await listedLocks())
    .filter((lock) => hostIds.includes(lock.hostId))
    .map(({ hostId, taskId }) => ({ hostId, taskId }));

describe('the hostLocks index', () => {
  it('is sparse: it holds the lock items alone, keys only', async () => {
    const { Table } = await testDynamoDb.send(new DescribeTableCommand({ TableName: tables.taskTable }));
    const index = Table?.GlobalSecondaryIndexes?.find(
      (candidate) => candidate.IndexName === TASK_TABLE.hostLocksIndex.name,
    );
    expect(index?.Projection).toEqual({ ProjectionType: 'KEYS_ONLY' });
    const running = await newTask(1, 'request-1');
    await failed(await newTask(2, 'request-2'));

    await expect.poll(() => listed([1, 2])).toEqual([{ hostId: 1, taskId: running.id }]);
    const items = await tableItems(tables.taskTable);
    // The idempotency keys carry taskId (without since): they are in the table, not in the index.
    expect(items.filter((item) => item.sk === 'REQUEST').map((item) => item.taskId)).toHaveLength(2);
    const indexed = await testDynamoDb.send(
      new ScanCommand({ TableName: tables.taskTable, IndexName: TASK_TABLE.hostLocksIndex.name }),
    );
    expect(indexed.Items?.map((item) => unmarshall(item))).toEqual(
      items.filter((item) => item.sk === 'LOCK'),
    );
  });

  it('names each lock with its host, task and the instant it was taken', async () => {
    const task = await newTask(3);

    await expect
      .poll(async () => (await listedLocks()).find((lock) => lock.hostId === 3))
      .toEqual({ hostId: 3, taskId: task.id, since: task.startTime } satisfies HostLock);
  });

  it('lists exactly the RUNNING tasks after every store write that starts or ends one', async () => {
    const hosts = [11, 12, 13, 14];
    const agree = async () => {
      const { running, locks } = await runningTasksAndLocks(hosts);
      expect(locks).toEqual(running);
      await expect.poll(() => listed(hosts)).toEqual(running);
    };

    const finished = await newTask(11);
    const retried = await newTask(12);
    const restored = await newTask(13);
    const unstarted = await newTask(14, 'request-14');
    await agree();

    await endStoredTask(store, finished.id, 'FAILED');
    await agree();

    const failedOnce = await failed(retried);
    await agree();
    await store.save(failedOnce, retryTask(failedOnce, new Date()));
    await agree();

    const failedRestored = await failed(restored);
    const reopened = retryTask(failedRestored, new Date());
    const saved = await store.save(failedRestored, reopened);
    await agree();
    await store.save(saved, failedRestored);
    await agree();

    await store.deleteUnstartedTask(unstarted, 'request-14');
    await agree();
    expect((await runningTasksAndLocks(hosts)).running.map((task) => task.taskId)).toEqual([retried.id]);
  });
});

describe('releaseLockOfEndedTask', () => {
  /** A lock left behind: the item a crash between two separate writes would leave (no store path does). */
  const leftLock = async (hostId: number, taskId: number): Promise<HostLock> => {
    const lock = { hostId, taskId, since: new Date().toISOString() };
    await testDynamoDb.send(
      new PutItemCommand({
        TableName: tables.taskTable,
        Item: marshall({ ...hostLockKey(hostId), taskId, since: lock.since }),
      }),
    );
    return lock;
  };

  it('frees a lock whose task has ended, and the host takes a new task', async () => {
    const ended = await failed(await newTask(21));
    const lock = await leftLock(21, ended.id);

    expect(await store.releaseLockOfEndedTask(lock)).toBe(true);

    expect(await store.lockHolder(21)).toBeUndefined();
    const next = await newTask(21);
    expect(await store.lockHolder(21)).toBe(next.id);
  });

  it('frees a lock whose task does not exist', async () => {
    const lock = await leftLock(22, 987_654);

    expect(await store.releaseLockOfEndedTask(lock)).toBe(true);

    expect(await store.lockHolder(22)).toBeUndefined();
  });

  it('never frees the lock of a RUNNING task', async () => {
    const task = await newTask(23);
    const before = await tableItems(tables.taskTable);

    expect(await store.releaseLockOfEndedTask({ hostId: 23, taskId: task.id, since: task.startTime })).toBe(
      false,
    );

    expect(await tableItems(tables.taskTable)).toEqual(before);
  });

  it('leaves a lock that another task took since it was listed, and a lock already free', async () => {
    const ended = await failed(await newTask(24));
    const next = await newTask(24);
    const before = await tableItems(tables.taskTable);

    expect(await store.releaseLockOfEndedTask({ hostId: 24, taskId: ended.id, since: ended.startTime })).toBe(
      false,
    );
    expect(await store.releaseLockOfEndedTask({ hostId: 25, taskId: ended.id, since: ended.startTime })).toBe(
      false,
    );

    expect(await tableItems(tables.taskTable)).toEqual(before);
    expect(await store.lockHolder(24)).toBe(next.id);
  });

  it('leaves the lock of a task that was reopened since it was listed', async () => {
    const ended = await failed(await newTask(26));
    const listedWhileEnded: HostLock = { hostId: 26, taskId: ended.id, since: ended.startTime };
    await store.save(ended, retryTask(ended, new Date()));

    expect(await store.releaseLockOfEndedTask(listedWhileEnded)).toBe(false);

    expect(await store.lockHolder(26)).toBe(ended.id);
    expect((await store.getTask(ended.id))!.status).toBe('RUNNING');
  });
});
