import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { HOST_TABLE, KEY_ATTRIBUTE_TYPES, TASK_TABLE } from '#store/table-schema';

const attribute = (name: keyof typeof KEY_ATTRIBUTE_TYPES) => ({
  AttributeName: name,
  AttributeType: KEY_ATTRIBUTE_TYPES[name],
});

/** The product's tables, created in DynamoDB Local from the same key shapes the stack uses. */
export function tableDefinitions(names: { taskTable: string; hostTable: string }): CreateTableCommandInput[] {
  const { byCreationIndex, byHostIndex } = TASK_TABLE;
  return [
    {
      TableName: names.taskTable,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: TASK_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TASK_TABLE.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        TASK_TABLE.partitionKey,
        TASK_TABLE.sortKey,
        byCreationIndex.partitionKey,
        byCreationIndex.sortKey,
        byHostIndex.partitionKey,
      ].map(attribute),
      GlobalSecondaryIndexes: [
        {
          IndexName: byCreationIndex.name,
          KeySchema: [
            { AttributeName: byCreationIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: byCreationIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: byHostIndex.name,
          KeySchema: [
            { AttributeName: byHostIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: byHostIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
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

/** Creates the tables unless they exist (a persisted local mode keeps them across starts). */
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
    await client.send(new DescribeTableCommand({ TableName: definition.TableName }));
  }
}
