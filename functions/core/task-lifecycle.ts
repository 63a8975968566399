import { RedriveWindowClosed, SubtaskNotFound, TaskProhibitRollback, TaskStateInvalid } from './errors.ts';
import { subtaskAt } from './subtasks.ts';
import type { SubtaskRecord, TaskRecord } from './task.ts';
import {
  ACTION_SUBTASK_STATUS,
  ACTION_TASK_STATUS,
  isRedrivable,
  isSkippableInOperation,
  ROLLBACK_SUBTASK_INDEX,
} from './task-actions-allowed.ts';
import { ocpTimestamp } from './time.ts';

export { ROLLBACK_SUBTASK_INDEX };

/**
 * What an operator can do to a task at `now`; each returns the task as it must be recorded before
 * the workflow resumes.
 */

/**
 * Resume a FAILED task from its failed subtask, keeping the subtasks that succeeded (a redrive). A
 * task whose rollback failed retries its rollback: the rest of it is history.
 */
export function retryTask(task: TaskRecord, now: Date): TaskRecord {
  requireTaskStatus(task, ACTION_TASK_STATUS.retry, 'retry');
  requireRedrivable(task, now);
  const rolledBack = task.operation === 'ROLLBACK';
  return reopen(task, rolledBack ? 'ROLLBACK' : 'RETRY', now, (subtask) =>
    subtask.status === 'FAILED' && (!rolledBack || subtask.index === ROLLBACK_SUBTASK_INDEX)
      ? freshAttempt(subtask, rolledBack ? 'ROLLBACK' : 'RETRY')
      : subtask,
  );
}

/**
 * Mark a FAILED subtask SUCCESSFUL and go on from the next one (a redrive). In a task whose rollback
 * failed, only the rollback's subtask can be skipped.
 */
export function skipSubtask(task: TaskRecord, subtaskId: number, now: Date): TaskRecord {
  const target = findSubtask(task, subtaskId);
  requireTaskStatus(task, ACTION_TASK_STATUS.skip, 'skip');
  if (target.status !== ACTION_SUBTASK_STATUS.skip) throw subtaskStateInvalid('skip', target);
  if (!isSkippableInOperation(task.operation, target.index)) {
    throw new TaskStateInvalid(
      'skip',
      `subtask "${subtaskAt(target.index).name}" (${target.id})`,
      'ROLLBACK',
    );
  }
  requireRedrivable(task, now);
  // Skipping the subtask of a failed rollback finishes the rollback: the task stays one.
  return reopen(task, task.operation === 'ROLLBACK' ? 'ROLLBACK' : 'SKIP', now, (subtask) => {
    if (subtask.id === target.id) return { ...subtask, status: 'SUCCESSFUL', operation: 'SKIP' };
    if (subtask.index === target.index + 1 && subtask.status === 'PENDING')
      return { ...subtask, status: 'READY' };
    return subtask;
  });
}

/**
 * Bring a FAILED task's host back to a running agent by running "Start all OCP agent processes"
 * again, in an execution of its own (so at any age of the task). What did not run and now will not
 * is ROLLBACK_SKIP; what ran keeps its status (a failed subtask stays FAILED with its error), so a
 * rolled-back task, SUCCESSFUL with operation ROLLBACK, never claims the agent was restarted.
 */
export function rollbackTask(task: TaskRecord, now: Date): TaskRecord {
  requireTaskStatus(task, ACTION_TASK_STATUS.rollback, 'rollback');
  if (task.prohibitRollback) throw new TaskProhibitRollback(task.id);
  return reopen(task, 'ROLLBACK', now, (subtask) => {
    if (subtask.index === ROLLBACK_SUBTASK_INDEX) return freshAttempt(subtask, 'ROLLBACK');
    if (subtask.status === 'PENDING' || subtask.status === 'READY')
      return { ...subtask, status: 'ROLLBACK_SKIP', operation: 'ROLLBACK' };
    return subtask;
  });
}

/** Ask a RUNNING subtask to stop: it goes CANCELING and ends FAILED when its command is cancelled. */
export function cancelSubtask(
  task: TaskRecord,
  subtaskId: number,
): { task: TaskRecord; subtask: SubtaskRecord } {
  const target = findSubtask(task, subtaskId);
  requireTaskStatus(task, ACTION_TASK_STATUS.cancel, 'cancel');
  if (target.status !== ACTION_SUBTASK_STATUS.cancel) throw subtaskStateInvalid('cancel', target);
  const canceling: SubtaskRecord = { ...target, status: 'CANCELING', operation: 'CANCEL' };
  return {
    task: {
      ...task,
      subtasks: task.subtasks.map((subtask) => (subtask.id === target.id ? canceling : subtask)),
    },
    subtask: canceling,
  };
}

function reopen(
  task: TaskRecord,
  operation: TaskRecord['operation'],
  now: Date,
  change: (subtask: SubtaskRecord) => SubtaskRecord,
): TaskRecord {
  const { endTime: _ended, ...running } = task;
  return {
    ...running,
    status: 'RUNNING',
    operation,
    resumedAt: ocpTimestamp(now),
    subtasks: task.subtasks.map(change),
  };
}

/** A redrive is refused past the window: refuse it before anything is recorded. */
function requireRedrivable(task: TaskRecord, now: Date): void {
  if (!isRedrivable(task, now)) throw new RedriveWindowClosed(task.id, task.endTime ?? task.startTime);
}

/** The subtask's next attempt, READY: its runTime grows only if it has run (it counts real attempts). */
function freshAttempt(subtask: SubtaskRecord, operation: SubtaskRecord['operation']): SubtaskRecord {
  const { startTime, endTime: _e, error: _error, ...kept } = subtask;
  return {
    ...kept,
    status: 'READY',
    operation,
    runTime: subtask.runTime + (startTime === undefined ? 0 : 1),
  };
}

function findSubtask(task: TaskRecord, subtaskId: number): SubtaskRecord {
  const subtask = task.subtasks.find((candidate) => candidate.id === subtaskId);
  if (!subtask) throw new SubtaskNotFound(task.id, subtaskId);
  return subtask;
}

function requireTaskStatus(task: TaskRecord, status: TaskRecord['status'], operation: string): void {
  if (task.status !== status) throw new TaskStateInvalid(operation, `task ${task.id}`, task.status);
}

function subtaskStateInvalid(operation: string, subtask: SubtaskRecord): TaskStateInvalid {
  return new TaskStateInvalid(
    operation,
    `subtask "${subtaskAt(subtask.index).name}" (${subtask.id})`,
    subtask.status,
  );
}
