import {
  type AttributeValue,
  ConditionalCheckFailedException,
  GetItemCommand,
  paginateScan,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamodb } from '#aws/dynamodb';
import { HostBusy } from '#core/errors';
import { endedBeforeHandover } from '#core/execution-sweep';
import type { AttemptOutput } from '#core/subtask-log';
import type { SubtaskRecord, SubtaskStatus, TaskRecord, TaskStatus } from '#core/task';
import {
  hostLockKey,
  idCounterKey,
  listPartitionOf,
  lockedHostId,
  REQUEST_KEY_TTL_SECONDS,
  requestKey,
  subtaskLogKey,
  subtaskLogPrefix,
  TASK_TABLE,
  taskKey,
} from './table-schema.ts';
import { counterUpdates } from './task-counters.ts';
import { fromTaskItem, TaskList, type TaskListPage, type TaskListQuery } from './task-list.ts';

export type { TaskListQuery } from './task-list.ts';

const toItem = (value: object) =>
  marshall(value, { removeUndefinedValues: true, convertClassInstanceToMap: false });

/** A host's lock: held by a task while it runs (taken and freed in the transactions that start and end it). */
export interface HostLock {
  hostId: number;
  taskId: number;
  /** When the task took it. */
  since: string;
}

/** Stored output of one attempt of a subtask. */
export type SubtaskLog = AttemptOutput;

/** Reads and conditional writes tried before concurrent changes are reported as StaleRecord. */
const FINISH_ATTEMPTS = 3;

/** An idempotency key that already created a task. */
export class DuplicateRequest extends Error {
  constructor(readonly taskId: number) {
    super(`The request already created task ${taskId}`);
    this.name = 'DuplicateRequest';
  }
}

/** Thrown when a conditional write finds the record in another state than expected. */
export class StaleRecord extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StaleRecord';
  }
}

export class TaskStore {
  private readonly listing: TaskList;

  constructor(private readonly tableName: string) {
    this.listing = new TaskList(tableName);
  }

  /** Reserves `count` consecutive fresh ids in one atomic counter update; returns the first. */
  async allocateIds(count: number): Promise<number> {
    const result = await dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: toItem(idCounterKey),
        UpdateExpression: 'ADD #next :count',
        ExpressionAttributeNames: { '#next': 'next' },
        ExpressionAttributeValues: { ':count': { N: String(count) } },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const next = Number(result.Attributes?.next?.N);
    return next - count + 1;
  }

  /**
   * Writes a new task and takes its host's lock in one transaction; HostBusy names the task holding it.
   * With an idempotency key the key is recorded in the same transaction; DuplicateRequest names the
   * task an earlier request with that key created.
   */
  async createTask(task: TaskRecord, idempotencyKey?: string): Promise<void> {
    try {
      await dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: toItem(this.taskItem(task)),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: toItem({ ...hostLockKey(task.hostId), taskId: task.id, since: task.startTime }),
                ConditionExpression: 'attribute_not_exists(pk)',
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            ...(idempotencyKey
              ? [
                  {
                    Put: {
                      TableName: this.tableName,
                      Item: toItem({
                        ...requestKey(idempotencyKey),
                        taskId: task.id,
                        expiresAt: Math.floor(Date.now() / 1000) + REQUEST_KEY_TTL_SECONDS,
                      }),
                      ConditionExpression: 'attribute_not_exists(pk)',
                      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
                    },
                  },
                ]
              : []),
            ...counterUpdates(undefined, task, this.tableName),
          ],
        }),
      );
    } catch (error) {
      const reasons = error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
      const [, lockHolder, earlierRequest] = reasons;
      if (earlierRequest?.Code === 'ConditionalCheckFailed' && earlierRequest.Item) {
        throw new DuplicateRequest(Number(unmarshall(earlierRequest.Item).taskId));
      }
      if (lockHolder?.Code === 'ConditionalCheckFailed' && lockHolder.Item) {
        throw new HostBusy(task.hostId, Number(unmarshall(lockHolder.Item).taskId));
      }
      throw error;
    }
  }

  /** The task an idempotency key created, if it is remembered. */
  async taskForRequest(idempotencyKey: string): Promise<number | undefined> {
    return this.taskIdAt(requestKey(idempotencyKey));
  }

  /** Undoes createTask for a task whose execution could not be started. */
  async deleteUnstartedTask(task: TaskRecord, idempotencyKey?: string): Promise<void> {
    await dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Delete: { TableName: this.tableName, Key: toItem(taskKey(task.id)) } },
          ...(idempotencyKey
            ? [{ Delete: { TableName: this.tableName, Key: toItem(requestKey(idempotencyKey)) } }]
            : []),
          {
            Delete: {
              TableName: this.tableName,
              Key: toItem(hostLockKey(task.hostId)),
              ConditionExpression: 'taskId = :taskId',
              ExpressionAttributeValues: { ':taskId': { N: String(task.id) } },
            },
          },
          ...counterUpdates(task, undefined, this.tableName),
        ],
      }),
    );
  }

  async getTask(taskId: number): Promise<TaskRecord | undefined> {
    const result = await dynamodb.send(
      new GetItemCommand({ TableName: this.tableName, Key: toItem(taskKey(taskId)), ConsistentRead: true }),
    );
    return result.Item ? fromTaskItem(unmarshall(result.Item)) : undefined;
  }

  /**
   * Records a FAILED task as running again (retry, skip, rollback) and re-takes its host's lock, in one
   * transaction: refused with StaleRecord if the task changed since it was read, HostBusy if another
   * task holds the host.
   */
  async reopenTask(previous: TaskRecord, reopened: TaskRecord): Promise<void> {
    try {
      await dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: toItem(this.taskItem(reopened)),
                ConditionExpression: '#status = :status AND #operation = :operation AND #endTime = :endTime',
                ExpressionAttributeNames: {
                  '#status': 'status',
                  '#operation': 'operation',
                  '#endTime': 'endTime',
                },
                ExpressionAttributeValues: toItem({
                  ':status': previous.status,
                  ':operation': previous.operation,
                  ':endTime': previous.endTime ?? '',
                }),
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: toItem({
                  ...hostLockKey(reopened.hostId),
                  taskId: reopened.id,
                  since: new Date().toISOString(),
                }),
                ConditionExpression: 'attribute_not_exists(pk)',
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            ...counterUpdates(previous, reopened, this.tableName),
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [task, lock] = error.CancellationReasons ?? [];
      if (lock?.Code === 'ConditionalCheckFailed' && lock.Item) {
        throw new HostBusy(reopened.hostId, Number(unmarshall(lock.Item).taskId));
      }
      if (task?.Code === 'ConditionalCheckFailed')
        throw new StaleRecord(`Task ${reopened.id} changed meanwhile`);
      throw error;
    }
  }

  /** Undoes reopenTask when the workflow could not be resumed: the task is as it was and the lock free. */
  async restoreTask(previous: TaskRecord, reopened: TaskRecord): Promise<void> {
    await dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.tableName,
              Item: toItem(this.taskItem(previous)),
              ConditionExpression: '#status = :running AND #operation = :operation',
              ExpressionAttributeNames: { '#status': 'status', '#operation': 'operation' },
              ExpressionAttributeValues: toItem({ ':running': 'RUNNING', ':operation': reopened.operation }),
            },
          },
          {
            Delete: {
              TableName: this.tableName,
              Key: toItem(hostLockKey(reopened.hostId)),
              ConditionExpression: 'taskId = :taskId',
              ExpressionAttributeValues: { ':taskId': { N: String(reopened.id) } },
            },
          },
          ...counterUpdates(reopened, previous, this.tableName),
        ],
      }),
    );
  }

  /** Marks a RUNNING attempt CANCELING (operation CANCEL); StaleRecord if it ended meanwhile. */
  async markCanceling(taskId: number, subtask: SubtaskRecord): Promise<void> {
    const path = `subtasks[${subtask.index}]`;
    await this.conditionalUpdate(taskId, {
      UpdateExpression: `SET ${path}.#status = :canceling, ${path}.#operation = :cancel`,
      ConditionExpression: `${path}.#status = :running AND ${path}.runTime = :attempt`,
      ExpressionAttributeNames: { '#status': 'status', '#operation': 'operation' },
      ExpressionAttributeValues: toItem({
        ':canceling': 'CANCELING',
        ':cancel': 'CANCEL',
        ':running': 'RUNNING',
        ':attempt': subtask.runTime,
      }),
    });
  }

  /** Records that a RUNNING task is being handed back to Step Functions (see TaskRecord.resumedAt). */
  async markResumed(taskId: number, resumedAt: string): Promise<void> {
    await this.conditionalUpdate(taskId, {
      UpdateExpression: 'SET resumedAt = :resumedAt',
      ConditionExpression: '#status = :running',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: toItem({ ':resumedAt': resumedAt, ':running': 'RUNNING' }),
    });
  }

  /** Holder of a host's lock, if any. */
  async lockHolder(hostId: number): Promise<number | undefined> {
    return this.taskIdAt(hostLockKey(hostId));
  }

  /**
   * Every host lock, so every running task, from the sparse hostLocks index: its cost grows with the
   * locks, not with the tasks ever recorded. Eventually consistent (a GSI): a lock taken or freed just
   * now may be missing or still listed.
   */
  async hostLocks(): Promise<HostLock[]> {
    const locks: HostLock[] = [];
    const pages = paginateScan(
      { client: dynamodb },
      { TableName: this.tableName, IndexName: TASK_TABLE.hostLocksIndex.name },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const { pk, taskId, since } = unmarshall(item);
        locks.push({ hostId: lockedHostId(String(pk)), taskId: Number(taskId), since: String(since) });
      }
    }
    return locks;
  }

  /**
   * Frees a host's lock if it still names a task that is not RUNNING (or no longer exists), both checked
   * in the one transaction that deletes it: a lock whose task runs is never touched. Returns whether
   * it freed the lock (false: it was already free, taken by another task, or its task runs).
   */
  async releaseLockOfEndedTask(lock: HostLock): Promise<boolean> {
    try {
      await dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: toItem(taskKey(lock.taskId)),
                ConditionExpression: 'attribute_not_exists(pk) OR #status <> :running',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: toItem({ ':running': 'RUNNING' }),
              },
            },
            {
              Delete: {
                TableName: this.tableName,
                Key: toItem(hostLockKey(lock.hostId)),
                ConditionExpression: 'taskId = :taskId',
                ExpressionAttributeValues: toItem({ ':taskId': lock.taskId }),
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      const reasons = error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
      if (reasons.some((reason) => reason.Code === 'ConditionalCheckFailed')) return false;
      throw error;
    }
  }

  /** The task an item that points at one (a host lock, an idempotency key) names, if the item exists. */
  private async taskIdAt(key: { pk: string; sk: string }): Promise<number | undefined> {
    const result = await dynamodb.send(
      new GetItemCommand({ TableName: this.tableName, Key: toItem(key), ConsistentRead: true }),
    );
    return result.Item ? Number(unmarshall(result.Item).taskId) : undefined;
  }

  /**
   * Marks a READY or PENDING subtask of a RUNNING task RUNNING and stores the attempt's task token,
   * before its command is sent. Returns the updated task.
   */
  async beginSubtaskAttempt(
    taskId: number,
    index: number,
    taskToken: string,
    now: string,
  ): Promise<TaskRecord> {
    const subtask = `subtasks[${index}]`;
    try {
      const result = await dynamodb.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: toItem(taskKey(taskId)),
          UpdateExpression: `SET ${subtask}.#status = :running, ${subtask}.startTime = :now, ${subtask}.taskToken = :token REMOVE ${subtask}.endTime, ${subtask}.#error, ${subtask}.commandId`,
          // Or this very attempt, begun by an earlier try of this call whose answer was lost (an SDK
          // retry after a network error): same task token, no command sent yet.
          ConditionExpression: `#taskStatus = :running AND (${subtask}.#status IN (:ready, :pending) OR (${subtask}.#status = :running AND ${subtask}.taskToken = :token AND attribute_not_exists(${subtask}.commandId)))`,
          ExpressionAttributeNames: { '#status': 'status', '#taskStatus': 'status', '#error': 'error' },
          ExpressionAttributeValues: toItem({
            ':running': 'RUNNING',
            ':ready': 'READY',
            ':pending': 'PENDING',
            ':now': now,
            ':token': taskToken,
          }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromTaskItem(unmarshall(result.Attributes ?? {}));
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new StaleRecord(`Task ${taskId} is not running or its subtask ${index} is not ready to run`);
      }
      throw error;
    }
  }

  /** Stores the SSM command of the attempt in progress, so that it can be cancelled. */
  async recordCommand(taskId: number, index: number, attempt: number, commandId: string): Promise<void> {
    const subtask = `subtasks[${index}]`;
    await this.conditionalUpdate(taskId, {
      UpdateExpression: `SET ${subtask}.commandId = :commandId`,
      ConditionExpression: `${subtask}.#status = :running AND ${subtask}.runTime = :attempt`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: toItem({
        ':commandId': commandId,
        ':running': 'RUNNING',
        ':attempt': attempt,
      }),
    });
  }

  /**
   * Records the end of a RUNNING attempt: its status, error and output, and readies the next subtask
   * when it succeeded. One transaction, so the log and the status never disagree.
   */
  async recordSubtaskOutcome(
    taskId: number,
    index: number,
    outcome: {
      attempt: number;
      status: Extract<SubtaskStatus, 'SUCCESSFUL' | 'FAILED'>;
      error?: string;
      endTime: string;
      log?: SubtaskLog;
    },
  ): Promise<TaskRecord> {
    const task = await this.getTask(taskId);
    const current = task?.subtasks[index];
    const inProgress = current?.status === 'RUNNING' || current?.status === 'CANCELING';
    if (!task || !current || !inProgress || current.runTime !== outcome.attempt) {
      throw new StaleRecord(`Subtask ${index} of task ${taskId} is not running`);
    }
    const subtask = `subtasks[${index}]`;
    const hasNext = index + 1 < task.subtasks.length && outcome.status === 'SUCCESSFUL';
    const sets = [`${subtask}.#status = :status`, `${subtask}.endTime = :endTime`];
    if (outcome.error) sets.push(`${subtask}.#error = :error`);
    if (hasNext) sets.push(`subtasks[${index + 1}].#status = :ready`);
    const update = {
      TableName: this.tableName,
      Key: toItem(taskKey(taskId)),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: `${subtask}.#status = :current AND ${subtask}.runTime = :attempt`,
      ExpressionAttributeNames: { '#status': 'status', ...(outcome.error ? { '#error': 'error' } : {}) },
      ExpressionAttributeValues: toItem({
        ':status': outcome.status,
        ':endTime': outcome.endTime,
        ':current': current.status,
        ':attempt': outcome.attempt,
        ...(outcome.error ? { ':error': outcome.error } : {}),
        ...(hasNext ? { ':ready': 'READY' } : {}),
      }),
    };
    try {
      await dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Update: update },
            ...(outcome.log
              ? [
                  {
                    Put: {
                      TableName: this.tableName,
                      Item: toItem({
                        ...subtaskLogKey(taskId, current.id, outcome.log.attempt),
                        ...outcome.log,
                      }),
                    },
                  },
                ]
              : []),
          ],
        }),
      );
    } catch (error) {
      if (error instanceof TransactionCanceledException) {
        throw new StaleRecord(`Subtask ${index} of task ${taskId} changed while its outcome was recorded`);
      }
      throw error;
    }
    const updated = structuredClone(task);
    const record = updated.subtasks[index]!;
    record.status = outcome.status;
    record.endTime = outcome.endTime;
    if (outcome.error) record.error = outcome.error;
    if (hasNext) updated.subtasks[index + 1]!.status = 'READY';
    return updated;
  }

  /**
   * Ends a RUNNING task and releases its host's lock in one transaction. A subtask still RUNNING
   * (the workflow caught a timeout or an error) is marked FAILED with `failure` as its error.
   * With `executionEndedAt`, a task handed back to Step Functions after that instant (retried,
   * skipped, rolled back or resumed: its resumedAt) is left as it is, atomically.
   */
  async finishTask(
    taskId: number,
    status: Extract<TaskStatus, 'SUCCESSFUL' | 'FAILED'>,
    endTime: string,
    failure?: (subtaskIndex: number) => string,
    executionEndedAt?: Date,
  ): Promise<{ task: TaskRecord; interrupted?: SubtaskRecord }> {
    // Several paths may end a task at once (the success state, the status event, the sweep): the
    // first wins; a later one finds the task ended and changes nothing.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.finishTaskOnce(taskId, status, endTime, failure, executionEndedAt);
      } catch (error) {
        if (!(error instanceof StaleRecord) || attempt >= FINISH_ATTEMPTS) throw error;
      }
    }
  }

  private async finishTaskOnce(
    taskId: number,
    status: Extract<TaskStatus, 'SUCCESSFUL' | 'FAILED'>,
    endTime: string,
    failure?: (subtaskIndex: number) => string,
    executionEndedAt?: Date,
  ): Promise<{ task: TaskRecord; interrupted?: SubtaskRecord }> {
    const task = await this.getTask(taskId);
    if (!task) throw new StaleRecord(`Task ${taskId} does not exist`);
    if (task.status !== 'RUNNING' || endedBeforeHandover(task, executionEndedAt)) return { task };
    const interrupted =
      task.subtasks.find((s) => s.status === 'RUNNING' || s.status === 'CANCELING') ??
      (task.subtasks.some((s) => s.status === 'FAILED')
        ? undefined
        : task.subtasks.find((s) => s.status === 'READY'));
    const sets = ['#status = :status', 'endTime = :endTime'];
    const values: Record<string, unknown> = { ':status': status, ':endTime': endTime, ':running': 'RUNNING' };
    if (interrupted && status === 'FAILED') {
      const path = `subtasks[${interrupted.index}]`;
      sets.push(`${path}.#status = :failed`, `${path}.endTime = :endTime`, `${path}.#error = :error`);
      values[':failed'] = 'FAILED';
      values[':error'] = failure?.(interrupted.index) ?? 'Subtask failed: it was interrupted.';
    }
    try {
      await dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: toItem(taskKey(taskId)),
                UpdateExpression: `SET ${sets.join(', ')}`,
                // Not handed back to Step Functions since it was read.
                ConditionExpression: `#status = :running${
                  executionEndedAt === undefined
                    ? ''
                    : task.resumedAt === undefined
                      ? ' AND attribute_not_exists(resumedAt)'
                      : ' AND resumedAt = :resumedAt'
                }`,
                ExpressionAttributeNames: {
                  '#status': 'status',
                  ...(values[':error'] ? { '#error': 'error' } : {}),
                },
                ExpressionAttributeValues: toItem({
                  ...values,
                  ...(executionEndedAt !== undefined && task.resumedAt !== undefined
                    ? { ':resumedAt': task.resumedAt }
                    : {}),
                }),
              },
            },
            {
              Delete: {
                TableName: this.tableName,
                Key: toItem(hostLockKey(task.hostId)),
                ConditionExpression: 'attribute_not_exists(pk) OR taskId = :taskId',
                ExpressionAttributeValues: { ':taskId': { N: String(taskId) } },
              },
            },
            ...counterUpdates(task, { ...task, status }, this.tableName),
          ],
        }),
      );
    } catch (error) {
      if (error instanceof TransactionCanceledException) {
        throw new StaleRecord(`Task ${taskId} changed while it was being finished`);
      }
      throw error;
    }
    return { task: (await this.getTask(taskId)) ?? task, interrupted };
  }

  /** One page of tasks, newest first, and how many match (see TaskList). */
  async listTasks(query: TaskListQuery): Promise<TaskListPage> {
    return this.listing.list(query);
  }

  /** Every recorded attempt's output of a subtask, oldest first. */
  async subtaskLogs(taskId: number, subtaskId: number): Promise<SubtaskLog[]> {
    const logs: SubtaskLog[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await dynamodb.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: toItem({
            ':pk': taskKey(taskId).pk,
            ':prefix': subtaskLogPrefix(subtaskId),
          }),
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const { pk: _pk, sk: _sk, ...log } = unmarshall(item);
        logs.push(log as SubtaskLog);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return logs;
  }

  private async conditionalUpdate(
    taskId: number,
    expression: Pick<
      ConstructorParameters<typeof UpdateItemCommand>[0],
      'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
    >,
  ): Promise<void> {
    try {
      await dynamodb.send(
        new UpdateItemCommand({ TableName: this.tableName, Key: toItem(taskKey(taskId)), ...expression }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new StaleRecord(`Task ${taskId} changed: ${expression.ConditionExpression} no longer holds`);
      }
      throw error;
    }
  }

  private taskItem(task: TaskRecord) {
    return { ...taskKey(task.id), listPk: listPartitionOf(task.startTime), ...task };
  }
}
