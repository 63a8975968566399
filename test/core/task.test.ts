import { describe, expect, it } from 'vitest';
import { RESTART_SUBTASKS } from '#core/subtasks';
import { newRestartTask, toOcpTask } from '#core/task';
import { taskChanges } from '#core/task-changes';
import { referenceRestartResponse } from '../support/reference-sample.ts';

const sample = referenceRestartResponse().data;
const created = toOcpTask(
  newRestartTask({
    firstId: 30208,
    hostId: 2,
    creator: 'admin',
    type: 'MANUAL',
    prohibitRollback: false,
    executionArn: 'arn:aws:states:us-east-1:123456789012:execution:sm:task-30208',
    now: new Date('2021-09-03T06:17:06.328Z'),
  }),
);

/** The shape of a JSON value: object keys and value types, recursively; an array by the set of its items' shapes. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) {
    const shapes = new Set(value.map((item) => JSON.stringify(shape(item))));
    return [...shapes].sort().map((item) => JSON.parse(item));
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, shape((value as Record<string, unknown>)[key])]),
    );
  }
  return typeof value;
}

const byName = <T extends { name?: unknown }>(subtasks: readonly T[], name: string) =>
  subtasks.find((subtask) => subtask.name === name);

describe('a new restart task', () => {
  it('has the same structure as the reference response, field for field', () => {
    expect(shape(created)).toEqual(shape(sample));
  });

  it('carries the reference values that do not depend on the request', () => {
    expect(created).toMatchObject({
      name: sample.name,
      operation: sample.operation,
      status: sample.status,
      type: sample.type,
      taskDefinitionId: sample.taskDefinitionId,
      hostId: 2,
      creator: 'admin',
      context: sample.context,
    });
  });

  it('has the reference subtasks with the same names, classes, timeouts, series and statuses', () => {
    for (const expected of sample.subtasks) {
      const actual = byName(created.subtasks, String(expected.name));
      const { id: _id, upstreams: _up, downstreams: _down, ...fixed } = expected;
      expect(actual).toMatchObject(fixed);
    }
    expect(created.subtasks).toHaveLength(sample.subtasks.length);
  });

  it('chains the subtasks in the reference order through upstreams and downstreams', () => {
    const nameOf = (subtasks: typeof sample.subtasks, id: unknown) =>
      subtasks.find((subtask) => subtask.id === id)?.name;
    for (const expected of sample.subtasks) {
      const actual = byName(created.subtasks, String(expected.name))!;
      expect((actual.upstreams as unknown[]).map((id) => nameOf(created.subtasks as never, id))).toEqual(
        (expected.upstreams as unknown[]).map((id) => nameOf(sample.subtasks, id)),
      );
      expect((actual.downstreams as unknown[]).map((id) => nameOf(created.subtasks as never, id))).toEqual(
        (expected.downstreams as unknown[]).map((id) => nameOf(sample.subtasks, id)),
      );
    }
  });

  it('lists the subtasks in execution order with consecutive fresh ids after the task id', () => {
    expect(created.subtasks.map((subtask) => subtask.name)).toEqual(RESTART_SUBTASKS.map((s) => s.name));
    expect(created.subtasks.map((subtask) => subtask.id)).toEqual([30209, 30210, 30211, 30212, 30213]);
  });

  it('stamps startTime in OCP format with an explicit offset', () => {
    expect(created.startTime).toBe('2021-09-03T06:17:06.328+00:00');
  });

  it('records prohibitRollback in the context and on every subtask', () => {
    const task = toOcpTask(
      newRestartTask({
        firstId: 1,
        hostId: 7,
        creator: 'ops',
        type: 'MANUAL',
        prohibitRollback: true,
        executionArn: 'arn',
        now: new Date(),
      }),
    );
    expect(task.context.stringMap).toEqual({ prohibit_rollback: 'true', host_id: '7' });
    expect(task.subtasks.every((subtask) => subtask.prohibitRollback)).toBe(true);
  });

  it('keeps the reason it was asked for with, as a string in the context', () => {
    const task = newRestartTask({
      firstId: 1,
      hostId: 7,
      creator: 'monitoring',
      type: 'SYS_ONECE',
      prohibitRollback: false,
      reason: 'agent heartbeat lost',
      executionArn: 'arn',
      now: new Date(),
    });

    expect(toOcpTask(task).context.stringMap).toEqual({
      prohibit_rollback: 'false',
      host_id: '7',
      reason: 'agent heartbeat lost',
    });
    expect(taskChanges(undefined, task, 'now')).toEqual([
      expect.objectContaining({ reason: 'agent heartbeat lost' }),
    ]);
    const started = {
      ...task,
      subtasks: task.subtasks.map((subtask, index) =>
        index === 0 ? { ...subtask, status: 'RUNNING' as const } : subtask,
      ),
    };
    expect(taskChanges(task, started, 'later')).toEqual([
      expect.objectContaining({
        reason: 'agent heartbeat lost',
        subtask: expect.objectContaining({ status: 'RUNNING' }),
      }),
    ]);
  });

  it('adds no reason to the context or the changes of a task asked for without one', () => {
    expect(Object.keys(created.context.stringMap)).toEqual(['prohibit_rollback', 'host_id']);
    const task = newRestartTask({
      firstId: 1,
      hostId: 7,
      creator: 'ops',
      type: 'MANUAL',
      prohibitRollback: false,
      executionArn: 'arn',
      now: new Date(),
    });
    expect(taskChanges(undefined, task, 'now')[0]).not.toHaveProperty('reason');
  });
});
