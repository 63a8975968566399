import { describe, expect, it } from 'vitest';
import { MAX_TASK_RUN_SECONDS, RESTART_SUBTASKS } from '#core/subtasks';
import { newRestartTask, type TaskRecord } from '#core/task';
import { runningTaskAgeSeconds, runningTaskGauges, taskChangeMetrics } from '#core/task-metrics';

const created = newRestartTask({
  firstId: 10,
  hostId: 3,
  creator: 'alice',
  type: 'MANUAL',
  prohibitRollback: false,
  executionArn: 'arn:aws:states:us-east-1:1:execution:sm:task-10',
  now: new Date('2026-12-01T10:00:00.000Z'),
});
const withSubtask = (task: TaskRecord, index: number, change: Partial<TaskRecord['subtasks'][number]>) => ({
  ...task,
  subtasks: task.subtasks.map((subtask) => (subtask.index === index ? { ...subtask, ...change } : subtask)),
});
const runningFirst = withSubtask(created, 0, {
  status: 'RUNNING',
  startTime: '2026-12-01T10:00:01.000+00:00',
});

describe('taskChangeMetrics', () => {
  it('counts a created task as started', () => {
    expect(taskChangeMetrics(undefined, created)).toEqual([
      { metric: 'restartTaskStarted', value: 1, dimensions: {} },
    ]);
  });

  it('gives an ended attempt its duration by subtask key and outcome', () => {
    const succeeded = withSubtask(runningFirst, 0, {
      status: 'SUCCESSFUL',
      endTime: '2026-12-01T10:00:13.500+00:00',
    });
    expect(taskChangeMetrics(runningFirst, succeeded)).toEqual([
      { metric: 'subtaskDuration', value: 12.5, dimensions: { subtask: 'prepare', outcome: 'SUCCESSFUL' } },
    ]);
  });

  it('counts a failed task with the duration of the subtask that failed it', () => {
    const failed: TaskRecord = {
      ...withSubtask(runningFirst, 0, { status: 'FAILED', endTime: '2026-12-01T10:01:01.000+00:00' }),
      status: 'FAILED',
    };
    expect(taskChangeMetrics(runningFirst, failed)).toEqual([
      { metric: 'subtaskDuration', value: 60, dimensions: { subtask: 'prepare', outcome: 'FAILED' } },
      { metric: 'restartTaskEnded', value: 1, dimensions: { outcome: 'FAILED' } },
    ]);
  });

  it('yields nothing for a subtask an operator skipped, nor for a change that ends nothing', () => {
    const failed: TaskRecord = { ...withSubtask(runningFirst, 0, { status: 'FAILED' }), status: 'FAILED' };
    const skipped = withSubtask(failed, 0, { status: 'SUCCESSFUL', operation: 'SKIP' });
    expect(taskChangeMetrics(failed, { ...skipped, status: 'RUNNING' })).toEqual([]);
    expect(taskChangeMetrics(created, runningFirst)).toEqual([]);
  });
});

describe('running-task gauges', () => {
  const now = new Date('2026-12-01T10:30:00.000Z');

  it('ages a task from its last hand-over to the workflow', () => {
    expect(runningTaskAgeSeconds(created, now)).toBe(1800);
    expect(runningTaskAgeSeconds({ ...created, resumedAt: '2026-12-01T10:29:00.000+00:00' }, now)).toBe(60);
  });

  it('reports the count and the oldest age, 0 when nothing runs', () => {
    expect(runningTaskGauges([], now)).toEqual([
      { metric: 'runningTasks', value: 0, dimensions: {} },
      { metric: 'oldestRunningTaskAge', value: 0, dimensions: {} },
    ]);
    const younger = { ...created, id: 20, startTime: '2026-12-01T10:29:30.000+00:00' };
    expect(runningTaskGauges([younger, created], now)).toEqual([
      { metric: 'runningTasks', value: 2, dimensions: {} },
      { metric: 'oldestRunningTaskAge', value: 1800, dimensions: {} },
    ]);
  });

  it('bounds a run by every subtask timing out in turn', () => {
    expect(MAX_TASK_RUN_SECONDS).toBe(RESTART_SUBTASKS.reduce((sum, s) => sum + s.timeoutSeconds, 0));
    expect(MAX_TASK_RUN_SECONDS).toBe(1380);
  });
});
