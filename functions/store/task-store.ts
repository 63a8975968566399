import {
  type AttributeValue,
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamodb } from '#aws/dynamodb';
import { HostBusy } from '#core/errors';
import type { AttemptOutput } from '#core/subtask-log';
import type { SubtaskAttempt, SubtaskRecord, TaskRecord } from '#core/task';
import { lockChange } from '#core/task-progress';
import { ocpTimestamp } from '#core/time';
import { getItems } from './bulk-items.ts';
import {
  attemptKey,
  hostLockKey,
  idCounterKey,
  lockedHostId,
  REQUEST_KEY_TTL_SECONDS,
  requestKey,
  subtaskLogPrefix,
  taskKey,
  taskListEntryKey,
} from './table-schema.ts';
import { counterUpdates } from './task-counters.ts';
import { fromTaskItem, toListEntry, toTaskItem } from './task-item.ts';
import { type ListedTask, TaskList, type TaskListPage, type TaskListQuery } from './task-list.ts';

export const toItem = (value: object) =>
  marshall(value, { removeUndefinedValues: true, convertClassInstanceToMap: false });

export type { ListedTask, TaskListQuery } from './task-list.ts';

/** A host's lock: held by a task while it runs (taken and freed in the transactions that start and end it). */
export interface HostLock {
  hostId: number;
  taskId: number;
  /** When the task took it. */
  since: string;
}

/** Stored output of one attempt of a subtask. */
export type SubtaskLog = AttemptOutput;

/** An idempotency key that already created a task (or a batch: its id). */
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

/**
 * Tasks as the API creates, reads and changes them. What only the workflow and the sweeper write
 * (attempts, logs, lock sweeps) is WorkflowTaskStore's, so that the api function neither bundles nor
 * can call it.
 */
export class TaskStore {
  private readonly listing: TaskList;

  constructor(readonly tableName: string) {
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
                Item: toItem(toTaskItem(task)),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: { TableName: this.tableName, Item: toItem(toListEntry(task)) } },
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
            // Last, so that the cancellation reasons above keep their positions.
            ...counterUpdates(undefined, task, this.tableName),
          ],
        }),
      );
    } catch (error) {
      const reasons = error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
      const [, , lockHolder, earlierRequest] = reasons;
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
          {
            Delete: {
              TableName: this.tableName,
              Key: toItem(taskKey(task.id)),
              ...versionIs(task.version),
            },
          },
          { Delete: { TableName: this.tableName, Key: toItem(taskListEntryKey(task.id)) } },
          ...(idempotencyKey
            ? [{ Delete: { TableName: this.tableName, Key: toItem(requestKey(idempotencyKey)) } }]
            : []),
          this.lockRelease(task),
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
   * Writes `after` over `before` if the stored task is still `before` (its version). When the task starts
   * or stops running (lockChange) the same transaction takes or frees the host's lock and rewrites the
   * task's list entry.
   * StaleRecord if the task changed since it was read; HostBusy if another task holds the host.
   * Returns the task as written (its version counted up).
   */
  async save(before: TaskRecord, after: TaskRecord): Promise<TaskRecord> {
    const saved = { ...after, version: before.version + 1 };
    const put = { TableName: this.tableName, Item: toItem(toTaskItem(saved)), ...versionIs(before.version) };
    const lock = lockChange(before, saved);
    try {
      if (lock === 'keep') {
        await dynamodb.send(new PutItemCommand(put));
      } else {
        await dynamodb.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Put: put },
              { Put: { TableName: this.tableName, Item: toItem(toListEntry(saved)) } },
              lock === 'take' ? this.lockTake(saved) : this.lockRelease(saved),
              ...counterUpdates(before, saved, this.tableName),
            ],
          }),
        );
      }
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException)
        throw new StaleRecord(`Task ${after.id} changed meanwhile`);
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [task, , lockItem] = error.CancellationReasons ?? [];
      if (lockItem?.Code === 'ConditionalCheckFailed' && lockItem.Item) {
        throw new HostBusy(after.hostId, Number(unmarshall(lockItem.Item).taskId));
      }
      if (task?.Code === 'ConditionalCheckFailed')
        throw new StaleRecord(`Task ${after.id} changed meanwhile`);
      throw error;
    }
    return saved;
  }

  /** An attempt's task token and command, if it was begun. */
  async attempt(taskId: number, subtaskId: number, attempt: number): Promise<SubtaskAttempt | undefined> {
    const result = await dynamodb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: toItem(attemptKey(taskId, subtaskId, attempt)),
        ConsistentRead: true,
      }),
    );
    return result.Item ? fromAttemptItem(unmarshall(result.Item)) : undefined;
  }

  /** The SSM command a subtask's current attempt sent, if it sent one. */
  async commandOf(taskId: number, subtask: SubtaskRecord): Promise<string | undefined> {
    return (await this.attempt(taskId, subtask.id, subtask.runTime))?.commandId;
  }

  /** Holder of a host's lock, if any. */
  async lockHolder(hostId: number): Promise<number | undefined> {
    return this.taskIdAt(hostLockKey(hostId));
  }

  /** The task an item that points at one (a host lock, an idempotency key) names, if the item exists. */
  private async taskIdAt(key: { pk: string; sk: string }): Promise<number | undefined> {
    const result = await dynamodb.send(
      new GetItemCommand({ TableName: this.tableName, Key: toItem(key), ConsistentRead: true }),
    );
    const taskId = result.Item ? unmarshall(result.Item).taskId : undefined;
    // An idempotency key may name a batch (batchId) instead: then it names no task.
    return taskId === undefined ? undefined : Number(taskId);
  }

  /** One page of tasks and batches, newest first, and how many match (see TaskList). */
  async listTasks(query: TaskListQuery): Promise<TaskListPage> {
    const page = await this.listing.list(query);
    return { ...page, tasks: await this.withCurrentProgress(page.tasks) };
  }

  /**
   * List entries as the tasks are now: an ended task's entry is exact, a running one is read again. A
   * batch's entry is rewritten with every write of the batch, so it is as the batch is.
   */
  private async withCurrentProgress(entries: ListedTask[]): Promise<ListedTask[]> {
    return Promise.all(
      entries.map(async (entry): Promise<ListedTask> => {
        if (entry.kind === 'batch' || entry.task.status !== 'RUNNING') return entry;
        return { kind: 'task', task: (await this.getTask(entry.task.id)) ?? entry.task };
      }),
    );
  }

  /** The tasks stored under these ids (consistent reads, 100 to a call), by id; a missing one is absent. */
  async getTasks(taskIds: readonly number[]): Promise<Map<number, TaskRecord>> {
    const items = await getItems(
      this.tableName,
      [...new Set(taskIds)].map((id) => toItem(taskKey(id))),
      { consistentRead: true },
    );
    const tasks = items.map((item) => fromTaskItem(unmarshall(item)));
    return new Map(tasks.map((task) => [task.id, task]));
  }

  /** The holders of these hosts' locks (consistent reads, 100 to a call), by host; a free host is absent. */
  async lockHolders(hostIds: readonly number[]): Promise<Map<number, number>> {
    const items = await getItems(
      this.tableName,
      [...new Set(hostIds)].map((hostId) => toItem(hostLockKey(hostId))),
      { consistentRead: true },
    );
    return new Map(
      items.map((stored) => {
        const item = unmarshall(stored);
        return [lockedHostId(String(item.pk)), Number(item.taskId)] as const;
      }),
    );
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

  private lockTake(task: TaskRecord) {
    return {
      Put: {
        TableName: this.tableName,
        Item: toItem({ ...hostLockKey(task.hostId), taskId: task.id, since: ocpTimestamp(new Date()) }),
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    };
  }

  /** Frees the host's lock if this task holds it (or nobody does). */
  private lockRelease(task: TaskRecord) {
    return {
      Delete: {
        TableName: this.tableName,
        Key: toItem(hostLockKey(task.hostId)),
        ConditionExpression: 'attribute_not_exists(pk) OR taskId = :taskId',
        ExpressionAttributeValues: toItem({ ':taskId': task.id }),
      },
    };
  }
}

/** A write conditional on the stored record being `version` (an item from before versions counts as 0). */
export function versionIs(version: number) {
  return version === 0
    ? { ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(version)' }
    : {
        ConditionExpression: 'version = :version',
        ExpressionAttributeValues: toItem({ ':version': version }),
      };
}

export function fromAttemptItem(item: Record<string, unknown>): SubtaskAttempt {
  const { pk: _pk, sk: _sk, ...stored } = item;
  return stored as unknown as SubtaskAttempt;
}
