import { IDS_PER_TASK } from '../../functions/core/subtasks.ts';
import { newRestartTask, type TaskRecord } from '../../functions/core/task.ts';
import { finishTask, startAttempt } from '../../functions/core/task-progress.ts';
import { ocpTimestamp } from '../../functions/core/time.ts';
import type { TaskStore } from '../../functions/store/task-store.ts';
import type { WorkflowTaskStore } from '../../functions/store/workflow-task-store.ts';

/** A new restart task of a host, written by the store as the API writes one: the task and its host lock. */
export async function createRestartTask(
  store: TaskStore,
  hostId: number,
  idempotencyKey?: string,
  now: Date = new Date(),
): Promise<TaskRecord> {
  const firstId = await store.allocateIds(IDS_PER_TASK);
  const task = newRestartTask({
    firstId,
    hostId,
    creator: 'alice',
    type: 'MANUAL',
    prohibitRollback: false,
    executionArn: `arn:aws:states:us-east-1:1:execution:sm:task-${firstId}`,
    now,
  });
  await store.createTask(task, idempotencyKey);
  return task;
}

/**
 * Ends a stored RUNNING task as the workflow's end would (finishTask), freeing its host; SUCCESSFUL
 * as after a run that went well (what had still to run succeeded).
 */
export async function endStoredTask(
  store: WorkflowTaskStore,
  taskId: number,
  status: 'SUCCESSFUL' | 'FAILED',
  options: { endTime?: string; failure?: (index: number) => string } = {},
): Promise<TaskRecord> {
  const ending = {
    status,
    endTime: options.endTime ?? ocpTimestamp(new Date()),
    ...pick(options, 'failure'),
  };
  const ran = (task: TaskRecord): TaskRecord =>
    status === 'FAILED'
      ? task
      : {
          ...task,
          subtasks: task.subtasks.map((subtask) =>
            ['READY', 'PENDING', 'RUNNING', 'CANCELING'].includes(subtask.status)
              ? { ...subtask, status: 'SUCCESSFUL' }
              : subtask,
          ),
        };
  const { before, after } = await store.change(taskId, (task) => finishTask(ran(task), ending)?.task);
  return after ?? before;
}

/** Marks a stored subtask RUNNING as run-subtask does (its attempt's task token kept beside it). */
export async function beginStoredAttempt(
  store: WorkflowTaskStore,
  taskId: number,
  index: number,
  taskToken = 'tok',
) {
  const task = (await store.getTask(taskId))!;
  const start = startAttempt(task, index, taskToken, undefined, new Date());
  if (start.action !== 'begin') throw new Error(`Cannot begin subtask ${index}: ${start.action}`);
  await store.putAttempt({ taskId, subtaskId: task.subtasks[index]!.id, attempt: start.attempt, taskToken });
  return store.save(task, start.task);
}

function pick<T extends object, K extends keyof T>(value: T, key: K): Partial<Pick<T, K>> {
  return value[key] === undefined ? {} : ({ [key]: value[key] } as Pick<T, K>);
}

/** Records every subtask of a stored RUNNING task SUCCESSFUL, as a run that went well leaves it. */
export async function succeedEverySubtask(store: TaskStore, taskId: number): Promise<TaskRecord> {
  const task = (await store.getTask(taskId))!;
  return store.save(task, {
    ...task,
    subtasks: task.subtasks.map((subtask) => ({ ...subtask, status: 'SUCCESSFUL' })),
  });
}
