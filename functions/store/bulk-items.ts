import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { dynamodb } from '#aws/dynamodb';

type Item = Record<string, AttributeValue>;

/**
 * DynamoDB's per-call limits (API reference, BatchGetItem and BatchWriteItem): at most 100 keys read
 * (and 16 MB) per BatchGetItem, at most 25 puts or deletes per BatchWriteItem. Either may leave part of
 * the request undone (throttling, the 16 MB bound, an internal failure) and answer it as
 * UnprocessedKeys / UnprocessedItems, to send again after an exponential backoff, as AWS recommends.
 */
export const BATCH_GET_KEYS = 100;
export const BATCH_WRITE_REQUESTS = 25;
/** Sends of the same unprocessed part before giving up: backoff 50 ms doubling, about 12 s in all. */
const UNPROCESSED_ATTEMPTS = 9;
const FIRST_BACKOFF_MS = 50;

/** The items stored under `keys` (unique keys), in no particular order; a key with no item has none. */
export async function getItems(
  tableName: string,
  keys: readonly Item[],
  options: { consistentRead: boolean },
): Promise<Item[]> {
  const found: Item[] = [];
  for (const chunk of chunks(keys, BATCH_GET_KEYS)) {
    let pending: Item[] = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) await backoff(attempt, `BatchGetItem left ${pending.length} keys unread`);
      const answer = await dynamodb.send(
        new BatchGetItemCommand({
          RequestItems: { [tableName]: { Keys: pending, ConsistentRead: options.consistentRead } },
        }),
      );
      found.push(...(answer.Responses?.[tableName] ?? []));
      pending = answer.UnprocessedKeys?.[tableName]?.Keys ?? [];
    }
  }
  return found;
}

/** Puts every item, each unconditionally (BatchWriteItem takes no condition). */
export async function putItems(tableName: string, items: readonly Item[]): Promise<void> {
  await write(
    tableName,
    items.map((item) => ({ PutRequest: { Item: item } })),
  );
}

/** Deletes the items under `keys`; a key with no item is no error. */
export async function deleteItems(tableName: string, keys: readonly Item[]): Promise<void> {
  await write(
    tableName,
    keys.map((key) => ({ DeleteRequest: { Key: key } })),
  );
}

async function write(tableName: string, requests: readonly WriteRequest[]): Promise<void> {
  for (const chunk of chunks(requests, BATCH_WRITE_REQUESTS)) {
    let pending: WriteRequest[] = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) await backoff(attempt, `BatchWriteItem left ${pending.length} writes undone`);
      const answer = await dynamodb.send(
        new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }),
      );
      pending = answer.UnprocessedItems?.[tableName] ?? [];
    }
  }
}

async function backoff(attempt: number, what: string): Promise<void> {
  if (attempt > UNPROCESSED_ATTEMPTS) throw new Error(`${what} after ${UNPROCESSED_ATTEMPTS} attempts`);
  const ms = FIRST_BACKOFF_MS * 2 ** (attempt - 2);
  await new Promise((resolve) => setTimeout(resolve, ms / 2 + Math.random() * (ms / 2)));
}

function chunks<T>(values: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < values.length; start += size) result.push(values.slice(start, start + size));
  return result;
}
