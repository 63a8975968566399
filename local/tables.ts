import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  ResourceInUseException,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import { HOST_TABLE, KEY_ATTRIBUTE_TYPES, TASK_TABLE, TASK_TABLE_INDEXES } from '#store/table-schema';

const attribute = (name: keyof typeof KEY_ATTRIBUTE_TYPES) => ({
  AttributeName: name,
  AttributeType: KEY_ATTRIBUTE_TYPES[name],
});

/** How long an index added to an existing table may take to become ACTIVE in DynamoDB Local. */
const INDEX_ACTIVE_DEADLINE_MS = 30_000;

/** The product's tables, created in DynamoDB Local from the same key shapes the stack uses. */
export function tableDefinitions(names: { taskTable: string; hostTable: string }): CreateTableCommandInput[] {
  return [
    {
      TableName: names.taskTable,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: TASK_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TASK_TABLE.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        ...new Set([
          TASK_TABLE.partitionKey,
          TASK_TABLE.sortKey,
          ...TASK_TABLE_INDEXES.flatMap((index) => [index.partitionKey, index.sortKey]),
        ]),
      ].map(attribute),
      GlobalSecondaryIndexes: TASK_TABLE_INDEXES.map(
        (index): GlobalSecondaryIndex => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: index.projection },
        }),
      ),
      StreamSpecification: { StreamEnabled: true, StreamViewType: TASK_TABLE.streamView },
    },
    {
      TableName: names.hostTable,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: HOST_TABLE.partitionKey, KeyType: 'HASH' }],
      AttributeDefinitions: [attribute(HOST_TABLE.partitionKey)],
    },
  ];
}

/**
 * Creates the tables unless they exist (a persisted local mode keeps them across starts). An existing
 * table gets the indexes it lacks, one per update and backfilled from its items, as a deploy adds them.
 */
export async function ensureTables(
  client: DynamoDBClient,
  names: { taskTable: string; hostTable: string },
): Promise<void> {
  for (const definition of tableDefinitions(names)) {
    try {
      await client.send(new CreateTableCommand(definition));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    const existing = await client.send(new DescribeTableCommand({ TableName: definition.TableName }));
    const present = new Set(existing.Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName));
    for (const index of definition.GlobalSecondaryIndexes ?? []) {
      if (present.has(index.IndexName)) continue;
      const keys = new Set(index.KeySchema?.map((key) => key.AttributeName));
      await client.send(
        new UpdateTableCommand({
          TableName: definition.TableName,
          AttributeDefinitions: definition.AttributeDefinitions?.filter((a) => keys.has(a.AttributeName)),
          GlobalSecondaryIndexUpdates: [{ Create: index }],
        }),
      );
      await untilIndexActive(client, definition.TableName!, index.IndexName!);
    }
  }
}

async function untilIndexActive(client: DynamoDBClient, tableName: string, indexName: string): Promise<void> {
  const deadline = Date.now() + INDEX_ACTIVE_DEADLINE_MS;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const index = Table?.GlobalSecondaryIndexes?.find((candidate) => candidate.IndexName === indexName);
    if (index?.IndexStatus === 'ACTIVE') return;
    if (Date.now() > deadline) {
      throw new Error(
        `Index ${indexName} of ${tableName} is not ACTIVE after ${INDEX_ACTIVE_DEADLINE_MS} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
