import { RedriveWindowClosed, SubtaskNotFound, TaskProhibitRollback, TaskStateInvalid } from './errors.ts';
import { isWithinRedriveWindow } from './redrive-window.ts';
import { subtaskAt } from './subtasks.ts';
import type { SubtaskRecord, TaskRecord } from './task.ts';
import { ocpTimestamp } from './time.ts';

/** Index of the subtask a rollback runs: the rollback of a restart is "make sure the agent runs". */
export const ROLLBACK_SUBTASK_INDEX = 3;

/**
 * What an operator can do to a task at `now`; each returns the task as it must be recorded before
 * the workflow resumes.
 */

/** Resume a FAILED task from its failed subtask, keeping the subtasks that succeeded (a redrive). */
export function retryTask(task: TaskRecord, now: Date): TaskRecord {
  requireTaskStatus(task, 'FAILED', 'retry');
  requireRedrivable(task, now);
  return reopen(task, 'RETRY', now, (subtask) =>
    subtask.status === 'FAILED' ? freshAttempt(subtask, 'RETRY') : subtask,
  );
}

/** Mark a FAILED subtask SUCCESSFUL and go on from the next one (a redrive). */
export function skipSubtask(task: TaskRecord, subtaskId: number, now: Date): TaskRecord {
  const target = findSubtask(task, subtaskId);
  requireTaskStatus(task, 'FAILED', 'skip');
  if (target.status !== 'FAILED') throw subtaskStateInvalid('skip', target);
  requireRedrivable(task, now);
  return reopen(task, 'SKIP', now, (subtask) => {
    if (subtask.id === target.id) return { ...subtask, status: 'SUCCESSFUL', operation: 'SKIP' };
    if (subtask.index === target.index + 1 && subtask.status === 'PENDING')
      return { ...subtask, status: 'READY' };
    return subtask;
  });
}

/**
 * Bring a FAILED task's host back to a running agent by running "Start all OCP agent processes"
 * again, in an execution of its own (so at any age of the task).
 */
export function rollbackTask(task: TaskRecord, now: Date): TaskRecord {
  requireTaskStatus(task, 'FAILED', 'rollback');
  if (task.prohibitRollback) throw new TaskProhibitRollback(task.id);
  return reopen(task, 'ROLLBACK', now, (subtask) =>
    subtask.index === ROLLBACK_SUBTASK_INDEX ? freshAttempt(subtask, 'ROLLBACK') : subtask,
  );
}

/** Ask a RUNNING subtask to stop: it goes CANCELING and ends FAILED when its command is cancelled. */
export function cancelSubtask(
  task: TaskRecord,
  subtaskId: number,
): { task: TaskRecord; subtask: SubtaskRecord } {
  const target = findSubtask(task, subtaskId);
  requireTaskStatus(task, 'RUNNING', 'cancel');
  if (target.status !== 'RUNNING') throw subtaskStateInvalid('cancel', target);
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
  const endTime = task.endTime ?? task.startTime;
  if (!isWithinRedriveWindow(new Date(endTime), now)) throw new RedriveWindowClosed(task.id, endTime);
}

function freshAttempt(subtask: SubtaskRecord, operation: SubtaskRecord['operation']): SubtaskRecord {
  const { startTime: _s, endTime: _e, error: _error, taskToken: _t, commandId: _c, ...kept } = subtask;
  return { ...kept, status: 'READY', operation, runTime: subtask.runTime + 1 };
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
