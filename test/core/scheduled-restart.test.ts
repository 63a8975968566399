import { describe, expect, it } from 'vitest';
import {
  describeSchedule,
  hostRestartsOf,
  inBatches,
  MAX_REASON_LENGTH,
  MAX_SCHEDULE_HOSTS,
  SCHEDULE_DESCRIPTION_MAX_LENGTH,
  SCHEDULER_RUN_ID,
  scheduledRestartInput,
  scheduledRestartKey,
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
    const input = scheduledRestartInput(ids, SCHEDULER_RUN_ID, 'x'.repeat(64), 'r'.repeat(MAX_REASON_LENGTH));

    expect(JSON.stringify(input).length).toBeLessThan(20_000);
  });
});

describe('a schedule run', () => {
  const run = { hostIds: [3, 1, 2], runId: 'run-1', scheduleName: 'nightly', reason: 'weekly' };

  it('becomes one restart per host, in the schedule’s order, each carrying the run', () => {
    expect(hostRestartsOf(run)).toEqual(
      [3, 1, 2].map((hostId) => ({
        scheduledHostRestart: { runId: 'run-1', hostId, scheduleName: 'nightly', reason: 'weekly' },
      })),
    );
  });

  it('leaves out what the schedule does not give', () => {
    expect(hostRestartsOf({ hostIds: [5], runId: 'r' })).toEqual([
      { scheduledHostRestart: { runId: 'r', hostId: 5 } },
    ]);
  });

  it('keys each host’s restart by run and host: the same pair, the same key; any other, another', () => {
    expect(scheduledRestartKey('run-1', 3)).toBe(scheduledRestartKey('run-1', 3));
    const keys = new Set([
      scheduledRestartKey('run-1', 3),
      scheduledRestartKey('run-1', 31),
      scheduledRestartKey('run-13', 1),
      scheduledRestartKey('run-2', 3),
    ]);
    expect(keys.size).toBe(4);
  });
});

describe('inBatches', () => {
  it('cuts 1,000 items into 100 batches of 10, losing and repeating none', () => {
    const items = range(1, 1000);

    const batches = inBatches(items, 10);

    expect(batches).toHaveLength(100);
    expect(batches.every((batch) => batch.length === 10)).toBe(true);
    expect(batches.flat()).toEqual(items);
  });

  it('puts the remainder in a last, shorter batch', () => {
    expect(inBatches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(inBatches([], 10)).toEqual([]);
  });

  it('refuses a batch size below one', () => {
    expect(() => inBatches([1], 0)).toThrow(RangeError);
  });
});
