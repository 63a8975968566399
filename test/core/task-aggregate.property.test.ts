import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newRestartTask, type SubtaskAttempt, type SubtaskStatus, type TaskRecord } from '#core/task';
import {
  cancelSubtask,
  ROLLBACK_SUBTASK_INDEX,
  retryTask,
  rollbackTask,
  skipSubtask,
} from '#core/task-lifecycle';
import { finishTask, lockChange, markResumed, recordOutcome, startAttempt } from '#core/task-progress';
import { ocpTimestamp } from '#core/time';

/** What can happen to a task, in any order: the workflow's steps, its ends, and operators' actions. */
type TaskEvent =
  | { kind: 'start'; index: number; token: number }
  | { kind: 'commandSent'; index: number }
  | { kind: 'outcome'; index: number; stale: boolean; succeeded: boolean }
  | { kind: 'finish'; succeeded: boolean }
  | { kind: 'retry' }
  | { kind: 'skip'; index: number }
  | { kind: 'rollback' }
  | { kind: 'cancel'; index: number }
  | { kind: 'resume' }
  /** The happy path's step: the next READY subtask runs and succeeds. */
  | { kind: 'step' };

const index = fc.integer({ min: 0, max: 4 });
const taskEvent: fc.Arbitrary<TaskEvent> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('step' as const) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('start' as const),
      index,
      token: fc.integer({ min: 0, max: 2 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('commandSent' as const), index }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('outcome' as const),
      index,
      stale: fc.boolean(),
      succeeded: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('finish' as const), succeeded: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('skip' as const), index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rollback' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resume' as const) }) },
);

/** The task, and what the test knows independently of it: attempts begun per subtask, the lock. */
interface World {
  task: TaskRecord;
  begun: number[];
  attempts: Map<number, SubtaskAttempt>;
  locked: boolean;
  clock: number;
}

function newWorld(prohibitRollback: boolean): World {
  const task = newRestartTask({
    firstId: 10,
    hostId: 1,
    creator: 'alice',
    type: 'MANUAL',
    prohibitRollback,
    executionArn: 'arn',
    now: new Date(0),
  });
  return { task, begun: [0, 0, 0, 0, 0], attempts: new Map(), locked: true, clock: 0 };
}

/** Applies one event as the product would; a refused event (a domain error, or no change) changes nothing. */
function apply(world: World, event: TaskEvent): void {
  world.clock += 1000;
  const now = new Date(world.clock);
  const at = ocpTimestamp(now);
  let next: TaskRecord | undefined;
  try {
    switch (event.kind) {
      case 'start': {
        const token = `token-${event.index}-${event.token}`;
        const start = startAttempt(world.task, event.index, token, world.attempts.get(event.index), now);
        if (start.action === 'begin') {
          next = start.task;
          world.begun[event.index]! += 1;
          world.attempts.set(event.index, {
            taskId: 10,
            subtaskId: 11 + event.index,
            attempt: start.attempt,
            taskToken: token,
          });
        }
        break;
      }
      case 'commandSent': {
        const attempt = world.attempts.get(event.index);
        if (attempt) attempt.commandId = `command-${event.index}-${attempt.attempt}`;
        break;
      }
      case 'outcome': {
        const attempt = world.task.subtasks[event.index]!.runTime - (event.stale ? 1 : 0);
        next = recordOutcome(world.task, {
          index: event.index,
          attempt,
          status: event.succeeded ? 'SUCCESSFUL' : 'FAILED',
          ...(event.succeeded ? {} : { error: 'exit 1' }),
          endTime: at,
        });
        break;
      }
      case 'finish':
        next = finishTask(world.task, {
          status: event.succeeded ? 'SUCCESSFUL' : 'FAILED',
          endTime: at,
          failure: () => 'States.Timeout',
        })?.task;
        break;
      case 'retry':
        next = retryTask(world.task, now);
        break;
      case 'skip':
        next = skipSubtask(world.task, world.task.subtasks[event.index]!.id, now);
        break;
      case 'rollback':
        next = rollbackTask(world.task, now);
        break;
      case 'cancel':
        next = cancelSubtask(world.task, world.task.subtasks[event.index]!.id).task;
        break;
      case 'resume':
        next = markResumed(world.task, now);
        break;
      case 'step': {
        const ready = world.task.subtasks.find((subtask) => subtask.status === 'READY');
        if (!ready) break;
        apply(world, { kind: 'start', index: ready.index, token: 0 });
        apply(world, { kind: 'commandSent', index: ready.index });
        apply(world, { kind: 'outcome', index: ready.index, stale: false, succeeded: true });
        break;
      }
    }
  } catch (error) {
    // Operators' actions refuse what does not fit the task's state, with an OCP error.
    expect((error as Error).name).toMatch(
      /TaskStateInvalid|TaskProhibitRollback|SubtaskNotFound|RedriveWindowClosed/,
    );
    return;
  }
  if (!next) return;
  const lock = lockChange(world.task, next);
  if (lock === 'take') {
    expect(world.locked).toBe(false);
    world.locked = true;
  }
  if (lock === 'release') {
    expect(world.locked).toBe(true);
    world.locked = false;
  }
  world.task = next;
}

const ACTIVE: readonly SubtaskStatus[] = ['READY', 'RUNNING', 'CANCELING'];

function expectConsistent(world: World): void {
  const { task } = world;
  const statuses = task.subtasks.map((subtask) => subtask.status);
  // The lock is held exactly while the task runs.
  expect(world.locked).toBe(task.status === 'RUNNING');
  // At most one attempt runs at a time.
  expect(
    statuses.filter((status) => status === 'RUNNING' || status === 'CANCELING').length,
  ).toBeLessThanOrEqual(1);
  if (task.status === 'RUNNING') {
    expect(task.endTime).toBeUndefined();
  } else {
    // An ended task has nothing left to do, and says when it ended.
    expect(statuses.filter((status) => ACTIVE.includes(status))).toEqual([]);
    expect(task.endTime).toEqual(expect.any(String));
  }
  if (task.status === 'SUCCESSFUL') {
    if (task.operation === 'ROLLBACK') {
      expect(statuses[ROLLBACK_SUBTASK_INDEX]).toBe('SUCCESSFUL');
      expect(statuses.filter((status) => status === 'PENDING')).toEqual([]);
    } else {
      // Only a rollback succeeds with a subtask that did not succeed (and then says ROLLBACK).
      expect(statuses.every((status) => status === 'SUCCESSFUL')).toBe(true);
    }
  }
  if (task.operation !== 'ROLLBACK') expect(statuses).not.toContain('ROLLBACK_SKIP');
  // One subtask fails a run; only a rollback adds a second (the batch view's size rests on this).
  expect(statuses.filter((status) => status === 'FAILED').length).toBeLessThanOrEqual(
    task.operation === 'ROLLBACK' ? 2 : 1,
  );
  task.subtasks.forEach((subtask, i) => {
    expect(subtask.index).toBe(i);
    // runTime counts the attempts that really began: the one on, or the next one if it has not begun.
    expect(subtask.runTime).toBe(world.begun[i]! + (subtask.startTime === undefined ? 1 : 0));
    if (subtask.status === 'FAILED') expect(subtask.error).toEqual(expect.any(String));
    if (subtask.status === 'RUNNING' || subtask.status === 'CANCELING')
      expect(subtask.startTime).toBeDefined();
  });
}

describe('the task aggregate over random sequences of events', () => {
  it('runs the happy path to SUCCESSFUL (the steps the random sequences are made of)', () => {
    const world = newWorld(false);
    for (let i = 0; i < 5; i++) apply(world, { kind: 'step' });
    apply(world, { kind: 'finish', succeeded: true });
    expectConsistent(world);
    expect(world.task.status).toBe('SUCCESSFUL');
    expect(world.begun).toEqual([1, 1, 1, 1, 1]);
  });

  it('keeps every invariant after each event', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(taskEvent, { maxLength: 60, size: 'large' }),
        (prohibitRollback, events) => {
          const world = newWorld(prohibitRollback);
          expectConsistent(world);
          for (const event of events) {
            apply(world, event);
            expectConsistent(world);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('reaches every end: succeeded, failed, and rolled back', () => {
    const ends = new Set<string>();
    fc.assert(
      fc.property(fc.array(taskEvent, { minLength: 10, maxLength: 60, size: 'max' }), (events) => {
        const world = newWorld(false);
        for (const event of events) apply(world, event);
        ends.add(`${world.task.status}/${world.task.operation}`);
      }),
      { numRuns: 2000 },
    );
    expect([...ends].filter((end) => /^SUCCESSFUL\/(EXECUTE|RETRY|SKIP)$/.test(end))).not.toEqual([]);
    expect(ends).toContain('FAILED/EXECUTE');
    expect(ends).toContain('SUCCESSFUL/ROLLBACK');
    expect(ends).toContain('FAILED/ROLLBACK');
  });
});
