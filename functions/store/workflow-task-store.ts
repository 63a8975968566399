import {
  ConditionalCheckFailedException,
  PutItemCommand,
  paginateScan,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamodb } from '#aws/dynamodb';
import { type SubtaskAttempt, subtaskIdOf, type TaskRecord } from '#core/task';
import { getItems } from './bulk-items.ts';
import { attemptKey, hostLockKey, lockedHostId, subtaskLogKey, TASK_TABLE, taskKey } from './table-schema.ts';
import { fromTaskItem } from './task-item.ts';
import {
  fromAttemptItem,
  type HostLock,
  StaleRecord,
  type SubtaskLog,
  TaskStore,
  toItem,
} from './task-store.ts';

/** Reads and conditional writes tried before concurrent changes are reported as StaleRecord. */
const CHANGE_ATTEMPTS = 5;

/** The task store of the workflow's functions and the sweeper: TaskStore, and what runs tasks write. */
export class WorkflowTaskStore extends TaskStore {
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
}
