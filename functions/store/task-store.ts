import {
  type AttributeValue,
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  paginateScan,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamodb } from '#aws/dynamodb';
import { HostBusy } from '#core/errors';
import type { AttemptOutput } from '#core/subtask-log';
import { type SubtaskAttempt, type SubtaskRecord, subtaskIdOf, type TaskRecord } from '#core/task';
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
  subtaskLogKey,
  subtaskLogPrefix,
  TASK_TABLE,
  taskKey,
  taskListEntryKey,
} from './table-schema.ts';
import { counterUpdates } from './task-counters.ts';
import { fromTaskItem, toListEntry, toTaskItem } from './task-item.ts';
import { type ListedTask, TaskList, type TaskListPage, type TaskListQuery } from './task-list.ts';

const toItem = (value: object) =>
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

/** Reads and conditional writes tried before concurrent changes are reported as StaleRecord. */
const CHANGE_ATTEMPTS = 5;

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

  /**
   * Applies a transition to the task as stored and saves the result, reading again and re-applying it
   * when the task changed in between (several paths may move a task at once: the first wins, a later
   * one re-decides on what it wrote). `after` is undefined when the transition did not apply.
   * `read`: the task as the caller read it already; the first try applies the transition to it instead
   * of reading again (the save's version condition refuses it if it is no longer the stored task).
   * StaleRecord if the task does not exist or kept changing.
   */
  async change(
    taskId: number,
    transition: (task: TaskRecord) => TaskRecord | undefined,
    read?: TaskRecord,
  ): Promise<{ before: TaskRecord; after?: TaskRecord }> {
    for (let attempt = 1; ; attempt++) {
      const before = attempt === 1 && read ? read : await this.getTask(taskId);
      if (!before) throw new StaleRecord(`Task ${taskId} does not exist`);
      const after = transition(before);
      if (!after) return { before };
      try {
        return { before, after: await this.save(before, after) };
      } catch (error) {
        if (!(error instanceof StaleRecord) || attempt >= CHANGE_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Records an attempt's task token before its command is sent; false (nothing written) if that
   * attempt's command was sent already.
   */
  async putAttempt(attempt: SubtaskAttempt): Promise<boolean> {
    try {
      await dynamodb.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem({ ...attemptKey(attempt.taskId, attempt.subtaskId, attempt.attempt), ...attempt }),
          ConditionExpression: 'attribute_not_exists(commandId)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * The task and an attempt of its subtask `index`, read in one consistent BatchGetItem: the attempt's
   * key takes the subtask's id from the task's own (subtaskIdOf). Should the stored subtask have
   * another id, its attempt is read again by that id.
   */
  async taskWithAttempt(
    taskId: number,
    index: number,
    attempt: number,
  ): Promise<{ task?: TaskRecord; attempt?: SubtaskAttempt }> {
    const subtaskId = subtaskIdOf(taskId, index);
    const keys = { task: taskKey(taskId), attempt: attemptKey(taskId, subtaskId, attempt) };
    const items = (
      await getItems(this.tableName, [toItem(keys.task), toItem(keys.attempt)], { consistentRead: true })
    ).map((item) => unmarshall(item));
    const taskItem = items.find((item) => item.sk === keys.task.sk);
    const attemptItem = items.find((item) => item.sk === keys.attempt.sk);
    const task = taskItem ? fromTaskItem(taskItem) : undefined;
    const stored = task?.subtasks[index];
    if (stored && stored.id !== subtaskId)
      return { task, attempt: await this.attempt(taskId, stored.id, attempt) };
    return { task, attempt: attemptItem ? fromAttemptItem(attemptItem) : undefined };
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

  /**
   * Stores the SSM command of an attempt and the instance it went to, so that it can be cancelled
   * and looked up, and its output streams found while it runs.
   */
  async recordCommand(attempt: SubtaskAttempt, commandId: string, instanceId: string): Promise<void> {
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: toItem(attemptKey(attempt.taskId, attempt.subtaskId, attempt.attempt)),
        UpdateExpression: 'SET commandId = :commandId, instanceId = :instanceId',
        ConditionExpression: 'taskToken = :token',
        ExpressionAttributeValues: toItem({
          ':commandId': commandId,
          ':instanceId': instanceId,
          ':token': attempt.taskToken,
        }),
      }),
    );
  }

  /** Stores the output of one attempt of a subtask (its log) once its command ended; the first record stays. */
  async putLog(taskId: number, subtaskId: number, log: SubtaskLog): Promise<void> {
    try {
      await dynamodb.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem({ ...subtaskLogKey(taskId, subtaskId, log.attempt), ...log }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
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

function fromAttemptItem(item: Record<string, unknown>): SubtaskAttempt {
  const { pk: _pk, sk: _sk, ...stored } = item;
  return stored as unknown as SubtaskAttempt;
}
