import { describe, expect, it } from 'vitest';
import {
  type BatchHostRecord,
  type BatchRecord,
  cancelBatch,
  hostEnded,
  hostOutcomeOf,
  hostStarted,
  newBatch,
  reservedTaskId,
  waitNodeId,
} from '#core/batch-task';
import { MAX_BATCH_VIEW_ERROR_LENGTH, toOcpBatchListing, toOcpBatchTask } from '#core/batch-task-view';
import { successEnvelope } from '#core/envelope';
import type { RolloutSettings } from '#core/rollout';
import { newRestartTask, type TaskRecord } from '#core/task';
import { rollbackTask } from '#core/task-lifecycle';
import { MAX_SUBTASK_ERROR_LENGTH, MAX_USERNAME_LENGTH } from '#core/task-limits';
import { finishTask, recordOutcome, startAttempt } from '#core/task-progress';
import { ocpTimestamp } from '#core/time';
import { referenceRestartResponse } from '../support/reference-sample.ts';

/** Lambda's limit on a synchronous invocation's response: the handler's result as JSON. */
const LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024;

const T0 = new Date('2021-09-03T06:17:06.328Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const ROLLOUT: RolloutSettings = {
  maxConcurrency: 2,
  maxErrors: 0,
  healthCheckSeconds: 0,
  asked: { maxConcurrency: '2', maxErrors: '0' },
};

function batchOf(hostIds: number[]) {
  return newBatch({
    firstId: 30208,
    hostIds,
    creator: 'admin',
    type: 'MANUAL',
    prohibitRollback: false,
    rollout: ROLLOUT,
    executor: 'arn:aws:states:us-east-1:123456789012:execution:batch:batch-30208',
    now: T0,
  });
}

function hostTask(batch: BatchRecord, host: BatchHostRecord, firstId = reservedTaskId(batch, host.index)) {
  return newRestartTask({
    firstId,
    hostId: host.hostId,
    creator: 'admin',
    type: 'MANUAL',
    prohibitRollback: false,
    executionArn: `arn:aws:states:us-east-1:123456789012:execution:sm:task-${firstId}`,
    now: at(1),
  });
}

/** Runs subtask `index` of a running task to its outcome. */
function run(task: TaskRecord, index: number, error?: string): TaskRecord {
  const start = startAttempt(task, index, `token-${index}`, undefined, at(2));
  if (start.action !== 'begin') throw new Error(`subtask ${index} did not begin: ${start.action}`);
  const ended = recordOutcome(start.task, {
    index,
    attempt: start.attempt,
    status: error === undefined ? 'SUCCESSFUL' : 'FAILED',
    ...(error === undefined ? {} : { error }),
    endTime: ocpTimestamp(at(3)),
  });
  if (!ended) throw new Error(`subtask ${index} did not end`);
  return ended;
}

function failedAt(task: TaskRecord, index: number, error: string): TaskRecord {
  let current = task;
  for (let i = 0; i < index; i++) current = run(current, i);
  current = run(current, index, error);
  return finishTask(current, { status: 'FAILED', endTime: ocpTimestamp(at(4)) })!.task;
}

const ids = (subtasks: readonly { id: number }[]) => subtasks.map((subtask) => subtask.id);

describe('the OCP view of a new batch', () => {
  const { batch, hosts } = batchOf([2, 5]);
  const view = toOcpBatchTask(batch, hosts, new Map());

  it("is OCP's batch task: its name, operation, status and context, without a host of its own", () => {
    expect(view).toMatchObject({
      name: 'Batch restart OCP agent',
      operation: 'EXECUTE',
      status: 'RUNNING',
      creator: 'admin',
      executor: batch.executor,
      id: 30208,
      startTime: '2021-09-03T06:17:06.328+00:00',
      taskDefinitionId: -1,
      type: 'MANUAL',
    });
    expect(view.context).toEqual({
      listMap: { host_ids: ['2', '5'] },
      parallel: false,
      parallelIdx: -1,
      stringMap: { prohibit_rollback: 'false' },
    });
    expect(view).not.toHaveProperty('hostId');
    expect(view).not.toHaveProperty('endTime');
  });

  it("gives each host the single-host task's five subtasks, as OCP's sample shows them", () => {
    const definition = (subtask: Record<string, unknown>) =>
      JSON.stringify([
        subtask.name,
        subtask.description,
        subtask.className,
        subtask.nodeType,
        subtask.timeout,
        subtask.seriesId,
      ]);
    const sample = referenceRestartResponse().data.subtasks.map(definition).sort();
    for (const parallelIdx of [0, 1]) {
      const chain = view.subtasks.filter((subtask) => subtask.parallelIdx === parallelIdx);
      expect(chain.map((subtask) => definition({ ...subtask })).sort()).toEqual(sample);
    }
  });

  it('readies the first subtask of each chain and leaves the rest PENDING, each on its first run', () => {
    const chain = view.subtasks.filter((subtask) => subtask.parallelIdx === 1);
    expect(chain.map((subtask) => subtask.status)).toEqual([
      'READY',
      'PENDING',
      'PENDING',
      'PENDING',
      'PENDING',
    ]);
    expect(chain.every((subtask) => subtask.runTime === 1 && subtask.operation === 'EXECUTE')).toBe(true);
  });

  it("chains each host's subtasks in order on the ids reserved for its task, into the Wait node", () => {
    const chain = view.subtasks.filter((subtask) => subtask.parallelIdx === 1);
    const first = reservedTaskId(batch, 1) + 1;
    expect(ids(chain)).toEqual([first, first + 1, first + 2, first + 3, first + 4]);
    expect(chain.map((subtask) => subtask.upstreams)).toEqual([
      [],
      [first],
      [first + 1],
      [first + 2],
      [first + 3],
    ]);
    expect(chain.map((subtask) => subtask.downstreams)).toEqual([
      [first + 1],
      [first + 2],
      [first + 3],
      [first + 4],
      [waitNodeId(batch)],
    ]);
  });

  it('joins the chains with one Wait node after them all', () => {
    expect(view.subtasks.at(-1)).toEqual({
      className: 'com.alipay.ocp.service.task.business.WaitNode',
      description: 'Wait node',
      downstreams: [],
      id: waitNodeId(batch),
      name: 'Wait node',
      nodeType: 'JAVA_TASK',
      operation: 'EXECUTE',
      parallelIdx: -1,
      prohibitRollback: false,
      runTime: 1,
      seriesId: -1,
      status: 'PENDING',
      timeout: 30,
      upstreams: [reservedTaskId(batch, 0) + 5, reservedTaskId(batch, 1) + 5],
    });
  });

  it('has ids unique within the batch', () => {
    const all = [view.id, ...ids(view.subtasks)];
    expect(new Set(all).size).toBe(all.length);
    expect(view.subtasks).toHaveLength(2 * 5 + 1);
  });

  it('lists each host, in the order of the request', () => {
    expect(view.hosts).toEqual([
      { hostId: 2, status: 'PENDING' },
      { hostId: 5, status: 'PENDING' },
    ]);
  });

  it('shows the rollout settings', () => {
    expect(view.rollout).toEqual(ROLLOUT);
  });
});

describe('the OCP view of a batch under way', () => {
  it("mirrors a started host's task: its ids, statuses, runs, times and error", () => {
    const { batch, hosts } = batchOf([2, 5]);
    const host = hostStarted(batch, hosts, 0, reservedTaskId(batch, 0), at(1))!;
    const task = run(run(hostTask(batch, host), 0), 1, 'Subtask failed: exit 1');
    const view = toOcpBatchTask(batch, [host, hosts[1]!], new Map([[task.id, task]]));
    const chain = view.subtasks.filter((subtask) => subtask.parallelIdx === 0);
    expect(ids(chain)).toEqual(ids(task.subtasks));
    expect(chain.map((subtask) => subtask.status)).toEqual([
      'SUCCESSFUL',
      'FAILED',
      'PENDING',
      'PENDING',
      'PENDING',
    ]);
    expect(chain[1]).toMatchObject({
      runTime: 1,
      startTime: ocpTimestamp(at(2)),
      endTime: ocpTimestamp(at(3)),
      error: 'Subtask failed: exit 1',
    });
    expect(view.hosts[0]).toEqual({ hostId: 2, status: 'RUNNING', taskId: task.id });
  });

  it("uses the ids of a host's task that is not the one reserved, keeping every id unique", () => {
    const { batch, hosts } = batchOf([2, 5]);
    const host = hostStarted(batch, hosts, 1, 90_000, at(1))!;
    const task = hostTask(batch, host, 90_000);
    const view = toOcpBatchTask(batch, [hosts[0]!, host], new Map([[task.id, task]]));
    expect(ids(view.subtasks.filter((subtask) => subtask.parallelIdx === 1))).toEqual(ids(task.subtasks));
    const all = ids(view.subtasks);
    expect(new Set(all).size).toBe(all.length);
  });

  it("shows a host's failure: the subtask's name, the error and the task", () => {
    const { batch, hosts } = batchOf([2]);
    const running = hostStarted(batch, hosts, 0, reservedTaskId(batch, 0), at(1))!;
    const task = failedAt(hostTask(batch, running), 2, 'Subtask failed: the agent did not stop');
    const host = hostEnded(running, hostOutcomeOf(task)!)!;
    expect(toOcpBatchTask(batch, [host], new Map([[task.id, task]])).hosts).toEqual([
      {
        hostId: 2,
        status: 'FAILED',
        taskId: task.id,
        failedSubtask: 'Stop all OCP agent processes',
        error: 'Subtask failed: the agent did not stop',
      },
    ]);
  });

  it('cuts long errors to the view bound, the full text staying in the host task', () => {
    const { batch, hosts } = batchOf([2]);
    const running = hostStarted(batch, hosts, 0, reservedTaskId(batch, 0), at(1))!;
    const task = failedAt(hostTask(batch, running), 0, `Subtask failed: ${'x'.repeat(5000)}`);
    const host = hostEnded(running, hostOutcomeOf(task)!)!;
    const view = toOcpBatchTask(batch, [host], new Map([[task.id, task]]));
    expect(view.subtasks[0]?.error).toHaveLength(MAX_BATCH_VIEW_ERROR_LENGTH);
    expect(view.subtasks[0]?.error).toMatch(/^Subtask failed: x+ … x+$/);
    expect(view.hosts[0]?.error).toHaveLength(MAX_BATCH_VIEW_ERROR_LENGTH);
  });

  it('shows no error on a subtask that is no longer FAILED', () => {
    const { batch, hosts } = batchOf([2]);
    const running = hostStarted(batch, hosts, 0, reservedTaskId(batch, 0), at(1))!;
    const failed = failedAt(hostTask(batch, running), 0, 'exit 1');
    const skipped: TaskRecord = {
      ...failed,
      subtasks: failed.subtasks.map((s) =>
        s.index === 0 ? { ...s, status: 'SUCCESSFUL', operation: 'SKIP' } : s,
      ),
    };
    const view = toOcpBatchTask(batch, [running], new Map([[skipped.id, skipped]]));
    expect(view.subtasks[0]).not.toHaveProperty('error');
  });

  it('leaves the chains of hosts that will not start PENDING, saying why in their summary', () => {
    const { batch, hosts } = batchOf([2, 5]);
    const running = hostStarted(batch, hosts, 0, reservedTaskId(batch, 0), at(1))!;
    const canceled = cancelBatch(batch, [running, hosts[1]!], 'bob', at(5));
    const view = toOcpBatchTask(canceled.batch, [running, ...canceled.hosts], new Map());
    const chain = view.subtasks.filter((subtask) => subtask.parallelIdx === 1);
    expect(chain.every((subtask) => subtask.status === 'PENDING')).toBe(true);
    expect(view.operation).toBe('CANCEL');
    expect(view.hosts[1]).toEqual({
      hostId: 5,
      status: 'CANCELED',
      reason: 'Canceled by bob at 2021-09-03T06:17:11.328+00:00, before it started.',
    });
  });

  it('completes the Wait node when the batch succeeded', () => {
    const { batch, hosts } = batchOf([2]);
    const done: BatchRecord = { ...batch, status: 'SUCCESSFUL', endTime: ocpTimestamp(at(90)) };
    const view = toOcpBatchTask(done, hosts, new Map());
    expect(view.endTime).toBe(ocpTimestamp(at(90)));
    expect(view.subtasks.at(-1)).toMatchObject({
      status: 'SUCCESSFUL',
      startTime: ocpTimestamp(at(90)),
      endTime: ocpTimestamp(at(90)),
    });
  });
});

describe('the OCP view of the largest batch', () => {
  /**
   * 1,000 hosts, each failed as far as the task rules allow: a subtask failed, then its rollback failed
   * (two FAILED subtasks, the most a task can hold), every error at its bound in the character JSON
   * escapes most once the body is itself encoded in Lambda's response (a quote: 4 bytes); every number
   * at its widest, the creator at its longest.
   */
  function largestBatch() {
    const quoteError = '"'.repeat(MAX_SUBTASK_ERROR_LENGTH);
    const firstId = Number.MAX_SAFE_INTEGER - 10_000;
    const { batch, hosts } = newBatch({
      firstId,
      hostIds: Array.from({ length: 1000 }, (_, i) => Number.MAX_SAFE_INTEGER - i),
      creator: '"'.repeat(MAX_USERNAME_LENGTH),
      type: 'SYS_SCHEDULED',
      prohibitRollback: false,
      rollout: {
        maxConcurrency: 1000,
        maxErrors: 1000,
        healthCheckSeconds: 600,
        asked: { maxConcurrency: '100%', maxErrors: '100%' },
      },
      executor: `arn:aws-us-gov:states:ap-southeast-3:123456789012:execution:${'m'.repeat(80)}:batch-${firstId}`,
      now: T0,
    });
    const tasks = new Map<number, TaskRecord>();
    const ended = hosts.map((pending) => {
      const running = hostStarted(batch, hosts, pending.index, reservedTaskId(batch, pending.index), at(1))!;
      const failed = failedAt(hostTask(batch, running), 2, quoteError);
      const rolledBack = finishTask(run(rollbackTask(failed, at(5)), 3, quoteError), {
        status: 'FAILED',
        endTime: ocpTimestamp(at(6)),
      })!.task;
      tasks.set(rolledBack.id, rolledBack);
      return { ...hostEnded(running, hostOutcomeOf(rolledBack)!)!, version: Number.MAX_SAFE_INTEGER };
    });
    return {
      batch: { ...batch, status: 'FAILED' as const, endTime: ocpTimestamp(at(7)) },
      hosts: ended,
      tasks,
    };
  }

  it("fits Lambda's 6 MB response with a tenth to spare, with errors at their bound", () => {
    const { batch, hosts, tasks } = largestBatch();
    const view = toOcpBatchTask(batch, hosts, tasks);
    expect(
      view.subtasks.filter((subtask) => subtask.error?.length === MAX_BATCH_VIEW_ERROR_LENGTH),
    ).toHaveLength(2000);
    expect(view.hosts.every((host) => host.error?.length === MAX_BATCH_VIEW_ERROR_LENGTH)).toBe(true);
    const envelope = successEnvelope({ traceId: 'f'.repeat(32), server: 's'.repeat(64), startedAt: 0 }, view);
    const response = {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(envelope),
    };
    // About 5.3 MB: the subtasks' fixed fields take 2.9 MB of it, the errors 2.4 MB.
    expect(Buffer.byteLength(JSON.stringify(response))).toBeLessThan(LAMBDA_RESPONSE_LIMIT * 0.9);
  });
});

describe('a batch as a listing shows it', () => {
  it('has the batch’s fields, its rollout and number of hosts, and neither subtasks nor hosts', () => {
    const { batch } = batchOf([1, 2, 3]);

    const listed = toOcpBatchListing(batch);

    const view = toOcpBatchTask(batch, [], new Map());
    const { subtasks: _subtasks, hosts: _hosts, context, ...fields } = view;
    expect(listed).toEqual({
      ...fields,
      context: { ...context, listMap: {} },
      subtasks: [],
      hostCount: 3,
    });
  });

  it('keeps a page of 100 of the largest batches far within a Lambda response', () => {
    const { batch } = newBatch({
      firstId: Number.MAX_SAFE_INTEGER - 10_000,
      hostIds: Array.from({ length: 1000 }, (_, i) => Number.MAX_SAFE_INTEGER - i),
      creator: '"'.repeat(MAX_USERNAME_LENGTH),
      type: 'SYS_SCHEDULED',
      prohibitRollback: false,
      rollout: ROLLOUT,
      executor: `arn:aws-us-gov:states:ap-southeast-3:123456789012:execution:${'m'.repeat(80)}:batch-1`,
      now: T0,
    });
    const page = Array.from({ length: 100 }, () =>
      toOcpBatchListing({ ...batch, endTime: ocpTimestamp(T0) }),
    );

    expect(Buffer.byteLength(JSON.stringify(JSON.stringify(page)))).toBeLessThan(LAMBDA_RESPONSE_LIMIT / 20);
  });
});
