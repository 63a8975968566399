import { describe, expect, it } from 'vitest';
import {
  type CommandInvocation,
  commandProgress,
  describeCommandFailure,
  describeTimedOutSubtask,
  hasEnded,
  resumesAfterTimeout,
  statusEventOverdue,
} from '#core/command-outcome';

describe('describeCommandFailure', () => {
  it('names the exit code and the last lines of stderr', () => {
    expect(describeCommandFailure('Failed', 4, 'a\nb\nc\nd\ne\nf\n', '')).toBe(
      'Subtask failed: the command exited with code 4: b | c | d | e | f',
    );
  });

  it('falls back to stdout when stderr is empty', () => {
    expect(describeCommandFailure('Failed', 2, '', 'missing ctl')).toMatch(/code 2: missing ctl$/);
  });

  it('says the host never received a command that SSM could not deliver', () => {
    expect(describeCommandFailure('TimedOut', -1, '', '', 'DeliveryTimedOut')).toMatch(
      /did not receive the command/,
    );
    expect(describeCommandFailure('Undeliverable', -1, '', '')).toMatch(/did not receive the command/);
  });

  it('distinguishes a command that timed out or was cancelled on the host', () => {
    expect(describeCommandFailure('TimedOut', 137, '', '', 'ExecutionTimedOut')).toMatch(
      /timed out on the host\.$/,
    );
    expect(describeCommandFailure('Cancelled', 137, '', '')).toMatch(/was cancelled\.$/);
  });
});

const invocation = (fields: Partial<CommandInvocation>): CommandInvocation => ({
  commandId: 'c',
  instanceId: 'mi-00000000000000001',
  status: 'Success',
  statusDetails: 'Success',
  exitCode: 0,
  stdout: '',
  stderr: '',
  ...fields,
});

describe('commandProgress and hasEnded', () => {
  it.each([
    ['Pending', 'Pending', 'undelivered', false],
    ['Delayed', 'Delayed', 'undelivered', false],
    ['TimedOut', 'DeliveryTimedOut', 'undelivered', true],
    ['TimedOut', 'Delivery Timed Out', 'undelivered', true],
    ['Failed', 'Undeliverable', 'undelivered', true],
    ['InProgress', 'InProgress', 'running', false],
    ['Cancelling', 'Cancelling', 'running', false],
    ['Success', 'Success', 'ended', true],
    ['Failed', 'Failed', 'ended', true],
    ['TimedOut', 'ExecutionTimedOut', 'ended', true],
    ['Cancelled', 'Cancelled', 'ended', true],
    ['Failed', 'Terminated', 'ended', true],
  ] as const)('reads %s / %s as %s (ended: %s)', (status, statusDetails, progress, ended) => {
    expect(commandProgress({ status, statusDetails })).toBe(progress);
    expect(hasEnded({ status, statusDetails })).toBe(ended);
  });
});

describe('describeTimedOutSubtask', () => {
  const prefix = 'Subtask failed: it did not finish within its timeout of 60 s: ';

  it('says an undelivered command never reached the host, and why, from the host’s ping status', () => {
    const pending = invocation({ status: 'Pending', statusDetails: 'Pending', exitCode: -1 });

    expect(describeTimedOutSubtask(60, pending, 'ConnectionLost')).toBe(
      `${prefix}its command never reached the host (its SSM agent is offline: ping status ConnectionLost).`,
    );
    expect(describeTimedOutSubtask(60, pending, 'Inactive')).toMatch(/not running: ping status Inactive/);
    expect(describeTimedOutSubtask(60, pending, 'NotRegistered')).toMatch(/not registered with SSM/);
    expect(describeTimedOutSubtask(60, pending, 'Online')).toMatch(/online but had not taken the command/);
    expect(describeTimedOutSubtask(60, pending)).toMatch(/ping status could not be read/);
    expect(
      describeTimedOutSubtask(60, invocation({ status: 'TimedOut', statusDetails: 'DeliveryTimedOut' })),
    ).toMatch(/never reached the host/);
  });

  it('says a command was still running on the host', () => {
    expect(
      describeTimedOutSubtask(600, invocation({ status: 'InProgress', statusDetails: 'InProgress' })),
    ).toBe(
      'Subtask failed: it did not finish within its timeout of 600 s: its command was still running on the host (SSM status InProgress).',
    );
  });

  it('says a command had ended, with its status, when only its status event was missing', () => {
    expect(describeTimedOutSubtask(60, invocation({}))).toBe(
      `${prefix}its command had succeeded on the host, but its status event did not reach the workflow in time.`,
    );
    expect(
      describeTimedOutSubtask(
        60,
        invocation({ status: 'Failed', statusDetails: 'Failed', exitCode: 4, stderr: 'no pid\n' }),
      ),
    ).toBe(
      `${prefix}the command exited with code 4, but its status event did not reach the workflow in time: no pid`,
    );
    expect(
      describeTimedOutSubtask(60, invocation({ status: 'TimedOut', statusDetails: 'ExecutionTimedOut' })),
    ).toMatch(
      /the command timed out on the host, but its status event did not reach the workflow in time\.$/,
    );
  });

  it('says SSM has no record of a command it does not know', () => {
    expect(describeTimedOutSubtask(60, undefined)).toBe(
      `${prefix}SSM has no record of its command on the host.`,
    );
  });
});

describe('resumesAfterTimeout', () => {
  it('resumes only a running subtask whose command had succeeded', () => {
    expect(resumesAfterTimeout({ status: 'RUNNING' }, invocation({}))).toBe(true);
    expect(resumesAfterTimeout({ status: 'CANCELING' }, invocation({}))).toBe(false);
    expect(resumesAfterTimeout({ status: 'RUNNING' }, invocation({ status: 'Failed', exitCode: 4 }))).toBe(
      false,
    );
    expect(resumesAfterTimeout({ status: 'RUNNING' }, invocation({ status: 'InProgress' }))).toBe(false);
    expect(resumesAfterTimeout({ status: 'RUNNING' }, undefined)).toBe(false);
  });
});

describe('statusEventOverdue', () => {
  const due = new Date('2026-12-02T12:00:00.000Z');

  it('is true for a command that ended at or before the due time, false for one that ended later', () => {
    expect(statusEventOverdue({ status: 'Success', endedAt: '2026-12-02T11:59:59.999Z' }, due)).toBe(true);
    expect(statusEventOverdue({ status: 'Failed', endedAt: '2026-12-02T12:00:00.000Z' }, due)).toBe(true);
    expect(statusEventOverdue({ status: 'Success', endedAt: '2026-12-02T12:00:00.001Z' }, due)).toBe(false);
  });

  it('is false while the command runs, and true for an ended command without an end time (it never ran)', () => {
    expect(statusEventOverdue({ status: 'InProgress', endedAt: '2026-12-02T11:00:00.000Z' }, due)).toBe(
      false,
    );
    expect(statusEventOverdue({ status: 'Cancelled', statusDetails: 'Undeliverable' }, due)).toBe(true);
    expect(statusEventOverdue({ status: 'TimedOut', endedAt: '' }, due)).toBe(true);
  });
});
