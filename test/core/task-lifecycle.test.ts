import { describe, expect, it } from 'vitest';
import { RedriveWindowClosed, TaskProhibitRollback, TaskStateInvalid } from '#core/errors';
import { newRestartTask, type SubtaskStatus, type TaskRecord } from '#core/task';
import { cancelSubtask, retryTask, rollbackTask, skipSubtask } from '#core/task-lifecycle';

function taskWith(statuses: SubtaskStatus[], overrides: Partial<TaskRecord> = {}): TaskRecord {
  const task = newRestartTask({
    firstId: 100,
    hostId: 2,
    creator: 'alice',
    type: 'MANUAL',
    prohibitRollback: false,
    executionArn: 'arn',
    now: new Date(0),
  });
  return {
    ...task,
    status: statuses.includes('FAILED') ? 'FAILED' : 'RUNNING',
    endTime: statuses.includes('FAILED') ? ENDED_AT : undefined,
    subtasks: task.subtasks.map((subtask, i) => ({
      ...subtask,
      status: statuses[i]!,
      ...(statuses[i] === 'FAILED' ? { error: 'boom', endTime: 'e', startTime: 's' } : {}),
    })),
    ...overrides,
  };
}

const ENDED_AT = '2026-11-01T10:00:00.000+00:00';
const NOW = new Date('2026-11-02T10:00:00.000Z');
const failedAtStop = () => taskWith(['SUCCESSFUL', 'SUCCESSFUL', 'FAILED', 'PENDING', 'PENDING']);

describe('retryTask', () => {
  it('reruns only the failed subtask as a fresh attempt and keeps the successful ones', () => {
    const retried = retryTask(failedAtStop(), NOW);

    expect(retried).toMatchObject({ status: 'RUNNING', operation: 'RETRY' });
    expect(retried.endTime).toBeUndefined();
    expect(retried.subtasks.map((s) => s.status)).toEqual([
      'SUCCESSFUL',
      'SUCCESSFUL',
      'READY',
      'PENDING',
      'PENDING',
    ]);
    expect(retried.subtasks[2]).toMatchObject({ operation: 'RETRY', runTime: 2 });
    expect(retried.subtasks[2]).not.toHaveProperty('error');
    expect(retried.subtasks[2]).not.toHaveProperty('startTime');
  });

  it('records when it reopened the task, so that the sweep knows a redrive is on its way', () => {
    expect(retryTask(failedAtStop(), NOW).resumedAt).toBe('2026-11-02T10:00:00.000+00:00');
  });

  it('is refused, naming the 14-day window, once the redrive window has passed', () => {
    const lastMoment = new Date(Date.parse(ENDED_AT) + 14 * 86_400_000 - 1);
    const closed = new Date(Date.parse(ENDED_AT) + 14 * 86_400_000);

    expect(retryTask(failedAtStop(), lastMoment).status).toBe('RUNNING');
    expect(() => retryTask(failedAtStop(), closed)).toThrow(RedriveWindowClosed);
    expect(() => retryTask(failedAtStop(), closed)).toThrow(
      /ended at 2026-11-01T10:00:00\.000\+00:00, more than 14 days ago: .*only within 14 days of its end/,
    );
  });

  it('refuses a task that is not FAILED', () => {
    expect(() => retryTask(taskWith(['RUNNING', 'PENDING', 'PENDING', 'PENDING', 'PENDING']), NOW)).toThrow(
      TaskStateInvalid,
    );
  });
});

describe('skipSubtask', () => {
  it('marks the failed subtask SUCCESSFUL with operation SKIP and readies the next', () => {
    const task = failedAtStop();
    const skipped = skipSubtask(task, task.subtasks[2]!.id, NOW);

    expect(skipped).toMatchObject({ status: 'RUNNING', operation: 'SKIP' });
    expect(skipped.subtasks.map((s) => s.status)).toEqual([
      'SUCCESSFUL',
      'SUCCESSFUL',
      'SUCCESSFUL',
      'READY',
      'PENDING',
    ]);
    expect(skipped.subtasks[2]!.operation).toBe('SKIP');
  });

  it('refuses to skip a subtask that did not fail', () => {
    const task = failedAtStop();
    expect(() => skipSubtask(task, task.subtasks[0]!.id, NOW)).toThrow(/SUCCESSFUL state/);
  });

  it('is refused once the redrive window has passed, like retry', () => {
    const task = failedAtStop();
    const closed = new Date(Date.parse(ENDED_AT) + 15 * 86_400_000);
    expect(() => skipSubtask(task, task.subtasks[2]!.id, closed)).toThrow(RedriveWindowClosed);
  });

  it('refuses a subtask of another task', () => {
    expect(() => skipSubtask(failedAtStop(), 1, NOW)).toThrow(/has no subtask 1/);
  });
});

describe('rollbackTask', () => {
  it('runs "Start all OCP agent processes" with operation ROLLBACK; what will not run is ROLLBACK_SKIP', () => {
    const rolledBack = rollbackTask(failedAtStop(), NOW);

    expect(rolledBack).toMatchObject({ status: 'RUNNING', operation: 'ROLLBACK' });
    // It never ran: this is its first attempt.
    expect(rolledBack.subtasks[3]).toMatchObject({ status: 'READY', operation: 'ROLLBACK', runTime: 1 });
    expect(rolledBack.subtasks.map((s) => s.status)).toEqual([
      'SUCCESSFUL',
      'SUCCESSFUL',
      'FAILED',
      'READY',
      'ROLLBACK_SKIP',
    ]);
    expect(rolledBack.subtasks[2]).toMatchObject({ operation: 'EXECUTE', error: 'boom' });
  });

  it('counts a second attempt of "Start all OCP agent processes" when it had run', () => {
    const failedAtFinish = taskWith(['SUCCESSFUL', 'SUCCESSFUL', 'SUCCESSFUL', 'SUCCESSFUL', 'FAILED']);
    failedAtFinish.subtasks[3] = { ...failedAtFinish.subtasks[3]!, startTime: 's', endTime: 'e' };

    const rolledBack = rollbackTask(failedAtFinish, NOW);

    expect(rolledBack.subtasks[3]).toMatchObject({ status: 'READY', operation: 'ROLLBACK', runTime: 2 });
    expect(rolledBack.subtasks[3]).not.toHaveProperty('startTime');
    expect(rolledBack.subtasks[4]!.status).toBe('FAILED');
  });

  it('works after the redrive window too: it starts an execution of its own', () => {
    const late = new Date(Date.parse(ENDED_AT) + 30 * 86_400_000);
    expect(rollbackTask(failedAtStop(), late).resumedAt).toBe(late.toISOString().replace('Z', '+00:00'));
  });

  it('is refused when the task prohibits rollback', () => {
    expect(() => rollbackTask({ ...failedAtStop(), prohibitRollback: true }, NOW)).toThrow(
      TaskProhibitRollback,
    );
  });

  it('is refused for a running task', () => {
    expect(() =>
      rollbackTask(taskWith(['RUNNING', 'PENDING', 'PENDING', 'PENDING', 'PENDING']), NOW),
    ).toThrow(TaskStateInvalid);
  });
});

describe('cancelSubtask', () => {
  it('marks a RUNNING subtask CANCELING with operation CANCEL', () => {
    const task = taskWith(['SUCCESSFUL', 'RUNNING', 'PENDING', 'PENDING', 'PENDING']);
    const { task: canceling, subtask } = cancelSubtask(task, task.subtasks[1]!.id);

    expect(subtask).toMatchObject({ status: 'CANCELING', operation: 'CANCEL' });
    expect(canceling.subtasks[1]!.status).toBe('CANCELING');
    expect(canceling.status).toBe('RUNNING');
  });

  it('refuses a subtask that is not running', () => {
    const task = taskWith(['SUCCESSFUL', 'RUNNING', 'PENDING', 'PENDING', 'PENDING']);
    expect(() => cancelSubtask(task, task.subtasks[2]!.id)).toThrow(/PENDING state/);
  });

  it('refuses a task that is not running', () => {
    const task = failedAtStop();
    expect(() => cancelSubtask(task, task.subtasks[2]!.id)).toThrow(TaskStateInvalid);
  });
});
