import { IDS_PER_TASK } from '#core/subtasks';
import type { TaskStatus } from '#core/task';
import { utcMonth } from '#core/time';

/**
 * Key shapes of the product's DynamoDB tables: used by the stack to create them, by the
 * handlers to read and write them, and by local mode to create them in DynamoDB Local.
 */
export const TASK_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Every task's list entry, in one partition per creation bucket (listPartitionOf), newest id first. */
  byCreationIndex: { name: 'byCreation', partitionKey: 'listPk', sortKey: 'id', projection: 'ALL' },
  /** A host's tasks' list entries, newest id first. */
  byHostIndex: { name: 'byHost', partitionKey: 'hostId', sortKey: 'id', projection: 'ALL' },
  /**
   * The host locks, so the running tasks: sparse, as only a lock item carries both taskId and since (an
   * idempotency key has taskId alone). A Scan of it reads the locks and nothing of the tasks' history.
   */
  hostLocksIndex: { name: 'hostLocks', partitionKey: 'taskId', sortKey: 'since', projection: 'KEYS_ONLY' },
  /** DynamoDB Streams view for task status events. */
  streamView: 'NEW_AND_OLD_IMAGES',
  /** Epoch seconds after which DynamoDB deletes an item (idempotency keys only). */
  timeToLiveAttribute: 'expiresAt',
} as const;

/**
 * The event source mapping of the task table's stream onto publish-task-events: the stack deploys it
 * and local mode's stream poller applies it (with the stack's on-failure queue).
 */
export const TASK_STREAM_MAPPING = {
  batchSize: 100,
  /** The publisher answers with the first record it could not publish; the stream resumes there. */
  reportBatchItemFailures: true,
  /** Retries of a failed batch; then it is described to the on-failure queue and skipped. */
  retryAttempts: 20,
  bisectBatchOnError: false,
} as const;

export const HOST_TABLE = {
  partitionKey: 'hostId',
} as const;

/** The task table's global secondary indexes, in the order they were added (CloudFormation adds one per update). */
export const TASK_TABLE_INDEXES = [
  TASK_TABLE.byCreationIndex,
  TASK_TABLE.byHostIndex,
  TASK_TABLE.hostLocksIndex,
] as const;

/**
 * DynamoDB type of every key attribute above (tables and indexes): S for string, N for number. An item
 * whose attribute of that name has another type is refused, in every item of the table.
 */
export const KEY_ATTRIBUTE_TYPES = {
  pk: 'S',
  sk: 'S',
  listPk: 'S',
  id: 'N',
  hostId: 'N',
  taskId: 'N',
  since: 'S',
} as const;

/**
 * The creation bucket of a task: the UTC month of its start ("2026-12"). It names the task's partition of
 * byCreationIndex, so that no one partition takes every task, and the counter its counts are kept in.
 */
export const creationBucket = (startTime: string) => utcMonth(startTime);
/** The byCreationIndex partition (listPk) of a creation bucket's tasks. */
export const listPartition = (bucket: string) => `TASK#${bucket}`;
/** The byCreationIndex partition (listPk) of a task, from its start time. */
export const listPartitionOf = (startTime: string) => listPartition(creationBucket(startTime));

/**
 * Task counts, kept in the transactions that write the tasks: one number attribute per task name and
 * status (counterAttribute), in one item per creation bucket shard and one per host. Concurrent
 * transactions on one item are cancelled (TransactionConflict), so each bucket's count is spread
 * over shards by task id: restarts created or ended at the same moment rarely share an item.
 */
export const BUCKET_COUNTER_SHARDS = 4;
export const BUCKET_COUNTERS_PARTITION = 'COUNT#TASKS';
const counterShard = (taskId: number) => (Math.imul(taskId, 0x9e3779b1) >>> 0) % BUCKET_COUNTER_SHARDS;
export const bucketCounterKey = (bucket: string, taskId: number) => ({
  pk: BUCKET_COUNTERS_PARTITION,
  sk: `${bucket}#${counterShard(taskId)}`,
});
/**
 * Each creation bucket's tasks are also counted by block of ids (LIST_BLOCK_IDS consecutive ids, about
 * LIST_BLOCK_TASKS tasks), all statuses together, in the transactions that create and delete tasks: a
 * listing passes over whole blocks before a deep page by their counts, reading the blocks' counters
 * (tiny items), not their tasks. Sharded as the bucket counters are.
 */
export const LIST_BLOCK_TASKS = 100;
export const LIST_BLOCK_IDS = LIST_BLOCK_TASKS * IDS_PER_TASK;
export const BLOCK_COUNT_ATTRIBUTE = 'tasks';
export const blockCountersPartition = (bucket: string) => `COUNT#BLOCKS#${bucket}`;
const BLOCK_DIGITS = 12;
export const blockCounterKey = (bucket: string, taskId: number) => ({
  pk: blockCountersPartition(bucket),
  sk: `${String(Math.floor(taskId / LIST_BLOCK_IDS)).padStart(BLOCK_DIGITS, '0')}#${counterShard(taskId)}`,
});
/** The block a block counter item (its sort key) counts. */
export const blockOfCounter = (counterSk: string) => Number(counterSk.slice(0, BLOCK_DIGITS));
/** The first id after a block: the exclusive upper bound of its ids. */
export const blockEndId = (block: number) => (block + 1) * LIST_BLOCK_IDS;
/** The creation bucket a bucket counter item (its sort key) counts. */
export const bucketOfCounter = (counterSk: string) => counterSk.slice(0, counterSk.lastIndexOf('#'));
export const hostCounterKey = (hostId: number) => ({ pk: `COUNT#HOST#${hostId}`, sk: 'COUNT' });
/** The counter attribute of the tasks with this name and status. */
export const counterAttribute = (name: string, status: TaskStatus) => `${status}#${name}`;
/** The name and status a counter attribute counts; undefined for the item's keys. */
export function countedBy(attribute: string): { status: string; name: string } | undefined {
  const separator = attribute.indexOf('#');
  if (attribute === 'pk' || attribute === 'sk' || separator < 0) return undefined;
  return { status: attribute.slice(0, separator), name: attribute.slice(separator + 1) };
}

export const taskKey = (taskId: number) => ({ pk: `TASK#${taskId}`, sk: 'TASK' });
/**
 * The copy of a task, or of a batch, in the listing indexes (a batch's in byCreation alone); see
 * functions/store/task-item.ts and batch-item.ts.
 */
export const taskListEntryKey = (taskId: number) => ({ pk: `TASK#${taskId}`, sk: 'LIST' });
/** A batch restart (functions/core/batch-task.ts): the batch item, beside its host items and list entry. */
export const batchKey = (batchId: number) => ({ pk: `TASK#${batchId}`, sk: 'BATCH' });
const BATCH_HOST_PREFIX = 'HOST#';
/** Digits of a host's index in its item's sort key: a batch holds at most MAX_BATCH_HOSTS (1,000). */
const BATCH_HOST_INDEX_DIGITS = 4;
/** Host `index` of a batch; the sort keys order the hosts as the request did. */
export const batchHostKey = (batchId: number, index: number) => ({
  pk: `TASK#${batchId}`,
  sk: `${BATCH_HOST_PREFIX}${String(index).padStart(BATCH_HOST_INDEX_DIGITS, '0')}`,
});
/**
 * The sort keys from a batch's item to its last host item ('BATCH' < 'HOST#…' < 'HOST$'): one Query
 * reads the batch and its hosts in order, and not its list entry (sk LIST, after them).
 */
export const batchItemsRange = { from: 'BATCH', to: 'HOST$' } as const;
/** Whether an item of a batch's partition is one of its hosts (its sort key). */
export const isBatchHostSortKey = (sk: string) => sk.startsWith(BATCH_HOST_PREFIX);
export const subtaskLogKey = (taskId: number, subtaskId: number, attempt: number) => ({
  pk: `TASK#${taskId}`,
  sk: `LOG#${subtaskId}#${String(attempt).padStart(4, '0')}`,
});
export const subtaskLogPrefix = (subtaskId: number) => `LOG#${subtaskId}#`;
/** One attempt of a subtask: its task token and command (SubtaskAttempt). */
export const attemptKey = (taskId: number, subtaskId: number, attempt: number) => ({
  pk: `TASK#${taskId}`,
  sk: `ATTEMPT#${subtaskId}#${String(attempt).padStart(4, '0')}`,
});
const HOST_LOCK_PREFIX = 'HOST#';
/**
 * The per-host lock: present exactly while an agent operation runs on the host, naming its task
 * (`taskId`) and when it was taken (`since`), so it is in hostLocksIndex.
 */
export const hostLockKey = (hostId: number) => ({ pk: `${HOST_LOCK_PREFIX}${hostId}`, sk: 'LOCK' });
/** The host whose lock has this partition key. */
export const lockedHostId = (lockPk: string) => Number(lockPk.slice(HOST_LOCK_PREFIX.length));
export const idCounterKey = { pk: 'COUNTER', sk: 'ID' } as const;
/** An idempotency key (e.g. an EventBridge event id) and the task (`taskId`) or batch (`batchId`) it created. */
export const requestKey = (key: string) => ({ pk: `REQUEST#${key}`, sk: 'REQUEST' });
/** How long an idempotency key is remembered: longer than EventBridge retries an event (24 h). */
export const REQUEST_KEY_TTL_SECONDS = 7 * 24 * 3600;
