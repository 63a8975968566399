import { describe, expect, it } from 'vitest';
import type { RolloutRequest } from '#core/batch-request';
import { HostsNotFound } from '#core/errors';
import {
  mayStartHost,
  type PlanHost,
  planRollout,
  type RolloutSettings,
  requireKnownHosts,
  resolveRollout,
} from '#core/rollout';

const resolve = (rollout: RolloutRequest, hostCount: number) => resolveRollout({ rollout }, hostCount);

const settings = (maxConcurrency: number, maxErrors: number, healthCheckSeconds = 0): RolloutSettings => ({
  maxConcurrency,
  maxErrors,
  healthCheckSeconds,
  asked: { maxConcurrency: String(maxConcurrency), maxErrors: String(maxErrors) },
});

const known = (count: number, first = 1): PlanHost[] =>
  Array.from({ length: count }, (_, i) => ({ hostId: first + i, known: true }));

describe('resolveRollout', () => {
  it("takes SSM Run Command's defaults: 50 at once, no failure tolerated", () => {
    expect(resolve({}, 1000)).toEqual({
      maxConcurrency: 50,
      maxErrors: 0,
      healthCheckSeconds: 0,
      asked: { maxConcurrency: '50', maxErrors: '0' },
    });
  });

  it('keeps counts as asked, whatever the number of hosts', () => {
    expect(resolve({ maxConcurrency: { count: 200 }, maxErrors: { count: 7 } }, 10)).toMatchObject({
      maxConcurrency: 200,
      maxErrors: 7,
    });
  });

  it.each([
    [10, 50, 5],
    [10, 1000, 100],
    [100, 7, 7],
    [25, 10, 2],
    [33, 10, 3],
    [99, 1, 0],
    [15, 19, 2],
  ])('rounds %i%% of %i hosts down to %i failures', (percent, hostCount, maxErrors) => {
    expect(resolve({ maxErrors: { percent } }, hostCount).maxErrors).toBe(maxErrors);
  });

  it.each([
    [10, 50, 5],
    [25, 10, 2],
    [33, 10, 3],
    [100, 1000, 1000],
    [1, 99, 1],
    [1, 1, 1],
    [50, 1, 1],
  ])('rounds %i%% of %i hosts down to %i at once, never below one', (percent, hostCount, maxConcurrency) => {
    expect(resolve({ maxConcurrency: { percent } }, hostCount).maxConcurrency).toBe(maxConcurrency);
  });

  it('tolerates no failure at 0%', () => {
    expect(resolve({ maxErrors: { percent: 0 } }, 1000).maxErrors).toBe(0);
  });

  it('says how the limits were asked', () => {
    expect(
      resolve({ maxConcurrency: { percent: 10 }, maxErrors: { count: 3 }, healthCheckSeconds: 30 }, 40),
    ).toEqual({
      maxConcurrency: 4,
      maxErrors: 3,
      healthCheckSeconds: 30,
      asked: { maxConcurrency: '10%', maxErrors: '3' },
    });
  });
});

describe('mayStartHost', () => {
  it('starts a host while there is room and the failures are within maxErrors', () => {
    expect(mayStartHost({ running: 2, failures: 3 }, settings(3, 3))).toEqual({ start: true });
  });

  it('waits while maxConcurrency hosts are restarting', () => {
    expect(mayStartHost({ running: 3, failures: 0 }, settings(3, 0))).toEqual({
      start: false,
      blockedBy: 'concurrency',
      reason: '3 hosts are restarting, as many as maxConcurrency (3) allows',
    });
  });

  it('starts nothing more once the failures exceed maxErrors', () => {
    expect(mayStartHost({ running: 0, failures: 4 }, settings(10, 3))).toEqual({
      start: false,
      blockedBy: 'errorThreshold',
      reason: '4 hosts of the batch failed or were busy, more than maxErrors (3) allows: no new host starts',
    });
  });

  it('stops at the first failure with maxErrors 0', () => {
    expect(mayStartHost({ running: 0, failures: 1 }, settings(10, 0))).toMatchObject({
      start: false,
      blockedBy: 'errorThreshold',
    });
  });

  it('reports the threshold before the concurrency', () => {
    expect(mayStartHost({ running: 5, failures: 1 }, settings(5, 0))).toMatchObject({
      blockedBy: 'errorThreshold',
    });
  });
});

describe('planRollout', () => {
  it('starts the hosts in order, maxConcurrency to a wave', () => {
    const plan = planRollout(known(5), settings(2, 0), 100);
    expect(plan.hosts.map((host) => (host.plan === 'start' ? host.wave : host.plan))).toEqual([
      1, 1, 2, 2, 3,
    ]);
    expect(plan.hosts.map((host) => host.hostId)).toEqual([1, 2, 3, 4, 5]);
    expect(plan.waves).toBe(3);
  });

  it('estimates waves × (a restart + the health check)', () => {
    expect(planRollout(known(10), settings(3, 0, 20), 100).estimatedSeconds).toBe(4 * 120);
  });

  it('plans one wave for a batch within maxConcurrency', () => {
    const plan = planRollout(known(50), settings(50, 0), 60);
    expect(plan.waves).toBe(1);
    expect(plan.estimatedSeconds).toBe(60);
  });

  it('names a busy host and the task holding it, and counts it as a failure', () => {
    const plan = planRollout(
      [{ hostId: 1, known: true }, { hostId: 2, known: true, busyTaskId: 77 }, ...known(2, 3)],
      settings(10, 1),
      60,
    );
    expect(plan.busyHosts).toEqual([{ hostId: 2, taskId: 77 }]);
    expect(plan.hosts[1]).toEqual({
      hostId: 2,
      index: 1,
      plan: 'notStarted',
      reason: 'Host 2 already has a running agent operation: task 77; it is not restarted twice at once.',
      busyTaskId: 77,
    });
    expect(plan.hosts.filter((host) => host.plan === 'start')).toHaveLength(3);
  });

  it('starts nothing after a busy host when no failure is tolerated', () => {
    const plan = planRollout(
      [{ hostId: 1, known: true }, { hostId: 2, known: true, busyTaskId: 77 }, ...known(3, 3)],
      settings(10, 0),
      60,
    );
    expect(plan.hosts.map((host) => host.plan)).toEqual([
      'start',
      'notStarted',
      'notStarted',
      'notStarted',
      'notStarted',
    ]);
    expect(plan.stoppedHostIds).toEqual([3, 4, 5]);
    expect(plan.hosts[2]).toMatchObject({
      reason: '1 host of the batch failed or was busy, more than maxErrors (0) allows: no new host starts',
    });
  });

  it('names unknown hosts without counting them against maxErrors', () => {
    const plan = planRollout([{ hostId: 9, known: false }, ...known(2)], settings(10, 0), 60);
    expect(plan.unknownHostIds).toEqual([9]);
    expect(plan.hosts[0]).toEqual({ hostId: 9, index: 0, plan: 'unknown', reason: 'Host 9 does not exist.' });
    expect(plan.hosts.filter((host) => host.plan === 'start')).toHaveLength(2);
  });

  it('expects a host SSM does not see Online to fail in its wave, stopping the waves after it', () => {
    const plan = planRollout(
      [
        { hostId: 1, known: true, pingStatus: 'ConnectionLost' },
        { hostId: 2, known: true, pingStatus: 'Online' },
        ...known(3, 3),
      ],
      settings(2, 0),
      60,
    );
    expect(plan.unreachableHosts).toEqual([{ hostId: 1, pingStatus: 'ConnectionLost' }]);
    expect(plan.hosts.map((host) => host.plan)).toEqual([
      'start',
      'start',
      'notStarted',
      'notStarted',
      'notStarted',
    ]);
    expect(plan.waves).toBe(1);
  });

  it('goes on past expected failures that maxErrors tolerates', () => {
    const plan = planRollout(
      [{ hostId: 1, known: true, pingStatus: 'Inactive' }, ...known(4, 2)],
      settings(2, 1),
      60,
    );
    expect(plan.stoppedHostIds).toEqual([]);
    expect(plan.waves).toBe(3);
  });

  it('plans no wave when every host is unknown', () => {
    const plan = planRollout([{ hostId: 1, known: false }], settings(5, 0), 60);
    expect(plan.waves).toBe(0);
    expect(plan.estimatedSeconds).toBe(0);
  });
});

describe('requireKnownHosts', () => {
  it('lets a batch of known hosts through', () => {
    expect(() => requireKnownHosts(known(3))).not.toThrow();
  });

  it('refuses a batch naming an unknown host, as a single restart does (404)', () => {
    const refuse = () => requireKnownHosts([...known(1), { hostId: 9, known: false }]);
    expect(refuse).toThrow(HostsNotFound);
    expect(refuse).toThrow('Host 9 does not exist.');
  });

  it('names every unknown host, ten of them and a count of the rest', () => {
    const unknown = known(12, 100).map((host) => ({ ...host, known: false }));
    try {
      requireKnownHosts(unknown);
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({
        httpStatus: 404,
        ocpCode: 10002,
        target: 'hostIds',
        message: 'Hosts 100, 101, 102, 103, 104, 105, 106, 107, 108, 109 and 2 more do not exist.',
        hostIds: unknown.map((host) => host.hostId),
      });
    }
  });
});
