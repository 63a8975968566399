import { SubtaskNotFound, TaskProhibitRollback, TaskStateInvalid } from './errors.ts';
import { subtaskAt } from './subtasks.ts';
import type { SubtaskRecord, TaskRecord } from './task.ts';

/** Index of the subtask a rollback runs: the rollback of a restart is "make sure the agent runs". */
export const ROLLBACK_SUBTASK_INDEX = 3;

/** What an operator can do to a task; each returns the task as it must be recorded before the workflow resumes. */

/** Resume a FAILED task from its failed subtask, keeping the subtasks that succeeded. */
export function retryTask(task: TaskRecord): TaskRecord {
  requireTaskStatus(task, 'FAILED', 'retry');
  return reopen(task, 'RETRY', (subtask) =>
    subtask.status === 'FAILED' ? freshAttempt(subtask, 'RETRY') : subtask,
  );
}

/** Mark a FAILED subtask SUCCESSFUL and go on from the next one. */
export function skipSubtask(task: TaskRecord, subtaskId: number): TaskRecord {
  const target = findSubtask(task, subtaskId);
  requireTaskStatus(task, 'FAILED', 'skip');
  if (target.status !== 'FAILED') throw subtaskStateInvalid('skip', target);
  return reopen(task, 'SKIP', (subtask) => {
    if (subtask.id === target.id) return { ...subtask, status: 'SUCCESSFUL', operation: 'SKIP' };
    if (subtask.index === target.index + 1 && subtask.status === 'PENDING')
      return { ...subtask, status: 'READY' };
    return subtask;
  });
}

/** Bring a FAILED task's host back to a running agent by running "Start all OCP agent processes" again. */
export function rollbackTask(task: TaskRecord): TaskRecord {
  requireTaskStatus(task, 'FAILED', 'rollback');
  if (task.prohibitRollback) throw new TaskProhibitRollback(task.id);
  return reopen(task, 'ROLLBACK', (subtask) =>
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
  change: (subtask: SubtaskRecord) => SubtaskRecord,
): TaskRecord {
  const { endTime: _ended, ...running } = task;
  return { ...running, status: 'RUNNING', operation, subtasks: task.subtasks.map(change) };
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
