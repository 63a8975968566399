import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  hostLockKey,
  requestKey,
  TASK_TABLE,
  TASK_TABLE_INDEXES,
} from '../../functions/store/table-schema.ts';
import { WorkflowTaskStore } from '../../functions/store/workflow-task-store.ts';
import { ensureTables, tableDefinitions } from '../../local/tables.ts';
import { testDynamoDb } from '../support/test-tables.ts';

const indexNames = async (tableName: string) =>
  (
    await testDynamoDb.send(new DescribeTableCommand({ TableName: tableName }))
  ).Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort();

describe('ensureTables', () => {
  it('adds the host locks index to a task table persisted before it, listing the locks already there', async () => {
    const names = {
      taskTable: `tasks-${randomUUID().slice(0, 8)}`,
      hostTable: `hosts-${randomUUID().slice(0, 8)}`,
    };
    const [taskTable] = tableDefinitions(names);
    const { hostLocksIndex } = TASK_TABLE;
    const newKeys: string[] = [hostLocksIndex.partitionKey, hostLocksIndex.sortKey];
    await testDynamoDb.send(
      new CreateTableCommand({
        ...taskTable!,
        AttributeDefinitions: taskTable!.AttributeDefinitions!.filter(
          (attribute) => !newKeys.includes(attribute.AttributeName!),
        ),
        GlobalSecondaryIndexes: taskTable!.GlobalSecondaryIndexes!.filter(
          (index) => index.IndexName !== hostLocksIndex.name,
        ),
      }),
    );
    const put = (item: object) =>
      testDynamoDb.send(new PutItemCommand({ TableName: names.taskTable, Item: marshall(item) }));
    await put({ ...hostLockKey(7), taskId: 41, since: '2026-12-01T10:00:00.000Z' });
    await put({ ...requestKey('event-1'), taskId: 41, expiresAt: 1 });

    await ensureTables(testDynamoDb, names);

    expect(await indexNames(names.taskTable)).toEqual(TASK_TABLE_INDEXES.map((index) => index.name).sort());
    expect(await new WorkflowTaskStore(names.taskTable).hostLocks()).toEqual([
      { hostId: 7, taskId: 41, since: '2026-12-01T10:00:00.000Z' },
    ]);
    await ensureTables(testDynamoDb, names);
    expect(await indexNames(names.taskTable)).toEqual(TASK_TABLE_INDEXES.map((index) => index.name).sort());
  });
});
