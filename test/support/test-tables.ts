import { randomUUID } from 'node:crypto';
import { DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { ENV } from '../../functions/catalog.ts';
import { ensureTables } from '../../local/tables.ts';

/** A DynamoDB Local client for assertions, configured like the handlers' (standard SDK configuration). */
export const testDynamoDb = new DynamoDBClient({});

export interface TestTables {
  taskTable: string;
  hostTable: string;
}

/** Fresh tables with unique names in the shared DynamoDB Local, named in the handlers' environment. */
export async function createTestTables(): Promise<TestTables> {
  const suffix = randomUUID().slice(0, 8);
  const tables = { taskTable: `tasks-${suffix}`, hostTable: `hosts-${suffix}` };
  await ensureTables(testDynamoDb, tables);
  process.env[ENV.taskTable] = tables.taskTable;
  process.env[ENV.hostTable] = tables.hostTable;
  return tables;
}

export async function registerHost(
  tables: TestTables,
  host: { hostId: number; instanceId: string; agentHome?: string; controlScript?: string },
): Promise<void> {
  await testDynamoDb.send(
    new PutItemCommand({
      TableName: tables.hostTable,
      Item: marshall({ agentHome: '/home/admin/ocp_agent', ...host }),
    }),
  );
}

/** Every item of a table, for before/after comparisons. */
export async function tableItems(tableName: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
  do {
    const page = await testDynamoDb.send(
      new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }),
    );
    items.push(...(page.Items ?? []).map((item) => unmarshall(item)));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}
