import { subtaskAt } from './subtasks.ts';
import type { Operation, SubtaskStatus, TaskRecord, TaskStatus } from './task.ts';

/** One status change of a task or of one of its subtasks. */
export interface TaskChange {
  taskId: number;
  hostId: number;
  /** The task's status after the change. */
  status: TaskStatus;
  operation: Operation;
  /** The task's reason, when the restart was asked for with one. */
  reason?: string;
  /** Present when a subtask changed. */
  subtask?: {
    id: number;
    name: string;
    index: number;
    status: SubtaskStatus;
    previousStatus?: SubtaskStatus;
    operation: Operation;
    runTime: number;
    error?: string;
  };
  /** The task's status before the change, for a task-level change; absent when the task was created. */
  previousStatus?: TaskStatus;
  at: string;
}

/**
 * The status changes between two versions of a task record, in the order they happened: subtasks
 * first (in execution order), then the task itself. A new task yields one change (created).
 */
export function taskChanges(before: TaskRecord | undefined, after: TaskRecord, at: string): TaskChange[] {
  const base = {
    taskId: after.id,
    hostId: after.hostId,
    status: after.status,
    operation: after.operation,
    ...(after.reason ? { reason: after.reason } : {}),
    at,
  };
  if (!before) return [base];
  const changes: TaskChange[] = [];
  for (const subtask of after.subtasks) {
    const previous = before.subtasks[subtask.index];
    if (previous?.status === subtask.status && previous.runTime === subtask.runTime) continue;
    changes.push({
      ...base,
      subtask: {
        id: subtask.id,
        name: subtaskAt(subtask.index).name,
        index: subtask.index,
        status: subtask.status,
        ...(previous ? { previousStatus: previous.status } : {}),
        operation: subtask.operation,
        runTime: subtask.runTime,
        ...(subtask.error ? { error: subtask.error } : {}),
      },
    });
  }
  if (before.status !== after.status || before.operation !== after.operation) {
    changes.push({ ...base, previousStatus: before.status });
  }
  return changes;
}
