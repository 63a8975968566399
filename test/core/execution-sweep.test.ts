import { describe, expect, it } from 'vitest';
import {
  type ExecutionView,
  endedBeforeHandover,
  HANDOVER_GRACE_MS,
  sweepVerdict,
} from '#core/execution-sweep';

const STARTED = '2026-11-02T10:00:00.000+00:00';
const RESUMED = '2026-11-02T11:00:00.000+00:00';
const at = (iso: string, offsetMs = 0) => new Date(Date.parse(iso) + offsetMs);
/** `handoversSettledBefore` of a sweep for which a hand-over at `iso` has settled. */
const settled = (iso: string) => at(iso, 1);
/** `handoversSettledBefore` of a sweep that runs right after a hand-over at `iso` (now − grace). */
const unsettled = (iso: string) => at(iso, 1_000 - HANDOVER_GRACE_MS);

const fresh = { startTime: STARTED };
const retried = { startTime: STARTED, resumedAt: RESUMED };
const failedAt = (iso: string, offsetMs = 0): ExecutionView => ({
  status: 'FAILED',
  stopDate: at(iso, offsetMs),
  error: 'SubtaskFailed',
  cause: 'exit 4',
});

describe('sweepVerdict', () => {
  it('leaves a task whose execution runs, or waits to be redriven (PENDING_REDRIVE)', () => {
    for (const status of ['RUNNING', 'PENDING_REDRIVE'] as const) {
      expect(sweepVerdict(retried, { status }, settled(RESUMED))).toEqual({
        action: 'leave',
        executionRunning: true,
      });
    }
  });

  it('ends a task as its execution ended after the task was handed over, guarded by when it ended', () => {
    const after = 60_000;
    expect(sweepVerdict(fresh, failedAt(STARTED, after), settled(STARTED))).toEqual({
      action: 'end',
      outcome: {
        status: 'FAILED',
        error: 'SubtaskFailed',
        cause: 'exit 4',
        executionEndedAt: at(STARTED, after),
      },
    });
    expect(
      sweepVerdict(retried, { status: 'SUCCEEDED', stopDate: at(RESUMED, after) }, unsettled(RESUMED)),
    ).toEqual({ action: 'end', outcome: { status: 'SUCCESSFUL', executionEndedAt: at(RESUMED, after) } });
    expect(
      sweepVerdict(fresh, { status: 'TIMED_OUT', stopDate: at(STARTED, after) }, unsettled(STARTED)),
    ).toEqual({
      action: 'end',
      outcome: { status: 'FAILED', error: 'States.Timeout', executionEndedAt: at(STARTED, after) },
    });
    expect(
      sweepVerdict(fresh, { status: 'ABORTED', stopDate: at(STARTED, after) }, unsettled(STARTED)),
    ).toMatchObject({ action: 'end', outcome: { status: 'FAILED', error: 'ExecutionAborted' } });
  });

  it('leaves a just-retried task whose execution still shows the end it is being redriven from', () => {
    const beforeRetry = failedAt(RESUMED, -30 * 60_000);

    expect(sweepVerdict(retried, beforeRetry, unsettled(RESUMED))).toEqual({
      action: 'leave',
      executionRunning: false,
    });
  });

  it('ends a retried task whose redrive never happened once the hand-over has settled', () => {
    const beforeRetry = failedAt(RESUMED, -30 * 60_000);

    expect(sweepVerdict(retried, beforeRetry, settled(RESUMED))).toEqual({
      action: 'end',
      outcome: { status: 'FAILED', error: 'ResumeLost' },
    });
  });

  it('leaves a task whose execution is not started yet, and ends it as lost once that has settled', () => {
    expect(sweepVerdict(fresh, undefined, unsettled(STARTED))).toEqual({
      action: 'leave',
      executionRunning: false,
    });
    expect(sweepVerdict(fresh, undefined, settled(STARTED))).toEqual({
      action: 'end',
      outcome: { status: 'FAILED', error: 'ExecutionLost' },
    });
  });

  it('counts a hand-over as settled only strictly before the given instant', () => {
    expect(sweepVerdict(fresh, undefined, at(STARTED)).action).toBe('leave');
    expect(sweepVerdict(fresh, undefined, at(STARTED, 1)).action).toBe('end');
  });
});

describe('endedBeforeHandover', () => {
  it('is true only for an end that predates the last hand-over', () => {
    expect(endedBeforeHandover(retried, at(RESUMED, -1))).toBe(true);
    expect(endedBeforeHandover(retried, at(RESUMED))).toBe(false);
    expect(endedBeforeHandover(fresh, at(STARTED, 5_000))).toBe(false);
    expect(endedBeforeHandover(retried, undefined)).toBe(false);
  });
});
