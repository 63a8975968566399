import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** The calls an SDK client made while counted: by operation, and DynamoDB's consumed capacity. */
export interface SdkCount {
  calls: Map<string, number>;
  /** Capacity units reported, by operation. */
  units: Map<string, number>;
  /** Entries sent with PutEvents. */
  putEventsEntries: number;
  readUnits: number;
  writeUnits: number;
  /** Calls that failed (e.g. a refused conditional write); a write is counted as 1 unit. */
  failures: number;
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
    putEventsEntries: 0,
    readUnits: 0,
    writeUnits: 0,
    failures: 0,
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
      try {
        result = await next(args);
      } catch (error) {
        count.failures++;
        // DynamoDB bills a refused conditional write too (at least one unit); its size is not returned.
        if (CAPACITY_OPERATIONS.has(operation) && !READ_OPERATIONS.has(operation)) count.writeUnits += 1;
        throw error;
      }
      const consumed = (result.output as CapacityOutput).ConsumedCapacity;
      const units = [consumed ?? []].flat().reduce((total, entry) => total + (entry.CapacityUnits ?? 0), 0);
      count.units.set(operation, (count.units.get(operation) ?? 0) + units);
      if (READ_OPERATIONS.has(operation)) count.readUnits += units;
      else count.writeUnits += units;
      return result;
    },
    { step: 'initialize', name: middlewareName },
  );
  return { count, stop: () => stack.remove(middlewareName) };
}
