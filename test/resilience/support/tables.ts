import { type AttributeValue, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
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
    const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []).map((item) => unmarshall(item)));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** Every item of both tables, in a stable order: equal snapshots mean nothing was created or changed. */
export async function snapshotTables(client: DynamoDBClient, system: LocalSystem): Promise<string> {
  const key = (item: Item) =>
    `${String(item.pk ?? '')}|${String(item.sk ?? '')}|${String(item.hostId ?? '')}`;
  const tables = await Promise.all(
    [system.tables.taskTable, system.tables.hostTable].map(async (table) =>
      (await scanAll(client, table)).sort((a, b) => key(a).localeCompare(key(b))),
    ),
  );
  return JSON.stringify(tables);
}

/** The task items (one per task) of the task table. */
export async function taskItems(client: DynamoDBClient, system: LocalSystem): Promise<Item[]> {
  return (await scanAll(client, system.tables.taskTable)).filter((item) => item.sk === 'TASK');
}

/** The per-host lock items left in the task table. */
export async function lockItems(client: DynamoDBClient, system: LocalSystem): Promise<Item[]> {
  return (await scanAll(client, system.tables.taskTable)).filter((item) => item.sk === 'LOCK');
}
