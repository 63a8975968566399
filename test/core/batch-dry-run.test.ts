import { describe, expect, it } from 'vitest';
import { ESTIMATED_RESTART_SECONDS, toDryRunAnswer } from '#core/batch-dry-run';
import { type PlanHost, planRollout, type RolloutSettings } from '#core/rollout';

const settings: RolloutSettings = {
  maxConcurrency: 2,
  maxErrors: 0,
  healthCheckSeconds: 10,
  asked: { maxConcurrency: '2', maxErrors: '0' },
};

describe('toDryRunAnswer', () => {
  it('answers every host in order with what the plan does with it, and the plan’s waves and estimate', () => {
    const hosts: PlanHost[] = [
      { hostId: 1, known: true, pingStatus: 'Online' },
      { hostId: 2, known: true, pingStatus: 'ConnectionLost' },
      { hostId: 3, known: true, pingStatus: 'Online' },
      { hostId: 4, known: false },
    ];

    const answer = toDryRunAnswer(hosts, planRollout(hosts, settings, ESTIMATED_RESTART_SECONDS));

    expect(answer).toMatchObject({
      dryRun: true,
      hostCount: 4,
      waves: 1,
      estimatedSeconds: ESTIMATED_RESTART_SECONDS + 10,
      unknownHostIds: [4],
      unreachableHosts: [{ hostId: 2, pingStatus: 'ConnectionLost' }],
      stoppedHostIds: [3],
    });
    expect(answer.hosts).toEqual([
      { hostId: 1, index: 0, known: true, pingStatus: 'Online', plan: 'start', wave: 1 },
      { hostId: 2, index: 1, known: true, pingStatus: 'ConnectionLost', plan: 'start', wave: 1 },
      {
        hostId: 3,
        index: 2,
        known: true,
        pingStatus: 'Online',
        plan: 'notStarted',
        reason: expect.stringContaining('maxErrors (0)'),
      },
      { hostId: 4, index: 3, known: false, plan: 'unknown', reason: 'Host 4 does not exist.' },
    ]);
  });

  it('names the task holding a busy host', () => {
    const hosts: PlanHost[] = [{ hostId: 9, known: true, busyTaskId: 321 }];

    const answer = toDryRunAnswer(hosts, planRollout(hosts, { ...settings, maxErrors: 1 }, 60));

    expect(answer.hosts[0]).toMatchObject({
      plan: 'notStarted',
      busyTaskId: 321,
      reason: expect.stringContaining('task 321'),
    });
    expect(answer.busyHosts).toEqual([{ hostId: 9, taskId: 321 }]);
  });
});
