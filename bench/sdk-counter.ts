import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TASK_TABLE_INDEXES } from '../functions/store/table-schema.ts';

/** The calls an SDK client made while counted: by operation, and DynamoDB's consumed capacity. */
export interface SdkCount {
  calls: Map<string, number>;
  /** Capacity units reported, by operation. */
  units: Map<string, number>;
  /** Time spent in the calls (from the client's initialize step to the answer), ms, by operation. */
  ms: Map<string, number>;
  /** Entries sent with PutEvents. */
  putEventsEntries: number;
  readUnits: number;
  writeUnits: number;
  /** Calls that failed (e.g. a refused conditional write); a write is counted as 1 unit. */
  failures: number;
  /** What DynamoDB Local itself reported for the transactions (counted by AWS's rule instead, see below). */
  localTransactionUnits: number;
}

const READ_OPERATIONS = new Set([
  'GetItemCommand',
  'BatchGetItemCommand',
  'QueryCommand',
  'ScanCommand',
  'TransactGetItemsCommand',
]);
/** Operations that take ReturnConsumedCapacity. */
const CAPACITY_OPERATIONS = new Set([
  ...READ_OPERATIONS,
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);

type CapacityOutput = { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] };

/** Any SDK v3 client: its middleware stack is handled as DynamoDB's (the counter reads no typed field). */
type Stack = DynamoDBClient['middlewareStack'];

/**
 * Counts the calls of an SDK client (the product's own module-scope client, so the handlers' calls)
 * with an initialize-step middleware; for DynamoDB it asks for ReturnConsumedCapacity and sums the
 * units DynamoDB (Local) reports, reads and writes apart. Returns the count and a function removing it.
 */
export function countCalls(
  client: { middlewareStack: object },
  name: string,
): { count: SdkCount; stop(): void } {
  const stack = client.middlewareStack as Stack;
  const count: SdkCount = {
    calls: new Map(),
    units: new Map(),
    ms: new Map(),
    putEventsEntries: 0,
    readUnits: 0,
    writeUnits: 0,
    failures: 0,
    localTransactionUnits: 0,
  };
  const middlewareName = `bench-counter-${name}`;
  stack.add(
    (next, context) => async (args) => {
      const operation = context.commandName ?? 'unknown';
      count.calls.set(operation, (count.calls.get(operation) ?? 0) + 1);
      const input = args.input as Record<string, unknown>;
      if (operation === 'PutEventsCommand') count.putEventsEntries += (input.Entries as unknown[]).length;
      if (CAPACITY_OPERATIONS.has(operation)) input.ReturnConsumedCapacity = 'TOTAL';
      let result: Awaited<ReturnType<typeof next>>;
      const started = performance.now();
      const timed = () =>
        count.ms.set(operation, (count.ms.get(operation) ?? 0) + performance.now() - started);
      try {
        result = await next(args);
        timed();
      } catch (error) {
        timed();
        count.failures++;
        // DynamoDB bills a refused conditional write too (at least one unit); its size is not returned.
        if (CAPACITY_OPERATIONS.has(operation) && !READ_OPERATIONS.has(operation)) count.writeUnits += 1;
        throw error;
      }
      const consumed = (result.output as CapacityOutput).ConsumedCapacity;
      const reported = [consumed ?? []]
        .flat()
        .reduce((total, entry) => total + (entry.CapacityUnits ?? 0), 0);
      if (operation === 'TransactWriteItemsCommand') count.localTransactionUnits += reported;
      const units =
        operation === 'TransactWriteItemsCommand'
          ? transactionWriteUnits(input.TransactItems as TransactItem[])
          : reported;
      count.units.set(operation, (count.units.get(operation) ?? 0) + units);
      if (READ_OPERATIONS.has(operation)) count.readUnits += units;
      else count.writeUnits += units;
      return result;
    },
    { step: 'initialize', name: middlewareName },
  );
  return { count, stop: () => stack.remove(middlewareName) };
}

type AttributeValue = {
  S?: string;
  N?: string;
  B?: Uint8Array;
  BOOL?: boolean;
  NULL?: boolean;
  M?: Item;
  L?: AttributeValue[];
};
type Item = Record<string, AttributeValue>;
type TransactItem = {
  Put?: { Item: Item };
  Update?: { Key: Item };
  Delete?: { Key: Item };
  ConditionCheck?: { Key: Item };
};

/**
 * Write units of a transaction by AWS's published rule, since DynamoDB Local over-reports them (it
 * reports 4 units for a one-item transaction of 50 bytes): 2 units per KB of each item, for the table
 * and again for each index the item is written to (an index write counted as transactional too, the
 * dearer reading). A Put's size is computed from its item; an Update, Delete or ConditionCheck is
 * counted as one KB (every such item of the product is smaller: counters, locks, list entries).
 */
export function transactionWriteUnits(items: readonly TransactItem[]): number {
  return items.reduce((total, item) => {
    if (item.Put) {
      const kilobytes = Math.max(1, Math.ceil(itemSize(item.Put.Item) / 1024));
      return total + 2 * kilobytes * (1 + indexesOf(item.Put.Item));
    }
    const key = (item.Update ?? item.Delete ?? item.ConditionCheck)!.Key;
    // Deleting a lock or a list entry removes it from its indexes (they hold it by other attributes).
    const sk = key.sk?.S ?? '';
    const indexes = item.Delete ? (sk === 'LOCK' ? 1 : sk === 'LIST' ? 2 : 0) : 0;
    return total + 2 * (1 + indexes);
  }, 0);
}

/** The indexes of the task table an item is in: those whose key attributes it has. */
function indexesOf(item: Item): number {
  return TASK_TABLE_INDEXES.filter((index) => index.partitionKey in item && index.sortKey in item).length;
}

/** An item's size by DynamoDB's rule: attribute names and values (numbers about a byte per 2 digits). */
export function itemSize(item: Item): number {
  return Object.entries(item).reduce((total, [name, value]) => total + utf8(name) + valueSize(value), 0);
}

function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
  if (value.B !== undefined) return value.B.length;
  if (value.M) return 3 + Object.entries(value.M).reduce((t, [k, v]) => t + 1 + utf8(k) + valueSize(v), 0);
  if (value.L) return 3 + value.L.reduce((t, v) => t + 1 + valueSize(v), 0);
  return 1;
}

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');
