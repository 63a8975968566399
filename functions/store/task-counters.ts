import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { TaskRecord, TaskStatus } from '#core/task';
import {
  BLOCK_COUNT_ATTRIBUTE,
  blockCounterKey,
  bucketCounterKey,
  countedBy,
  counterAttribute,
  creationBucket,
  hostCounterKey,
} from './table-schema.ts';

/** The filters of a listing that counters answer: a status and a part of the task's name. */
export interface CountFilter {
  status?: TaskStatus;
  name?: string;
}

type CounterKey = { pk: string; sk: string };
/** One count a task adds to: a counter item and the number attribute in it. */
export interface TaskCount {
  key: CounterKey;
  attribute: string;
}

/** What the counters count of a task, or of a batch: a batch has no host of its own. */
export type Counted = Pick<TaskRecord, 'id' | 'startTime' | 'name' | 'status'> & { hostId?: number };

/**
 * What a task is counted in: its creation bucket's counter (one shard of it) and its host's, under its
 * name and status; and its id block's counter, whatever its status. A batch is counted as a task is,
 * in no host's counter (its hosts' restart tasks are).
 */
export function countsOf(task: Counted): TaskCount[] {
  const bucket = creationBucket(task.startTime);
  const attribute = counterAttribute(task.name, task.status);
  return [
    { key: bucketCounterKey(bucket, task.id), attribute },
    ...(task.hostId === undefined ? [] : [{ key: hostCounterKey(task.hostId), attribute }]),
    { key: blockCounterKey(bucket, task.id), attribute: BLOCK_COUNT_ATTRIBUTE },
  ];
}

/**
 * The counter updates to write in the transaction that changes a task from `before` to `after`
 * (undefined: the task does not exist on that side): -1 where it was counted, +1 where it is now. A
 * change that keeps the task's name and status updates nothing.
 */
export function counterUpdates(
  before: Counted | undefined,
  after: Counted | undefined,
  tableName: string,
): TransactWriteItem[] {
  const changes = new Map<string, { key: CounterKey; deltas: Map<string, number> }>();
  const count = (task: Counted | undefined, delta: number) => {
    if (!task) return;
    for (const { key, attribute } of countsOf(task)) {
      const id = `${key.pk}\n${key.sk}`;
      const change = changes.get(id) ?? { key, deltas: new Map() };
      changes.set(id, change);
      change.deltas.set(attribute, (change.deltas.get(attribute) ?? 0) + delta);
    }
  };
  count(before, -1);
  count(after, 1);
  return [...changes.values()].flatMap(({ key, deltas }) => {
    const changed = [...deltas].filter(([, delta]) => delta !== 0);
    if (changed.length === 0) return [];
    return [
      {
        Update: {
          TableName: tableName,
          Key: marshall(key),
          UpdateExpression: `ADD ${changed.map((_, i) => `#count${i} :delta${i}`).join(', ')}`,
          ExpressionAttributeNames: Object.fromEntries(
            changed.map(([attribute], i) => [`#count${i}`, attribute]),
          ),
          ExpressionAttributeValues: Object.fromEntries(
            changed.map(([, delta], i) => [`:delta${i}`, { N: String(delta) }]),
          ),
        },
      },
    ];
  });
}

/** How many of the tasks a counter item counts match the filters: the sum of the attributes that do. */
export function matchingCount(counter: Record<string, unknown>, filter: CountFilter): number {
  let total = 0;
  for (const [attribute, value] of Object.entries(counter)) {
    const counted = countedBy(attribute);
    if (!counted || (filter.status && counted.status !== filter.status)) continue;
    if (filter.name && !counted.name.includes(filter.name)) continue;
    total += Number(value);
  }
  return total;
}
