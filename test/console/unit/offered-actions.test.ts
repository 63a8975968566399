import { describe, expect, it } from 'vitest';
import { offeredActions } from '../../../console/src/offered-actions.ts';
import {
  newRestartTask,
  type SubtaskStatus,
  type TaskStatus,
  toOcpTask,
} from '../../../functions/core/task.ts';

const NOW = new Date('2026-12-01T10:00:00.000Z');
const ALL = new Set(['HOST_MANAGER', 'HOST_VIEWER', 'TASK_MANAGER', 'TASK_VIEWER']);
const VIEWER = new Set(['HOST_VIEWER', 'TASK_VIEWER']);

function task(status: TaskStatus, statuses: SubtaskStatus[], prohibitRollback = false) {
  const record = newRestartTask({
    firstId: 100,
    hostId: 2,
    creator: 'alice',
    type: 'MANUAL',
    prohibitRollback,
    executionArn: 'arn',
    now: new Date(NOW.getTime() - 60_000),
  });
  return toOcpTask({
    ...record,
    status,
    ...(status === 'RUNNING' ? {} : { endTime: NOW.toISOString() }),
    subtasks: record.subtasks.map((subtask, i) => ({ ...subtask, status: statuses[i]! })),
  });
}

const routes = (actions: ReturnType<typeof offeredActions>) =>
  actions.map((action) => `${action.route}${action.subtaskId ? `:${action.subtaskId}` : ''}`);

describe('offeredActions: the state allows it and the caller may call it', () => {
  it('offers a failed task’s retry, rollback and the skip of its failed subtask to a task manager', () => {
    const failed = task('FAILED', ['SUCCESSFUL', 'SUCCESSFUL', 'FAILED', 'PENDING', 'PENDING']);
    expect(routes(offeredActions(failed, ALL, NOW))).toEqual([
      'retryTask',
      'rollbackTask',
      'skipSubtask:103',
    ]);
    expect(offeredActions(failed, ALL, NOW)[0]!.confirmation).toMatch(/Retry task 100/);
  });

  it('offers no rollback when the task prohibits it, and cancel only of the running subtask', () => {
    expect(
      routes(
        offeredActions(
          task('FAILED', ['FAILED', 'PENDING', 'PENDING', 'PENDING', 'PENDING'], true),
          ALL,
          NOW,
        ),
      ),
    ).toEqual(['retryTask', 'skipSubtask:101']);
    expect(
      routes(
        offeredActions(task('RUNNING', ['SUCCESSFUL', 'RUNNING', 'PENDING', 'PENDING', 'PENDING']), ALL, NOW),
      ),
    ).toEqual(['cancelSubtask:102']);
    expect(offeredActions(task('SUCCESSFUL', Array(5).fill('SUCCESSFUL')), ALL, NOW)).toEqual([]);
  });

  it('offers nothing to a viewer, whatever the state', () => {
    expect(
      offeredActions(task('FAILED', ['SUCCESSFUL', 'FAILED', 'PENDING', 'PENDING', 'PENDING']), VIEWER, NOW),
    ).toEqual([]);
    expect(
      offeredActions(task('RUNNING', ['RUNNING', 'PENDING', 'PENDING', 'PENDING', 'PENDING']), VIEWER, NOW),
    ).toEqual([]);
  });

  it('offers a batch its retry when failed and its cancel while running', () => {
    const batch = (status: TaskStatus) => ({
      id: 7,
      status,
      operation: 'EXECUTE',
      startTime: NOW.toISOString(),
      context: { stringMap: { prohibit_rollback: 'false' } },
      subtasks: [],
    });
    expect(routes(offeredActions(batch('FAILED'), ALL, NOW))).toEqual(['retryTask']);
    expect(routes(offeredActions(batch('RUNNING'), ALL, NOW))).toEqual(['cancelTask']);
    expect(offeredActions(batch('RUNNING'), VIEWER, NOW)).toEqual([]);
  });
});
