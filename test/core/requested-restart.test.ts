import { describe, expect, it } from 'vitest';
import { MAX_BATCH_HOSTS } from '#core/batch-request';
import { InvalidArgument } from '#core/errors';
import { type RestartRequestedDetail, readRequestedRestart } from '#core/requested-restart';

/** The refusal of `detail`: an InvalidArgument; fails the test if the detail is accepted. */
function refusal(detail: RestartRequestedDetail): InvalidArgument {
  try {
    readRequestedRestart(detail);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgument);
    return error as InvalidArgument;
  }
  throw new Error(`accepted ${JSON.stringify(detail)}`);
}

describe('readRequestedRestart accepts', () => {
  it('one host as hostId, a number or decimal text', () => {
    expect(readRequestedRestart({ hostId: 7 })).toEqual({ kind: 'host', hostId: 7n });
    expect(readRequestedRestart({ hostId: '9223372036854775807' })).toEqual({
      kind: 'host',
      hostId: 9223372036854775807n,
    });
  });

  it('a fleet as hostIds, in the order given, with the batch API’s rollout and prohibitRollback', () => {
    expect(
      readRequestedRestart({
        hostIds: [3, 1, 2],
        rollout: { maxConcurrency: '10%', maxErrors: 0, healthCheckSeconds: 30 },
        prohibitRollback: true,
      }),
    ).toEqual({
      kind: 'fleet',
      batch: {
        hostIds: [3, 1, 2],
        rollout: { maxConcurrency: { percent: 10 }, maxErrors: { count: 0 }, healthCheckSeconds: 30 },
        dryRun: false,
        prohibitRollback: true,
      },
    });
  });

  it(`a fleet of one host, and of ${MAX_BATCH_HOSTS}`, () => {
    expect(readRequestedRestart({ hostIds: [1] })).toMatchObject({ kind: 'fleet', batch: { hostIds: [1] } });
    const all = Array.from({ length: MAX_BATCH_HOSTS }, (_, i) => i + 1);
    expect(readRequestedRestart({ hostIds: all })).toMatchObject({ batch: { hostIds: all } });
  });
});

describe('readRequestedRestart refuses', () => {
  it('both hostId and hostIds, and neither', () => {
    expect(refusal({ hostId: 1, hostIds: [2] }).message).toBe(
      'Invalid restart request: detail gives both hostId and hostIds: give one host as hostId or many as hostIds.',
    );
    expect(refusal({}).message).toBe(
      'Invalid restart request: detail names no host: give one host as hostId or many as hostIds.',
    );
  });

  it('a dry run, whatever else the event gives, saying where a plan is asked for', () => {
    for (const detail of [
      { hostIds: [1], dryRun: true },
      { hostIds: [1], dryRun: false },
      { hostId: 1, dryRun: true },
    ]) {
      const refused = refusal(detail);
      expect(refused.message).toMatch(/^Invalid restart request: detail\.dryRun is not accepted from events/);
      expect(refused.message).toContain('POST /compute/hosts/batchRestartAgents');
      expect(refused.target).toBe('detail.dryRun');
    }
  });

  it('a rollout for one host', () => {
    expect(refusal({ hostId: 1, rollout: { maxConcurrency: 1 } }).message).toMatch(
      /^Invalid restart request: detail\.rollout applies to a fleet only/,
    );
  });

  it.each([
    [[], 'detail.hostIds must name at least one host, got an empty list'],
    [[1, 2, 1], 'detail.hostIds names a host more than once: 1'],
    [[1, 2.5], 'detail.hostIds[1] must be a positive 64-bit integer, got 2.5'],
    [[0], 'detail.hostIds[0] must be a positive 64-bit integer, got 0'],
    [['1'], 'detail.hostIds[0] must be a host id (a JSON integer), got the text "1"'],
    [[2 ** 53], 'detail.hostIds[0] must be at most 9007199254740991'],
    [
      Array.from({ length: MAX_BATCH_HOSTS + 1 }, (_, i) => i + 1),
      `detail.hostIds names ${MAX_BATCH_HOSTS + 1} hosts`,
    ],
    ['1,2', 'detail.hostIds must be a list of host ids, got the text "1,2"'],
  ])('hostIds %j as the batch API refuses it', (hostIds, message) => {
    expect(refusal({ hostIds }).message).toMatch(
      new RegExp(`^Invalid restart request: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
  });

  it.each([
    [{ maxConcurrency: 0 }, 'detail.rollout.maxConcurrency must be a whole number of hosts from 1'],
    [{ maxErrors: '101%' }, 'detail.rollout.maxErrors must be a whole number of hosts from 0'],
    [{ healthCheckSeconds: 601 }, 'detail.rollout.healthCheckSeconds must be a whole number of seconds'],
    [{ parallel: true }, 'detail.rollout has unknown field "parallel"'],
    ['fast', 'detail.rollout must be a JSON object, got the text "fast"'],
  ])('rollout %j as the batch API refuses it', (rollout, message) => {
    const refused = refusal({ hostIds: [1], rollout });
    expect(refused.message.startsWith(`Invalid restart request: ${message}`)).toBe(true);
  });

  it('a host id that is no positive 64-bit integer', () => {
    expect(refusal({ hostId: '01' }).message).toBe(
      'hostId must be a positive 64-bit integer in decimal, got "01".',
    );
  });
});
