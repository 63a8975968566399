import { describe, expect, it } from 'vitest';
import {
  batchExecutionInput,
  batchExecutionName,
  batchOfExecutionName,
  batchRoundOf,
} from '#core/batch-execution';
import type { RolloutSettings } from '#core/rollout';

const ARN = 'arn:aws:states:us-east-1:123456789012:execution:batch-restart-agents';
const rollout: RolloutSettings = {
  maxConcurrency: 3,
  maxErrors: 1,
  healthCheckSeconds: 30,
  asked: { maxConcurrency: '3', maxErrors: '1' },
};

describe('batch executions', () => {
  it('names the first run after the batch and each retry after its round', () => {
    expect(batchExecutionName(1000, 0)).toBe('batch-1000');
    expect(batchExecutionName(1000, 2)).toBe('batch-1000-2');
  });

  it('reads the round back from the batch’s executor', () => {
    expect(batchRoundOf({ id: 1000, executor: `${ARN}:batch-1000` })).toBe(0);
    expect(batchRoundOf({ id: 1000, executor: `${ARN}:batch-1000-12` })).toBe(12);
  });

  it.each([
    `${ARN}:batch-999`,
    `${ARN}:batch-1000-0`,
    `${ARN}:batch-1000-x`,
    `${ARN}:task-1000`,
    'batch-10001',
  ])('refuses an executor not named after the batch: %s', (executor) => {
    expect(() => batchRoundOf({ id: 1000, executor })).toThrow(RangeError);
  });

  it('reads the batch and round back from an execution’s name, and nothing from another name', () => {
    expect(batchOfExecutionName('batch-1000')).toEqual({ batchId: 1000, round: 0 });
    expect(batchOfExecutionName('batch-1000-12')).toEqual({ batchId: 1000, round: 12 });
    for (const name of [
      'batch-1000-0',
      'batch-0',
      'batch-01',
      'batch-1000-x',
      'task-1000',
      'batch-',
      'xbatch-1',
    ])
      expect(batchOfExecutionName(name)).toBeUndefined();
  });

  it('gives the Map its hosts in index order and the rollout’s concurrency and wait', () => {
    expect(
      batchExecutionInput({ id: 7, rollout }, 1, [
        { index: 4, hostId: 40 },
        { index: 1, hostId: 10 },
      ]),
    ).toEqual({
      batchId: 7,
      round: 1,
      hosts: [
        { index: 1, hostId: 10 },
        { index: 4, hostId: 40 },
      ],
      rollout: { maxConcurrency: 3, healthCheckSeconds: 30 },
    });
  });
});
