import { describe, expect, it } from 'vitest';
import {
  BATCH_TASK_NAME,
  type BatchHostRecord,
  type BatchRecord,
  batchOutcome,
  cancelBatch,
  countHosts,
  hostEnded,
  hostNotStarted,
  hostOutcomeOf,
  hostStarted,
  hostsNeverReached,
  hostsStoppedByThreshold,
  hostsToStart,
  idsPerBatch,
  newBatch,
  ROLLOUT_ENDED_REASON,
  reservedTaskId,
  retryBatch,
  rolloutEndedReason,
  waitNodeId,
} from '#core/batch-task';
import { TaskStateInvalid } from '#core/errors';
import type { RolloutSettings } from '#core/rollout';
import { newRestartTask, type TaskRecord } from '#core/task';
import { MAX_SUBTASK_ERROR_LENGTH, MAX_USERNAME_LENGTH } from '#core/task-limits';
import { ocpTimestamp } from '#core/time';

const T0 = new Date('2026-01-05T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const rollout = (maxConcurrency: number, maxErrors: number): RolloutSettings => ({
  maxConcurrency,
  maxErrors,
  healthCheckSeconds: 0,
  asked: { maxConcurrency: String(maxConcurrency), maxErrors: String(maxErrors) },
});

function batchOf(hostIds: number[], settings = rollout(2, 0)) {
  return newBatch({
    firstId: 1000,
    hostIds,
    creator: 'alice',
    type: 'MANUAL',
    prohibitRollback: false,
    rollout: settings,
    executor: 'arn:aws:states:us-east-1:1:execution:batch:batch-1000',
    now: T0,
  });
}

/** The hosts with `changed` written over them. */
function written(hosts: readonly BatchHostRecord[], ...changed: (BatchHostRecord | undefined)[]) {
  return hosts.map((host) => changed.find((c) => c?.index === host.index) ?? host);
}

function started(batch: BatchRecord, hosts: BatchHostRecord[], index: number) {
  const host = hostStarted(batch, hosts, index, reservedTaskId(batch, index), at(1));
  if (!host) throw new Error(`host ${index} did not start`);
  return written(hosts, host);
}

function ended(hosts: BatchHostRecord[], index: number, succeeded: boolean) {
  const host = hosts[index]!;
  const outcome = succeeded
    ? { status: 'SUCCESSFUL' as const, taskId: host.taskId!, endTime: ocpTimestamp(at(60)) }
    : {
        status: 'FAILED' as const,
        taskId: host.taskId!,
        endTime: ocpTimestamp(at(60)),
        failedSubtask: 2,
        error: 'exit 1',
      };
  return written(hosts, hostEnded(host, outcome));
}

describe('newBatch', () => {
  it('starts RUNNING with every host PENDING, in the order given', () => {
    const { batch, hosts } = batchOf([30, 10, 20]);
    expect(batch).toEqual({
      id: 1000,
      version: 1,
      name: BATCH_TASK_NAME,
      status: 'RUNNING',
      operation: 'EXECUTE',
      type: 'MANUAL',
      creator: 'alice',
      executor: 'arn:aws:states:us-east-1:1:execution:batch:batch-1000',
      startTime: '2026-01-05T10:00:00.000+00:00',
      rollout: rollout(2, 0),
      prohibitRollback: false,
      hostCount: 3,
    });
    expect(hosts).toEqual([
      { batchId: 1000, index: 0, hostId: 30, version: 1, status: 'PENDING' },
      { batchId: 1000, index: 1, hostId: 10, version: 1, status: 'PENDING' },
      { batchId: 1000, index: 2, hostId: 20, version: 1, status: 'PENDING' },
    ]);
  });

  it('refuses a batch of no host', () => {
    expect(() => batchOf([])).toThrow(RangeError);
  });

  it("reserves each host's task ids and the Wait node's after the batch's own", () => {
    const { batch } = batchOf([1, 2, 3]);
    expect(idsPerBatch(3)).toBe(1 + 3 * 6 + 1);
    expect([0, 1, 2].map((index) => reservedTaskId(batch, index))).toEqual([1001, 1007, 1013]);
    expect(waitNodeId(batch)).toBe(1019);
    expect(waitNodeId(batch)).toBe(batch.id + idsPerBatch(3) - 1);
  });
});

describe('starting hosts', () => {
  it('offers the PENDING hosts in order, as many as maxConcurrency allows', () => {
    const { batch, hosts } = batchOf([1, 2, 3, 4], rollout(2, 0));
    expect(hostsToStart(batch, hosts).map((host) => host.index)).toEqual([0, 1]);
    const afterOne = started(batch, hosts, 0);
    expect(hostsToStart(batch, afterOne).map((host) => host.index)).toEqual([1]);
  });

  it('records the task and the time a host started', () => {
    const { batch, hosts } = batchOf([1, 2]);
    expect(hostStarted(batch, hosts, 1, 1007, at(5))).toEqual({
      batchId: 1000,
      index: 1,
      hostId: 2,
      version: 1,
      status: 'RUNNING',
      taskId: 1007,
      startTime: '2026-01-05T10:00:05.000+00:00',
    });
  });

  it('starts no host beyond maxConcurrency', () => {
    const { batch, hosts } = batchOf([1, 2, 3], rollout(2, 0));
    const two = started(batch, started(batch, hosts, 0), 1);
    expect(hostStarted(batch, two, 2, 1013, at(2))).toBeUndefined();
  });

  it('starts a host again only from PENDING', () => {
    const { batch, hosts } = batchOf([1, 2]);
    expect(hostStarted(batch, started(batch, hosts, 0), 0, 1001, at(2))).toBeUndefined();
  });

  it('starts no host once the failures exceed maxErrors', () => {
    const { batch, hosts } = batchOf([1, 2, 3], rollout(1, 0));
    const failed = ended(started(batch, hosts, 0), 0, false);
    expect(hostsToStart(batch, failed)).toEqual([]);
    expect(hostStarted(batch, failed, 1, 1007, at(61))).toBeUndefined();
  });

  it('goes on while the failures are within maxErrors', () => {
    const { batch, hosts } = batchOf([1, 2, 3], rollout(1, 1));
    const failed = ended(started(batch, hosts, 0), 0, false);
    expect(hostStarted(batch, failed, 1, 1007, at(61))).toMatchObject({ status: 'RUNNING' });
  });
});

describe('a host that ends', () => {
  it('records a success', () => {
    const { batch, hosts } = batchOf([1]);
    const after = ended(started(batch, hosts, 0), 0, true);
    expect(after[0]).toMatchObject({ status: 'SUCCESSFUL', taskId: 1001, endTime: ocpTimestamp(at(60)) });
  });

  it('records a failure with the subtask and the error', () => {
    const { batch, hosts } = batchOf([1]);
    const after = ended(started(batch, hosts, 0), 0, false);
    expect(after[0]).toMatchObject({ status: 'FAILED', failedSubtask: 2, error: 'exit 1' });
  });

  it('keeps an error within the bound of a subtask error', () => {
    const { batch, hosts } = batchOf([1]);
    const running = started(batch, hosts, 0)[0]!;
    const host = hostEnded(running, {
      status: 'FAILED',
      taskId: 1001,
      endTime: 'x',
      error: 'e'.repeat(5000),
    });
    expect(host?.error).toHaveLength(MAX_SUBTASK_ERROR_LENGTH);
  });

  it("ignores the end of another task than the host's", () => {
    const { batch, hosts } = batchOf([1]);
    const running = started(batch, hosts, 0)[0]!;
    expect(hostEnded(running, { status: 'SUCCESSFUL', taskId: 99, endTime: 'x' })).toBeUndefined();
  });

  it('ignores an end reported twice', () => {
    const { batch, hosts } = batchOf([1]);
    const done = ended(started(batch, hosts, 0), 0, true)[0]!;
    expect(hostEnded(done, { status: 'FAILED', taskId: 1001, endTime: 'x', error: 'late' })).toBeUndefined();
  });
});

describe('hostOutcomeOf', () => {
  const task = (change: (task: TaskRecord) => TaskRecord) =>
    change(
      newRestartTask({
        firstId: 1001,
        hostId: 1,
        creator: 'alice',
        type: 'MANUAL',
        prohibitRollback: false,
        executionArn: 'arn',
        now: T0,
      }),
    );

  it('is undefined while the task runs', () => {
    expect(hostOutcomeOf(task((t) => t))).toBeUndefined();
  });

  it('is a success for a task that succeeded', () => {
    expect(hostOutcomeOf(task((t) => ({ ...t, status: 'SUCCESSFUL', endTime: 'end' })))).toEqual({
      taskId: 1001,
      endTime: 'end',
      status: 'SUCCESSFUL',
    });
  });

  it('is a failure at the failed subtask, with its error', () => {
    const failed = task((t) => ({
      ...t,
      status: 'FAILED',
      endTime: 'end',
      subtasks: t.subtasks.map((s) => (s.index === 2 ? { ...s, status: 'FAILED', error: 'exit 3' } : s)),
    }));
    expect(hostOutcomeOf(failed)).toEqual({
      taskId: 1001,
      endTime: 'end',
      status: 'FAILED',
      failedSubtask: 2,
      error: 'exit 3',
    });
  });

  it('is a failure for a task that was rolled back: the agent was not restarted', () => {
    const rolledBack = task((t) => ({ ...t, status: 'SUCCESSFUL', operation: 'ROLLBACK', endTime: 'end' }));
    expect(hostOutcomeOf(rolledBack)).toMatchObject({
      status: 'FAILED',
      error: expect.stringMatching(/rolled back/),
    });
  });
});

describe('hosts that do not start', () => {
  it('names the task holding a busy host, and counts it as a failure', () => {
    const { batch, hosts } = batchOf([5, 6], rollout(2, 1));
    const host = hostNotStarted(batch, hosts, 0, { busyWithTaskId: 77 });
    expect(host).toEqual({
      batchId: 1000,
      index: 0,
      hostId: 5,
      version: 1,
      status: 'NOT_STARTED',
      reason: 'Host 5 already has a running agent operation: task 77; it is not restarted twice at once.',
      busyWithTaskId: 77,
    });
    expect(countHosts(written(hosts, host))).toMatchObject({ busy: 1, notStarted: 1, failures: 1 });
  });

  it('stops every PENDING host once the threshold is crossed, saying why', () => {
    const { batch, hosts } = batchOf([1, 2, 3], rollout(1, 0));
    const failed = ended(started(batch, hosts, 0), 0, false);
    const stopped = hostsStoppedByThreshold(batch, failed);
    expect(stopped.map((host) => [host.index, host.status])).toEqual([
      [1, 'NOT_STARTED'],
      [2, 'NOT_STARTED'],
    ]);
    expect(stopped[0]?.reason).toBe(
      '1 host of the batch failed or was busy, more than maxErrors (0) allows: no new host starts',
    );
  });

  it('stops no host while the threshold is not crossed', () => {
    const { batch, hosts } = batchOf([1, 2], rollout(1, 1));
    const failed = ended(started(batch, hosts, 0), 0, false);
    expect(hostsStoppedByThreshold(batch, failed)).toEqual([]);
    expect(hostNotStarted(batch, failed, 1, 'errorThreshold')).toBeUndefined();
  });
});

describe('batchOutcome', () => {
  it('waits while a host is PENDING or RUNNING', () => {
    const { batch, hosts } = batchOf([1, 2]);
    expect(batchOutcome(batch, ended(started(batch, hosts, 0), 0, true), at(70))).toBeUndefined();
  });

  it('is SUCCESSFUL when every host succeeded', () => {
    const { batch, hosts } = batchOf([1, 2]);
    let after = started(batch, started(batch, hosts, 0), 1);
    after = ended(ended(after, 0, true), 1, true);
    expect(batchOutcome(batch, after, at(70))).toMatchObject({
      status: 'SUCCESSFUL',
      endTime: '2026-01-05T10:01:10.000+00:00',
    });
  });

  it('is FAILED when one host failed', () => {
    const { batch, hosts } = batchOf([1, 2], rollout(2, 5));
    let after = started(batch, started(batch, hosts, 0), 1);
    after = ended(ended(after, 0, true), 1, false);
    expect(batchOutcome(batch, after, at(70))?.status).toBe('FAILED');
  });

  it('is FAILED when a host did not start', () => {
    const { batch, hosts } = batchOf([1, 2], rollout(2, 5));
    let after = written(hosts, hostNotStarted(batch, hosts, 1, { busyWithTaskId: 9 }));
    after = ended(started(batch, after, 0), 0, true);
    expect(batchOutcome(batch, after, at(70))?.status).toBe('FAILED');
  });

  it('does not end a batch from some of its hosts only', () => {
    const { batch, hosts } = batchOf([1, 2]);
    const after = ended(started(batch, hosts, 0), 0, true);
    expect(batchOutcome(batch, after.slice(0, 1), at(70))).toBeUndefined();
  });

  it('does not end a batch twice', () => {
    const { batch, hosts } = batchOf([1]);
    const after = ended(started(batch, hosts, 0), 0, true);
    const done = batchOutcome(batch, after, at(70))!;
    expect(batchOutcome(done, after, at(80))).toBeUndefined();
  });
});

describe('retryBatch', () => {
  function failedBatch() {
    const { batch, hosts } = batchOf([1, 2, 3, 4], rollout(2, 0));
    let after = started(batch, started(batch, hosts, 0), 1);
    after = ended(ended(after, 0, true), 1, false);
    after = written(after, ...hostsStoppedByThreshold(batch, after));
    return { batch: batchOutcome(batch, after, at(70))!, hosts: after };
  }

  it('puts FAILED and NOT_STARTED hosts back to PENDING, keeping their task', () => {
    const { batch, hosts } = failedBatch();
    const retried = retryBatch(batch, hosts);
    expect(retried.hosts).toEqual([
      { batchId: 1000, index: 1, hostId: 2, version: 1, status: 'PENDING', taskId: 1007 },
      { batchId: 1000, index: 2, hostId: 3, version: 1, status: 'PENDING' },
      { batchId: 1000, index: 3, hostId: 4, version: 1, status: 'PENDING' },
    ]);
  });

  it('leaves SUCCESSFUL hosts untouched', () => {
    const { batch, hosts } = failedBatch();
    expect(retryBatch(batch, hosts).hosts.map((host) => host.index)).not.toContain(0);
  });

  it('runs the batch again as a RETRY with the same rollout settings', () => {
    const { batch, hosts } = failedBatch();
    const retried = retryBatch(batch, hosts).batch;
    expect(retried).toMatchObject({ status: 'RUNNING', operation: 'RETRY', rollout: batch.rollout });
    expect(retried.endTime).toBeUndefined();
  });

  it('puts CANCELED hosts back to PENDING', () => {
    const { batch, hosts } = batchOf([1, 2]);
    const canceled = cancelBatch(batch, hosts, 'bob', at(1));
    expect(retryBatch(canceled.batch, written(hosts, ...canceled.hosts)).hosts).toHaveLength(2);
  });

  it('is refused while the batch runs', () => {
    const { batch, hosts } = batchOf([1]);
    expect(() => retryBatch(batch, hosts)).toThrow(TaskStateInvalid);
    expect(() => retryBatch(batch, hosts)).toThrow(
      'This operation (retry) is not supported for the batch task 1000 in the RUNNING state.',
    );
  });

  it('is refused for a batch that succeeded', () => {
    const { batch, hosts } = batchOf([1]);
    const after = ended(started(batch, hosts, 0), 0, true);
    expect(() => retryBatch(batchOutcome(batch, after, at(70))!, after)).toThrow(TaskStateInvalid);
  });
});

describe('cancelBatch', () => {
  it('cancels the PENDING hosts with the reason and returns the running ones', () => {
    const { batch, hosts } = batchOf([1, 2, 3], rollout(1, 0));
    const running = started(batch, hosts, 0);
    const result = cancelBatch(batch, running, 'bob', at(10));
    expect(result.hosts.map((host) => [host.index, host.status, host.reason])).toEqual([
      [1, 'CANCELED', 'Canceled by bob at 2026-01-05T10:00:10.000+00:00, before it started.'],
      [2, 'CANCELED', 'Canceled by bob at 2026-01-05T10:00:10.000+00:00, before it started.'],
    ]);
    expect(result.running.map((host) => host.index)).toEqual([0]);
    expect(result.batch).toMatchObject({ status: 'RUNNING', operation: 'CANCEL' });
  });

  it('starts no host once cancelled', () => {
    const { batch, hosts } = batchOf([1, 2]);
    const { batch: canceling } = cancelBatch(batch, started(batch, hosts, 0), 'bob', at(10));
    expect(hostStarted(canceling, hosts, 1, 1007, at(11))).toBeUndefined();
    expect(hostsToStart(canceling, hosts)).toEqual([]);
  });

  it('ends the batch FAILED at once when no host is running', () => {
    const { batch, hosts } = batchOf([1, 2]);
    expect(cancelBatch(batch, hosts, 'bob', at(10)).batch).toMatchObject({
      status: 'FAILED',
      operation: 'CANCEL',
      endTime: '2026-01-05T10:00:10.000+00:00',
    });
  });

  it('ends the batch once its running hosts have ended', () => {
    const { batch, hosts } = batchOf([1, 2], rollout(1, 0));
    const running = started(batch, hosts, 0);
    const result = cancelBatch(batch, running, 'bob', at(10));
    const after = ended(written(running, ...result.hosts), 0, false);
    expect(batchOutcome(result.batch, after, at(70))).toMatchObject({
      status: 'FAILED',
      operation: 'CANCEL',
    });
  });

  it('changes nothing when asked again, returning the hosts still running', () => {
    const { batch, hosts } = batchOf([1, 2], rollout(1, 0));
    const running = started(batch, hosts, 0);
    const first = cancelBatch(batch, running, 'bob', at(10));
    const again = cancelBatch(first.batch, written(running, ...first.hosts), 'carol', at(20));
    expect(again.hosts).toEqual([]);
    expect(again.batch).toEqual(first.batch);
    expect(again.running.map((host) => host.index)).toEqual([0]);
  });

  it('is refused for an ended batch', () => {
    const { batch, hosts } = batchOf([1, 2]);
    const { batch: ended } = cancelBatch(batch, hosts, 'bob', at(10));
    expect(() => cancelBatch(ended, hosts, 'bob', at(11))).toThrow(
      'This operation (cancel) is not supported for the batch task 1000 in the FAILED state.',
    );
  });
});

describe('the records of a batch', () => {
  /** DynamoDB's limit on an item: names and values, in UTF-8. */
  const DYNAMODB_ITEM_LIMIT = 400 * 1024;
  const widest = Number.MAX_SAFE_INTEGER;

  it('keep a host at its largest in about 4 KB, whatever the size of the batch', () => {
    const host: BatchHostRecord = {
      batchId: widest,
      index: 999,
      hostId: widest,
      version: widest,
      status: 'NOT_STARTED',
      taskId: widest,
      startTime: ocpTimestamp(T0),
      endTime: ocpTimestamp(T0),
      failedSubtask: 4,
      // The costliest character a stored error keeps: 3 bytes in UTF-8.
      error: '\u4e2d'.repeat(MAX_SUBTASK_ERROR_LENGTH),
      reason: `Canceled by ${'\u4e2d'.repeat(MAX_USERNAME_LENGTH)} at ${ocpTimestamp(T0)}, before it started.`,
      busyWithTaskId: widest,
    };
    expect(Buffer.byteLength(JSON.stringify(host))).toBeLessThan(4 * 1024);
  });

  it('keep the batch itself small: its hosts are items of their own', () => {
    const { batch } = batchOf(
      Array.from({ length: 1000 }, (_, i) => widest - i),
      rollout(1000, 1000),
    );
    const largest = { ...batch, creator: '\u4e2d'.repeat(MAX_USERNAME_LENGTH), endTime: ocpTimestamp(T0) };
    expect(Buffer.byteLength(JSON.stringify(largest))).toBeLessThan(DYNAMODB_ITEM_LIMIT / 100);
  });
});

describe('rolloutEndedReason', () => {
  it('says how the execution ended', () => {
    expect(rolloutEndedReason({ status: 'ABORTED' })).toBe(
      "The rollout's execution was stopped before it started this host.",
    );
    expect(rolloutEndedReason({ status: 'TIMED_OUT' })).toBe(
      "The rollout's execution timed out before it started this host.",
    );
    expect(rolloutEndedReason({ status: 'FAILED' })).toBe(
      "The rollout's execution failed before it started this host.",
    );
    expect(rolloutEndedReason({ status: 'FAILED', error: 'Lambda.Unknown' })).toBe(
      "The rollout's execution failed (Lambda.Unknown) before it started this host.",
    );
  });
});

describe('hostsNeverReached', () => {
  it('ends every host still PENDING as not started, saying the rollout ended first', () => {
    const { batch, hosts } = batchOf([1, 2, 3]);
    const afterOne = started(batch, hosts, 0);

    expect(hostsNeverReached(batch, afterOne)).toEqual([
      { ...hosts[1]!, status: 'NOT_STARTED', reason: ROLLOUT_ENDED_REASON },
      { ...hosts[2]!, status: 'NOT_STARTED', reason: ROLLOUT_ENDED_REASON },
    ]);
  });

  it('changes nothing of an ended batch', () => {
    const { batch, hosts } = batchOf([1]);

    expect(hostsNeverReached({ ...batch, status: 'FAILED' }, hosts)).toEqual([]);
  });
});
