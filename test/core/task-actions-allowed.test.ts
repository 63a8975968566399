import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BatchRecord, cancelBatch, retryBatch } from '#core/batch-task';
import { newRestartTask, SUBTASK_STATUSES, TASK_STATUSES, type TaskRecord, toOcpTask } from '#core/task';
import { allowedTaskActions } from '#core/task-actions-allowed';
import { cancelSubtask, retryTask, rollbackTask, skipSubtask } from '#core/task-lifecycle';

const NOW = new Date('2026-11-20T10:00:00.000Z');
const DAY_MS = 24 * 60 * 60 * 1000;

const succeeds = (act: () => unknown) => {
  try {
    act();
    return true;
  } catch {
    return false;
  }
};

const anyTask = fc
  .record({
    status: fc.constantFrom(...TASK_STATUSES),
    operation: fc.constantFrom('EXECUTE', 'RETRY', 'ROLLBACK', 'SKIP', 'CANCEL' as const),
    prohibitRollback: fc.boolean(),
    endedDaysAgo: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
    statuses: fc.array(fc.constantFrom(...SUBTASK_STATUSES), { minLength: 5, maxLength: 5 }),
  })
  .map(({ status, operation, prohibitRollback, endedDaysAgo, statuses }): TaskRecord => {
    const task = newRestartTask({
      firstId: 100,
      hostId: 2,
      creator: 'alice',
      type: 'MANUAL',
      prohibitRollback,
      executionArn: 'arn',
      now: new Date(NOW.getTime() - 40 * DAY_MS),
    });
    return {
      ...task,
      status,
      operation,
      ...(endedDaysAgo === undefined
        ? {}
        : { endTime: new Date(NOW.getTime() - endedDaysAgo * DAY_MS + 1000).toISOString() }),
      subtasks: task.subtasks.map((subtask, i) => ({ ...subtask, status: statuses[i]! })),
    };
  });

describe('allowedTaskActions: what the console offers is what the lifecycle accepts', () => {
  it('offers retry, rollback, skip and cancel exactly when task-lifecycle.ts would do them', () => {
    fc.assert(
      fc.property(anyTask, (task) => {
        const allowed = allowedTaskActions(toOcpTask(task), NOW);

        expect(allowed.retry).toBe(succeeds(() => retryTask(task, NOW)));
        expect(allowed.rollback).toBe(succeeds(() => rollbackTask(task, NOW)));
        expect(allowed.cancel).toBe(false);
        for (const subtask of task.subtasks) {
          expect(allowed.skip.has(subtask.id)).toBe(succeeds(() => skipSubtask(task, subtask.id, NOW)));
          expect(allowed.cancelSubtask.has(subtask.id)).toBe(succeeds(() => cancelSubtask(task, subtask.id)));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('offers a batch retry when it failed and cancel while it runs, as batch-task.ts does', () => {
    for (const status of TASK_STATUSES) {
      const batch = { id: 7, status, startTime: NOW.toISOString(), operation: 'EXECUTE' } as BatchRecord;
      const shown = {
        status,
        operation: 'EXECUTE',
        startTime: batch.startTime,
        context: { stringMap: { prohibit_rollback: 'false' } },
        subtasks: [],
      };
      const allowed = allowedTaskActions(shown, NOW);

      expect(allowed.retry, status).toBe(succeeds(() => retryBatch(batch, [])));
      expect(allowed.cancel, status).toBe(succeeds(() => cancelBatch(batch, [], 'alice', NOW)));
      expect(allowed.rollback).toBe(false);
      expect(allowed.skip.size + allowed.cancelSubtask.size).toBe(0);
    }
  });
});
