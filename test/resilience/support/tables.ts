import { type AttributeValue, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { fromTaskItem } from '../../../functions/store/task-item.ts';
import type { LocalSystem } from '../../../local/local-system.ts';

export type Item = Record<string, unknown>;

/** A client of the system's DynamoDB Local for assertions (not the handlers' client, so no fault reaches it). */
export function tableClient(system: LocalSystem): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: system.dynamodbEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

export async function scanAll(client: DynamoDBClient, tableName: string): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
    );
    items.push(...(page.Items ?? []).map((item) => unmarshall(item)));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** JSON with object keys sorted at every level: equal items give equal text whatever their attribute order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

/** Every item of both tables, in a stable order: equal snapshots mean nothing was created or changed. */
export async function snapshotTables(client: DynamoDBClient, system: LocalSystem): Promise<string> {
  const tables = await Promise.all(
    [system.tables.taskTable, system.tables.hostTable].map(async (table) =>
      (await scanAll(client, table)).map(canonicalJson).sort(),
    ),
  );
  return JSON.stringify(tables, null, 1);
}

/** The tasks of the task table, from their task items (one per task). */
export async function taskItems(client: DynamoDBClient, system: LocalSystem): Promise<Item[]> {
  return (await scanAll(client, system.tables.taskTable))
    .filter((item) => item.sk === 'TASK')
    .map((item) => fromTaskItem(item) as unknown as Item);
}

/** The per-host lock items left in the task table. */
export async function lockItems(client: DynamoDBClient, system: LocalSystem): Promise<Item[]> {
  return (await scanAll(client, system.tables.taskTable)).filter((item) => item.sk === 'LOCK');
}
