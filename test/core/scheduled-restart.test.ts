import { describe, expect, it } from 'vitest';
import { MAX_BATCH_HOSTS } from '#core/batch-request';
import { InvalidArgument } from '#core/errors';
import {
  describeSchedule,
  MAX_REASON_LENGTH,
  MAX_SCHEDULE_HOSTS,
  SCHEDULE_DESCRIPTION_MAX_LENGTH,
  SCHEDULER_RUN_ID,
  scheduledBatchOf,
  scheduledRestartInput,
  scheduledRunKey,
} from '#core/scheduled-restart';

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe('describeSchedule', () => {
  it('lists every host of a small schedule, with the count and the name', () => {
    expect(describeSchedule('nightly', [101, 102])).toBe(
      'Restarts the OCP agent on 2 hosts (schedule nightly): 101, 102',
    );
    expect(describeSchedule('one', [7])).toBe('Restarts the OCP agent on 1 host (schedule one): 7');
  });

  it('keeps a list that fills the limit exactly whole', () => {
    const ids = range(1, 200);
    const whole = describeSchedule('n', ids, 10_000);
    const limit = whole.length;

    expect(describeSchedule('n', ids, limit)).toBe(whole);
    expect(describeSchedule('n', ids, limit).length).toBe(limit);
  });

  it('names the first ids and how many more when one character is missing', () => {
    const ids = range(1, 200);
    const limit = describeSchedule('n', ids, 10_000).length - 1;

    const description = describeSchedule('n', ids, limit);

    expect(description.length).toBeLessThanOrEqual(limit);
    const [, listed, more] = description.match(/: ([\d, ]+), \.\.\. and (\d+) more$/) ?? [];
    const shown = (listed ?? '').split(', ').map(Number);
    expect(shown).toEqual(ids.slice(0, shown.length));
    expect(shown.length + Number(more)).toBe(ids.length);
  });

  it('stays within Scheduler’s 512 characters for the largest schedule of the longest ids and name', () => {
    const ids = range(Number.MAX_SAFE_INTEGER - MAX_SCHEDULE_HOSTS + 1, MAX_SCHEDULE_HOSTS);
    const name = 'x'.repeat(64);

    const description = describeSchedule(name, ids);

    expect(description.length).toBeLessThanOrEqual(SCHEDULE_DESCRIPTION_MAX_LENGTH);
    expect(description.length).toBeGreaterThan(SCHEDULE_DESCRIPTION_MAX_LENGTH - 20);
    expect(description).toContain(`on ${MAX_SCHEDULE_HOSTS} hosts (schedule ${name}): ${ids[0]}, `);
    expect(description).toMatch(/\.\.\. and \d+ more$/);
  });

  it('uses every length up to the limit: no truncated text is longer than allowed', () => {
    const ids = range(1, 1000);
    for (let limit = 80; limit <= SCHEDULE_DESCRIPTION_MAX_LENGTH; limit++) {
      expect(describeSchedule('all', ids, limit).length).toBeLessThanOrEqual(limit);
    }
  });

  it('refuses a name too long to leave room for the count', () => {
    expect(() => describeSchedule('x'.repeat(40), range(1, 10), 60)).toThrow(RangeError);
  });
});

describe('a schedule’s input', () => {
  it('stays a few KB for the largest schedule: the host list can travel in it', () => {
    // Neither CloudFormation's schema nor the Scheduler API model bounds Target.Input; what bounds it
    // is the Lambda payload of an asynchronous invocation (1 MB).
    const ids = range(Number.MAX_SAFE_INTEGER - MAX_SCHEDULE_HOSTS + 1, MAX_SCHEDULE_HOSTS);
    const input = scheduledRestartInput(
      ids,
      SCHEDULER_RUN_ID,
      'x'.repeat(64),
      'r'.repeat(MAX_REASON_LENGTH),
      {
        maxConcurrency: '100%',
        maxErrors: '100%',
        healthCheckSeconds: 600,
      },
    );

    expect(JSON.stringify(input).length).toBeLessThan(20_000);
  });

  it('carries the rollout only when the schedule gives one', () => {
    expect(scheduledRestartInput([1], 'run', 'nightly', 'why', {}).scheduledRestart).toEqual({
      hostIds: [1],
      runId: 'run',
      scheduleName: 'nightly',
      reason: 'why',
    });
    expect(
      scheduledRestartInput([1], 'run', 'nightly', 'why', { maxErrors: 0 }).scheduledRestart,
    ).toMatchObject({
      rollout: { maxErrors: 0 },
    });
  });
});

describe('a schedule run', () => {
  it('is one batch as large as a schedule may be', () => {
    expect(MAX_SCHEDULE_HOSTS).toBe(MAX_BATCH_HOSTS);
  });

  it('becomes one batch over its hosts, in the schedule’s order, with its rollout', () => {
    expect(
      scheduledBatchOf({ hostIds: [3, 1, 2], rollout: { maxConcurrency: '50%', maxErrors: 1 } }),
    ).toEqual({
      hostIds: [3, 1, 2],
      rollout: { maxConcurrency: { percent: 50 }, maxErrors: { count: 1 } },
      dryRun: false,
      prohibitRollback: false,
    });
    expect(scheduledBatchOf({ hostIds: [5] }).rollout).toEqual({});
  });

  it.each([
    [{ hostIds: [1, 1] }, 'scheduledRestart.hostIds names a host more than once: 1'],
    [{ hostIds: [] }, 'scheduledRestart.hostIds must name at least one host, got an empty list'],
    [{ hostIds: [1, 1.5] }, 'scheduledRestart.hostIds[1] must be a positive 64-bit integer, got 1.5'],
    [
      { hostIds: [1, 'two'] },
      'scheduledRestart.hostIds[1] must be a host id (a JSON integer), got the text "two"',
    ],
    [{ hostIds: [1], rollout: { maxConcurrency: 0 } }, 'scheduledRestart.rollout.maxConcurrency must be'],
    [{ hostIds: [1], rollout: { dryRun: true } }, 'scheduledRestart.rollout has unknown field "dryRun"'],
  ])('refuses %j, naming the field within the run', (run, message) => {
    expect(() => scheduledBatchOf(run)).toThrow(InvalidArgument);
    expect(() => scheduledBatchOf(run)).toThrow(`Invalid schedule run: ${message}`);
  });

  it('keys its batch by the run: the same run, the same key; another run, another', () => {
    expect(scheduledRunKey('run-1')).toBe(scheduledRunKey('run-1'));
    // Two schedules may fire at the same scheduled time: each run is its own batch.
    expect(scheduledRunKey('2026-12-02T03:00:00Z', 'nightly')).not.toBe(
      scheduledRunKey('2026-12-02T03:00:00Z', 'weekly'),
    );
    expect(
      new Set([scheduledRunKey('run-1'), scheduledRunKey('run-13'), scheduledRunKey('run-2')]).size,
    ).toBe(3);
  });
});
