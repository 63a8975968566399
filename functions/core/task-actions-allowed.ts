import { isWithinRedriveWindow } from './redrive-window.ts';
import type { Operation, SubtaskStatus, TaskStatus } from './task.ts';

/**
 * When an operator's action on a task is allowed by the task's state: the rules task-lifecycle.ts and
 * batch-task.ts enforce, and the console reads to offer only the actions that can succeed. Pure and
 * free of Node APIs, so the browser bundle can carry it.
 */

/** Index of the subtask a rollback runs: the rollback of a restart is "make sure the agent runs". */
export const ROLLBACK_SUBTASK_INDEX = 3;

/** The status a task must have for each action on it or its subtasks. */
export const ACTION_TASK_STATUS = {
  retry: 'FAILED',
  skip: 'FAILED',
  rollback: 'FAILED',
  cancel: 'RUNNING',
} as const satisfies Record<string, TaskStatus>;

/** The status the subtask acted on must have. */
export const ACTION_SUBTASK_STATUS = {
  skip: 'FAILED',
  cancel: 'RUNNING',
} as const satisfies Record<string, SubtaskStatus>;

/** The status a batch must have for each action on it. */
export const BATCH_ACTION_STATUS = {
  retry: 'FAILED',
  cancel: 'RUNNING',
} as const satisfies Record<string, TaskStatus>;

/** What the rules read of a single-host task. */
export interface LifecycleTask {
  status: TaskStatus;
  operation: Operation;
  startTime: string;
  endTime?: string;
  prohibitRollback: boolean;
}

/** What the rules read of one of its subtasks; `index` is its position in the task. */
export interface LifecycleSubtask {
  id: number;
  index: number;
  status: SubtaskStatus;
}

/** Retry and skip redrive the task's execution: only within the redrive window of its end. */
export function isRedrivable(task: Pick<LifecycleTask, 'startTime' | 'endTime'>, now: Date): boolean {
  return isWithinRedriveWindow(new Date(task.endTime ?? task.startTime), now);
}

/** In a task whose rollback failed, only the rollback's own subtask can be skipped. */
export function isSkippableInOperation(operation: Operation, subtaskIndex: number): boolean {
  return operation !== 'ROLLBACK' || subtaskIndex === ROLLBACK_SUBTASK_INDEX;
}

export function mayRetry(task: LifecycleTask, now: Date): boolean {
  return task.status === ACTION_TASK_STATUS.retry && isRedrivable(task, now);
}

export function mayRollback(task: LifecycleTask): boolean {
  return task.status === ACTION_TASK_STATUS.rollback && !task.prohibitRollback;
}

export function maySkip(task: LifecycleTask, subtask: LifecycleSubtask, now: Date): boolean {
  return (
    task.status === ACTION_TASK_STATUS.skip &&
    subtask.status === ACTION_SUBTASK_STATUS.skip &&
    isSkippableInOperation(task.operation, subtask.index) &&
    isRedrivable(task, now)
  );
}

export function mayCancelSubtask(task: LifecycleTask, subtask: LifecycleSubtask): boolean {
  return task.status === ACTION_TASK_STATUS.cancel && subtask.status === ACTION_SUBTASK_STATUS.cancel;
}

/** The actions a task's state allows at `now`: on the task, and per subtask id. */
export interface AllowedTaskActions {
  retry: boolean;
  rollback: boolean;
  /** Cancel the whole task: batches only (a single-host task cancels its running subtask). */
  cancel: boolean;
  skip: ReadonlySet<number>;
  cancelSubtask: ReadonlySet<number>;
}

/** A task as the API shows it (OcpTask or a batch view), reduced to what the rules read. */
export interface ShownTask {
  status: TaskStatus;
  operation: Operation | string;
  startTime: string;
  endTime?: string;
  hostId?: number;
  context: { stringMap: { prohibit_rollback: string } };
  subtasks: readonly { id: number; status: SubtaskStatus }[];
}

const NOTHING: ReadonlySet<number> = new Set();

/**
 * What the state of a task as the API shows it allows. A batch (no `hostId`) is retried when FAILED and
 * cancelled when RUNNING; its hosts' subtasks are acted on through each host's own task.
 */
export function allowedTaskActions(task: ShownTask, now: Date): AllowedTaskActions {
  if (task.hostId === undefined) {
    return {
      retry: task.status === BATCH_ACTION_STATUS.retry,
      rollback: false,
      cancel: task.status === BATCH_ACTION_STATUS.cancel,
      skip: NOTHING,
      cancelSubtask: NOTHING,
    };
  }
  const lifecycle: LifecycleTask = {
    status: task.status,
    operation: task.operation as Operation,
    startTime: task.startTime,
    ...(task.endTime === undefined ? {} : { endTime: task.endTime }),
    prohibitRollback: task.context.stringMap.prohibit_rollback === 'true',
  };
  const subtasks = task.subtasks.map((subtask, index) => ({ ...subtask, index }));
  return {
    retry: mayRetry(lifecycle, now),
    rollback: mayRollback(lifecycle),
    cancel: false,
    skip: new Set(subtasks.filter((s) => maySkip(lifecycle, s, now)).map((s) => s.id)),
    cancelSubtask: new Set(subtasks.filter((s) => mayCancelSubtask(lifecycle, s)).map((s) => s.id)),
  };
}
