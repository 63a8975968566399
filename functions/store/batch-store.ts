import {
  type AttributeValue,
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamodb } from '#aws/dynamodb';
import type { BatchHostRecord, BatchRecord } from '#core/batch-task';
import {
  fromBatchHostItem,
  fromBatchItem,
  toBatchHostItem,
  toBatchItem,
  toBatchListEntry,
} from './batch-item.ts';
import { deleteItems, putItems } from './bulk-items.ts';
import {
  batchHostKey,
  batchItemsRange,
  batchKey,
  isBatchHostSortKey,
  REQUEST_KEY_TTL_SECONDS,
  requestKey,
  taskListEntryKey,
} from './table-schema.ts';
import { counterUpdates } from './task-counters.ts';
import { DuplicateRequest, StaleRecord, versionIs } from './task-store.ts';

const toItem = (value: object) =>
  marshall(value, { removeUndefinedValues: true, convertClassInstanceToMap: false });

/**
 * An idempotency key and the batch it created: `batchId`, not a task's `taskId`, so the key's reader
 * knows which it names (and no index takes it).
 */
const batchRequestItem = (idempotencyKey: string, batchId: number) => ({
  ...requestKey(idempotencyKey),
  batchId,
  expiresAt: Math.floor(Date.now() / 1000) + REQUEST_KEY_TTL_SECONDS,
});

/** A batch as stored: the batch and every one of its hosts, in the order of the request. */
export interface StoredBatch {
  batch: BatchRecord;
  hosts: BatchHostRecord[];
}

/**
 * Batch restarts in the task table (batch-item.ts). Every write is conditional on the version read,
 * as the task store's are: a write from a stale read is refused as StaleRecord.
 */
export class BatchStore {
  constructor(readonly tableName: string) {}

  /**
   * Writes a new batch: its host items first (unconditional batch writes, 25 to a call), which no
   * reader sees until the batch item exists; then, in one transaction, the batch item (refused if
   * it exists), its list entry, its counts and, with an idempotency key, the key (refused if an
   * earlier request holds it: DuplicateRequest names that request's batch). If the transaction fails
   * the host items are deleted again. The batch's ids must be fresh (allocateIds).
   */
  async createBatch(
    batch: BatchRecord,
    hosts: readonly BatchHostRecord[],
    idempotencyKey?: string,
  ): Promise<void> {
    await putItems(
      this.tableName,
      hosts.map((host) => toItem(toBatchHostItem(host))),
    );
    try {
      await dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: toItem(toBatchItem(batch)),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: { TableName: this.tableName, Item: toItem(toBatchListEntry(batch)) } },
            ...(idempotencyKey
              ? [
                  {
                    Put: {
                      TableName: this.tableName,
                      Item: toItem(batchRequestItem(idempotencyKey, batch.id)),
                      ConditionExpression: 'attribute_not_exists(pk)',
                      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
                    },
                  },
                ]
              : []),
            // Last, so that the cancellation reasons above keep their positions.
            ...counterUpdates(undefined, batch, this.tableName),
          ],
        }),
      );
    } catch (error) {
      const [existing, , earlierRequest] =
        error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
      // Another batch holds the id: its hosts are the items just written over, not to be deleted.
      if (existing?.Code === 'ConditionalCheckFailed')
        throw new StaleRecord(`Batch ${batch.id} exists already`);
      await this.deleteHosts(batch.id, hosts);
      if (idempotencyKey && earlierRequest?.Code === 'ConditionalCheckFailed' && earlierRequest.Item)
        throw new DuplicateRequest(Number(unmarshall(earlierRequest.Item).batchId));
      throw error;
    }
  }

  /** The batch an idempotency key created (createBatch), if the key is remembered and the batch exists. */
  async batchForRequest(idempotencyKey: string): Promise<StoredBatch | undefined> {
    const result = await dynamodb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: toItem(requestKey(idempotencyKey)),
        ConsistentRead: true,
      }),
    );
    const batchId = result.Item ? unmarshall(result.Item).batchId : undefined;
    return batchId === undefined ? undefined : this.getBatch(Number(batchId));
  }

  /** The batch and all its hosts (consistent reads), or undefined when there is no such batch. */
  async getBatch(batchId: number): Promise<StoredBatch | undefined> {
    let batch: BatchRecord | undefined;
    const hosts: BatchHostRecord[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await dynamodb.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: toItem({
            ':pk': batchKey(batchId).pk,
            ':from': batchItemsRange.from,
            ':to': batchItemsRange.to,
          }),
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const stored of page.Items ?? []) {
        const item = unmarshall(stored);
        if (item.sk === batchKey(batchId).sk) batch = fromBatchItem(item);
        else if (isBatchHostSortKey(String(item.sk))) hosts.push(fromBatchHostItem(item));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return batch ? { batch, hosts } : undefined;
  }

  /**
   * Writes `after` over `before` if the stored batch is still `before` (its version), with its list
   * entry (so a listing shows it as it is) and, when its status changes, its counts. Returns the
   * batch as written (its version counted up); StaleRecord if it changed since it was read.
   */
  async saveBatch(before: BatchRecord, after: BatchRecord): Promise<BatchRecord> {
    const saved = { ...after, version: before.version + 1 };
    try {
      await dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: toItem(toBatchItem(saved)),
                ...versionIs(before.version),
              },
            },
            { Put: { TableName: this.tableName, Item: toItem(toBatchListEntry(saved)) } },
            ...counterUpdates(before, saved, this.tableName),
          ],
        }),
      );
    } catch (error) {
      const [item] = error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
      if (item?.Code === 'ConditionalCheckFailed')
        throw new StaleRecord(`Batch ${after.id} changed meanwhile`);
      throw error;
    }
    return saved;
  }

  /** Writes a host of a batch over its version `before`; StaleRecord if it changed since it was read. */
  async saveHost(before: BatchHostRecord, after: BatchHostRecord): Promise<BatchHostRecord> {
    const saved = { ...after, version: before.version + 1 };
    try {
      await dynamodb.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem(toBatchHostItem(saved)),
          ...versionIs(before.version),
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException)
        throw new StaleRecord(`Host ${after.index} of batch ${after.batchId} changed meanwhile`);
      throw error;
    }
    return saved;
  }

  /**
   * Undoes createBatch for a batch whose execution could not be started: the batch item (if still the
   * version created), its list entry, counts and idempotency key in one transaction, then its host
   * items, so that the request may be delivered again.
   */
  async deleteUnstartedBatch(
    batch: BatchRecord,
    hosts: readonly BatchHostRecord[],
    idempotencyKey?: string,
  ): Promise<void> {
    await dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Delete: {
              TableName: this.tableName,
              Key: toItem(batchKey(batch.id)),
              ...versionIs(batch.version),
            },
          },
          { Delete: { TableName: this.tableName, Key: toItem(taskListEntryKey(batch.id)) } },
          ...(idempotencyKey
            ? [{ Delete: { TableName: this.tableName, Key: toItem(requestKey(idempotencyKey)) } }]
            : []),
          ...counterUpdates(batch, undefined, this.tableName),
        ],
      }),
    );
    await this.deleteHosts(batch.id, hosts);
  }

  private async deleteHosts(batchId: number, hosts: readonly BatchHostRecord[]): Promise<void> {
    await deleteItems(
      this.tableName,
      hosts.map((host) => toItem(batchHostKey(batchId, host.index))),
    );
  }
}
