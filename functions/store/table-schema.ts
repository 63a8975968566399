/**
 * Key shapes of the product's DynamoDB tables: used by the stack to create them, by the
 * handlers to read and write them, and by local mode to create them in DynamoDB Local.
 */
export const TASK_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Every task item, newest id first; filtered by status and name on read. */
  byCreationIndex: { name: 'byCreation', partitionKey: 'listPk', sortKey: 'id' },
  /** A host's tasks, newest id first. */
  byHostIndex: { name: 'byHost', partitionKey: 'hostId', sortKey: 'id' },
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

/** DynamoDB type of every key attribute above (tables and indexes): S for string, N for number. */
export const KEY_ATTRIBUTE_TYPES = { pk: 'S', sk: 'S', listPk: 'S', id: 'N', hostId: 'N' } as const;

/** The constant partition of byCreationIndex. */
export const TASK_LIST_PARTITION = 'TASK';

export const taskKey = (taskId: number) => ({ pk: `TASK#${taskId}`, sk: 'TASK' });
export const subtaskLogKey = (taskId: number, subtaskId: number, attempt: number) => ({
  pk: `TASK#${taskId}`,
  sk: `LOG#${subtaskId}#${String(attempt).padStart(4, '0')}`,
});
export const subtaskLogPrefix = (subtaskId: number) => `LOG#${subtaskId}#`;
/** The per-host lock: present while an agent operation runs on the host. */
export const hostLockKey = (hostId: number) => ({ pk: `HOST#${hostId}`, sk: 'LOCK' });
export const idCounterKey = { pk: 'COUNTER', sk: 'ID' } as const;
/** An idempotency key (e.g. an EventBridge event id) and the task it created. */
export const requestKey = (key: string) => ({ pk: `REQUEST#${key}`, sk: 'REQUEST' });
/** How long an idempotency key is remembered: longer than EventBridge retries an event (24 h). */
export const REQUEST_KEY_TTL_SECONDS = 7 * 24 * 3600;
