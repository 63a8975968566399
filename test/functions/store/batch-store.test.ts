import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { itemSize } from '../../../bench/sdk-counter.ts';
import { dynamodb } from '../../../functions/aws/dynamodb.ts';
import { MAX_BATCH_HOSTS } from '../../../functions/core/batch-request.ts';
import {
  BATCH_TASK_NAME,
  type BatchHostRecord,
  type BatchRecord,
  idsPerBatch,
  newBatch,
} from '../../../functions/core/batch-task.ts';
import { MAX_SUBTASK_ERROR_LENGTH } from '../../../functions/core/task-limits.ts';
import { ocpTimestamp } from '../../../functions/core/time.ts';
import { toBatchHostItem } from '../../../functions/store/batch-item.ts';
import { BatchStore } from '../../../functions/store/batch-store.ts';
import { putItems } from '../../../functions/store/bulk-items.ts';
import {
  BLOCK_COUNT_ATTRIBUTE,
  blockCounterKey,
  bucketCounterKey,
  creationBucket,
  TASK_TABLE,
} from '../../../functions/store/table-schema.ts';
import { DuplicateRequest, StaleRecord, TaskStore } from '../../../functions/store/task-store.ts';
import { createStoredBatch, rolloutOf } from '../../support/batches.ts';
import { createRestartTask } from '../../support/tasks.ts';
import { createTestTables, type TestTables, tableItems, testDynamoDb } from '../../support/test-tables.ts';

/** DynamoDB's largest item (Service quotas: "Item size 400 KB", names and values together). */
const ITEM_SIZE_LIMIT = 400 * 1024;

let tables: TestTables;
let tasks: TaskStore;
let batches: BatchStore;

beforeAll(async () => {
  tables = await createTestTables();
  tasks = new TaskStore(tables.taskTable);
  batches = new BatchStore(tables.taskTable);
});

const partitionItems = async (batchId: number) =>
  (await tableItems(tables.taskTable)).filter((item) => item.pk === `TASK#${batchId}`);

const counterItem = async (key: { pk: string; sk: string }) =>
  (await tableItems(tables.taskTable)).find((item) => item.pk === key.pk && item.sk === key.sk);

/** The number of Query calls made while `act` runs. */
async function queriesDuring(act: () => Promise<unknown>): Promise<number> {
  let queries = 0;
  dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'QueryCommand') queries++;
      return next(args);
    },
    { step: 'initialize', name: 'countQueries' },
  );
  try {
    await act();
  } finally {
    dynamodb.middlewareStack.remove('countQueries');
  }
  return queries;
}

describe('BatchStore.createBatch and getBatch', () => {
  it('reads back the batch and its hosts as written, in the order of the request', async () => {
    const { batch, hosts } = await createStoredBatch(tasks, batches, [30, 10, 20]);

    const stored = await batches.getBatch(batch.id);

    expect(stored).toEqual({ batch, hosts });
    expect(stored?.hosts.map((host) => host.hostId)).toEqual([30, 10, 20]);
  });

  it('writes the batch item, one item per host and a list entry, in the batch’s partition alone', async () => {
    const { batch } = await createStoredBatch(tasks, batches, [1, 2]);

    const items = await partitionItems(batch.id);

    expect(items.map((item) => item.sk).sort()).toEqual(['BATCH', 'HOST#0000', 'HOST#0001', 'LIST']);
    expect(items.find((item) => item.sk === 'LIST')).toMatchObject({
      listPk: `TASK#${creationBucket(batch.startTime)}`,
      id: batch.id,
      name: BATCH_TASK_NAME,
      status: 'RUNNING',
      kind: 'BATCH',
    });
    for (const item of items) expect(item).not.toHaveProperty('hostId');
  });

  it('counts the batch in its creation bucket and its id block, and in no host’s counter', async () => {
    const { batch } = await createStoredBatch(tasks, batches, [41, 42]);

    const bucket = creationBucket(batch.startTime);
    expect(await counterItem(bucketCounterKey(bucket, batch.id))).toMatchObject({
      [`RUNNING#${BATCH_TASK_NAME}`]: 1,
    });
    expect((await counterItem(blockCounterKey(bucket, batch.id)))?.[BLOCK_COUNT_ATTRIBUTE]).toBeGreaterThan(
      0,
    );
    const hostCounters = (await tableItems(tables.taskTable)).filter((item) =>
      String(item.pk).startsWith('COUNT#HOST#'),
    );
    for (const counter of hostCounters) expect(Object.keys(counter).join()).not.toContain(BATCH_TASK_NAME);
  });

  it('answers undefined for an id that names no batch, even where host items were left', async () => {
    const batchId = await tasks.allocateIds(10);
    const orphan: BatchHostRecord = { batchId, index: 0, hostId: 7, version: 1, status: 'PENDING' };
    await putItems(tables.taskTable, [marshall(toBatchHostItem(orphan))]);

    expect(await batches.getBatch(batchId)).toBeUndefined();
    expect(await batches.getBatch(987_654_321)).toBeUndefined();
  });

  it('refuses an id a batch holds already, leaving that batch as it was', async () => {
    const { batch, hosts } = await createStoredBatch(tasks, batches, [51, 52]);
    const before = await tableItems(tables.taskTable);

    await expect(batches.createBatch(batch, hosts)).rejects.toBeInstanceOf(StaleRecord);

    expect(await tableItems(tables.taskTable)).toEqual(before);
  });

  it('deletes the host items again when the transaction fails', async () => {
    const firstId = await tasks.allocateIds(idsPerBatch(2));
    const { batch, hosts } = newBatch({
      firstId,
      hostIds: [61, 62],
      creator: 'alice',
      type: 'MANUAL',
      prohibitRollback: false,
      rollout: rolloutOf(1, 0),
      executor: 'arn:aws:states:us-east-1:1:execution:batch:batch-1',
      now: new Date(),
    });
    dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand') throw new Error('InternalServerError');
        return next(args);
      },
      { step: 'initialize', name: 'failTransactions' },
    );
    try {
      await expect(batches.createBatch(batch, hosts)).rejects.toThrow('InternalServerError');
    } finally {
      dynamodb.middlewareStack.remove('failTransactions');
    }

    expect(await partitionItems(batch.id)).toEqual([]);
  });
});

describe('BatchStore.saveBatch and saveHost', () => {
  it('writes a host over the version read and refuses a write from a stale read', async () => {
    const { batch, hosts } = await createStoredBatch(tasks, batches, [71]);
    const host = hosts[0]!;
    const running: BatchHostRecord = {
      ...host,
      status: 'RUNNING',
      taskId: batch.id + 1,
      startTime: batch.startTime,
    };

    const saved = await batches.saveHost(host, running);

    expect(saved.version).toBe(host.version + 1);
    await expect(batches.saveHost(host, { ...host, status: 'CANCELED' })).rejects.toBeInstanceOf(StaleRecord);
    expect((await batches.getBatch(batch.id))?.hosts).toEqual([saved]);
  });

  it('moves the batch’s count and rewrites its list entry when its status changes', async () => {
    const { batch } = await createStoredBatch(tasks, batches, [81]);
    const endTime = ocpTimestamp(new Date());

    const saved = await batches.saveBatch(batch, { ...batch, status: 'FAILED', endTime });

    expect(saved).toMatchObject({ version: batch.version + 1, status: 'FAILED', endTime });
    expect((await batches.getBatch(batch.id))?.batch).toEqual(saved);
    const entry = (await partitionItems(batch.id)).find((item) => item.sk === 'LIST');
    expect(entry).toMatchObject({ status: 'FAILED', version: saved.version });
    expect(await counterItem(bucketCounterKey(creationBucket(batch.startTime), batch.id))).toMatchObject({
      [`FAILED#${BATCH_TASK_NAME}`]: expect.any(Number),
    });
  });

  it('rewrites the list entry also when only the operation changes (a cancel under way)', async () => {
    const { batch } = await createStoredBatch(tasks, batches, [82]);

    await batches.saveBatch(batch, { ...batch, operation: 'CANCEL' });

    const entry = (await partitionItems(batch.id)).find((item) => item.sk === 'LIST');
    expect(entry).toMatchObject({ status: 'RUNNING', operation: 'CANCEL' });
  });

  it('refuses a batch write from a stale read, writing nothing', async () => {
    const { batch } = await createStoredBatch(tasks, batches, [83]);
    await batches.saveBatch(batch, { ...batch, operation: 'CANCEL' });
    const before = await tableItems(tables.taskTable);

    await expect(batches.saveBatch(batch, { ...batch, status: 'FAILED' })).rejects.toBeInstanceOf(
      StaleRecord,
    );

    expect(await tableItems(tables.taskTable)).toEqual(before);
  });
});

describe('BatchStore.deleteUnstartedBatch', () => {
  it('removes every item of the batch and its counts', async () => {
    const { batch, hosts } = await createStoredBatch(tasks, batches, [91, 92, 93]);
    const counter = bucketCounterKey(creationBucket(batch.startTime), batch.id);
    const counted = Number((await counterItem(counter))?.[`RUNNING#${BATCH_TASK_NAME}`]);

    await batches.deleteUnstartedBatch(batch, hosts);

    expect(await partitionItems(batch.id)).toEqual([]);
    expect(await counterItem(counter)).toMatchObject({ [`RUNNING#${BATCH_TASK_NAME}`]: counted - 1 });
  });
});

describe('a batch with an idempotency key', () => {
  const freshBatch = async (hostIds: number[]) => {
    const firstId = await tasks.allocateIds(idsPerBatch(hostIds.length));
    return newBatch({
      firstId,
      hostIds,
      creator: 'monitoring',
      type: 'SYS_ONECE',
      prohibitRollback: false,
      rollout: rolloutOf(2, 0),
      executor: `arn:aws:states:us-east-1:1:execution:batch:batch-${firstId}`,
      now: new Date(),
    });
  };
  const requestItem = async (key: string) =>
    (await tableItems(tables.taskTable)).find((item) => item.pk === `REQUEST#${key}`);

  it('records the key with the batch, naming the batch (not a task), remembered a week', async () => {
    const { batch, hosts } = await freshBatch([121, 122]);

    await batches.createBatch(batch, hosts, 'event:keyed');

    const item = await requestItem('event:keyed');
    expect(item).toMatchObject({ sk: 'REQUEST', batchId: batch.id });
    expect(item?.taskId).toBeUndefined();
    expect(Number(item?.expiresAt)).toBeGreaterThan(Date.now() / 1000 + 6 * 24 * 3600);
    expect(await batches.batchForRequest('event:keyed')).toEqual({ batch, hosts });
    expect(await tasks.taskForRequest('event:keyed')).toBeUndefined();
  });

  it('refuses a second batch with the same key as DuplicateRequest naming the first, leaving none of its items', async () => {
    const first = await freshBatch([123]);
    await batches.createBatch(first.batch, first.hosts, 'event:twice');
    const second = await freshBatch([123, 124]);

    const refused = await batches.createBatch(second.batch, second.hosts, 'event:twice').then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(refused).toBeInstanceOf(DuplicateRequest);
    expect((refused as DuplicateRequest).taskId).toBe(first.batch.id);
    expect(await partitionItems(second.batch.id)).toEqual([]);
    expect((await batches.batchForRequest('event:twice'))?.batch.id).toBe(first.batch.id);
  });

  it('answers no batch for a key nobody recorded', async () => {
    expect(await batches.batchForRequest('event:never')).toBeUndefined();
  });

  it('is undone with its key by deleteUnstartedBatch, so that the request may start it again', async () => {
    const { batch, hosts } = await freshBatch([125]);
    await batches.createBatch(batch, hosts, 'event:unstarted');

    await batches.deleteUnstartedBatch(batch, hosts, 'event:unstarted');

    expect(await partitionItems(batch.id)).toEqual([]);
    expect(await requestItem('event:unstarted')).toBeUndefined();
    const again = await freshBatch([125]);
    await batches.createBatch(again.batch, again.hosts, 'event:unstarted');
    expect((await batches.batchForRequest('event:unstarted'))?.batch.id).toBe(again.batch.id);
  });
});

describe('a batch of 1,000 hosts', () => {
  /** Every host at its largest: FAILED with an error at its bound, in the costliest characters. */
  const largest = (host: BatchHostRecord): BatchHostRecord => ({
    ...host,
    status: 'FAILED',
    taskId: Number.MAX_SAFE_INTEGER - host.index,
    startTime: ocpTimestamp(new Date()),
    endTime: ocpTimestamp(new Date()),
    failedSubtask: 4,
    error: '\u{1F600}'.repeat(MAX_SUBTASK_ERROR_LENGTH / 2),
    reason: 'r'.repeat(300),
    busyWithTaskId: Number.MAX_SAFE_INTEGER,
  });
  let created: { batch: BatchRecord; hosts: BatchHostRecord[] };

  beforeAll(async () => {
    const hostIds = Array.from({ length: MAX_BATCH_HOSTS }, (_, i) => Number.MAX_SAFE_INTEGER - i);
    created = await createStoredBatch(tasks, batches, hostIds, { hosts: largest });
  }, 120_000);

  it('keeps every item far below DynamoDB’s 400 KB', async () => {
    const page = await testDynamoDb.send(
      new ScanCommand({
        TableName: tables.taskTable,
        FilterExpression: 'pk = :pk',
        ExpressionAttributeValues: marshall({ ':pk': `TASK#${created.batch.id}` }),
      }),
    );
    const items: Record<string, AttributeValue>[] = [];
    let startKey = page.LastEvaluatedKey;
    items.push(...(page.Items ?? []));
    while (startKey) {
      const next = await testDynamoDb.send(
        new ScanCommand({
          TableName: tables.taskTable,
          FilterExpression: 'pk = :pk',
          ExpressionAttributeValues: marshall({ ':pk': `TASK#${created.batch.id}` }),
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(next.Items ?? []));
      startKey = next.LastEvaluatedKey;
    }
    expect(items).toHaveLength(MAX_BATCH_HOSTS + 2);
    const largestItem = Math.max(...items.map(itemSize));
    expect(largestItem).toBeLessThan(ITEM_SIZE_LIMIT / 100);
  });

  it('reads back every host, in order, over the pages of its Query', async () => {
    let stored: Awaited<ReturnType<BatchStore['getBatch']>>;

    const queries = await queriesDuring(async () => {
      stored = await batches.getBatch(created.batch.id);
    });

    expect(stored!.hosts).toHaveLength(MAX_BATCH_HOSTS);
    expect(stored!.hosts).toEqual(created.hosts);
    // Over 1 MB of host items: a Query answers at most 1 MB a page.
    expect(queries).toBeGreaterThan(1);
  });
});

describe('the listing', () => {
  let listTables: TestTables;
  let listTasks: TaskStore;
  let listBatches: BatchStore;
  const order: { kind: 'task' | 'batch'; id: number }[] = [];

  beforeAll(async () => {
    listTables = await createTestTables();
    listTasks = new TaskStore(listTables.taskTable);
    listBatches = new BatchStore(listTables.taskTable);
    for (let i = 0; i < 3; i++) {
      const task = await createRestartTask(listTasks, 500 + i);
      order.push({ kind: 'task', id: task.id });
      const { batch } = await createStoredBatch(listTasks, listBatches, [500 + i, 600 + i]);
      order.push({ kind: 'batch', id: batch.id });
    }
    order.reverse();
  });

  const listed = async (query: Parameters<TaskStore['listTasks']>[0]) => {
    const page = await listTasks.listTasks(query);
    return {
      entries: page.tasks.map((entry) =>
        entry.kind === 'task' ? { kind: 'task', id: entry.task.id } : { kind: 'batch', id: entry.batch.id },
      ),
      totalElements: page.totalElements,
    };
  };

  it('lists batches among the tasks, newest first, counted in the total', async () => {
    expect(await listed({ page: 0, size: 10 })).toEqual({ entries: order, totalElements: 6 });
    expect(await listed({ page: 1, size: 4 })).toEqual({ entries: order.slice(4), totalElements: 6 });
  });

  it('answers a batch as stored', async () => {
    const [first] = (await listTasks.listTasks({ page: 0, size: 1 })).tasks;

    expect(first?.kind).toBe('batch');
    if (first?.kind === 'batch')
      expect(first.batch).toEqual((await listBatches.getBatch(first.batch.id))?.batch);
  });

  it('filters batches by name and status as tasks are', async () => {
    const batchesOnly = order.filter((entry) => entry.kind === 'batch');

    expect(await listed({ name: 'Batch', page: 0, size: 10 })).toEqual({
      entries: batchesOnly,
      totalElements: 3,
    });
    expect(await listed({ status: 'RUNNING', name: 'Batch restart', page: 0, size: 2 })).toEqual({
      entries: batchesOnly.slice(0, 2),
      totalElements: 3,
    });
  });

  it('lists no batch among a host’s tasks, and the byHost index holds none', async () => {
    const { entries, totalElements } = await listed({ hostId: 500, page: 0, size: 10 });
    expect(entries.map((entry) => entry.kind)).toEqual(['task']);
    expect(totalElements).toBe(1);
    const indexed = await testDynamoDb.send(
      new ScanCommand({ TableName: listTables.taskTable, IndexName: TASK_TABLE.byHostIndex.name }),
    );
    const batchIds = new Set(order.filter((entry) => entry.kind === 'batch').map((entry) => entry.id));
    for (const item of (indexed.Items ?? []).map((stored) => unmarshall(stored)))
      expect(batchIds.has(Number(item.id))).toBe(false);
  });
});
