import { describe, expect, it } from 'vitest';
import { batchChanges, batchHostChanges } from '#core/batch-changes';
import { newBatch } from '#core/batch-task';

const { batch, hosts } = newBatch({
  firstId: 100,
  hostIds: [7, 8],
  creator: 'alice',
  type: 'MANUAL',
  prohibitRollback: false,
  rollout: {
    maxConcurrency: 1,
    maxErrors: 0,
    healthCheckSeconds: 0,
    asked: { maxConcurrency: '1', maxErrors: '0' },
  },
  executor: 'arn:aws:states:us-east-1:1:execution:batch:batch-100',
  now: new Date('2026-12-02T08:00:00.000Z'),
});
const AT = '2026-12-02T08:00:01.000Z';

describe('batchChanges', () => {
  it('reports a created batch', () => {
    expect(batchChanges(undefined, batch, AT)).toEqual([
      { batchId: 100, status: 'RUNNING', operation: 'EXECUTE', at: AT },
    ]);
  });

  it('reports a change of status or operation, with the status before', () => {
    expect(batchChanges(batch, { ...batch, status: 'FAILED' }, AT)).toEqual([
      { batchId: 100, status: 'FAILED', operation: 'EXECUTE', previousStatus: 'RUNNING', at: AT },
    ]);
    expect(batchChanges(batch, { ...batch, operation: 'CANCEL' }, AT)).toHaveLength(1);
  });

  it('reports nothing when only other fields change', () => {
    expect(batchChanges(batch, { ...batch, version: 2 }, AT)).toEqual([]);
  });
});

describe('batchHostChanges', () => {
  const [first] = hosts;

  it('reports nothing for a host written PENDING with its batch', () => {
    expect(batchHostChanges(undefined, first!, AT)).toEqual([]);
  });

  it('reports a host that started, with its task, and one that did not, with why', () => {
    expect(batchHostChanges(first, { ...first!, status: 'RUNNING', taskId: 101 }, AT)).toEqual([
      {
        batchId: 100,
        host: { hostId: 7, index: 0, status: 'RUNNING', previousStatus: 'PENDING', taskId: 101 },
        at: AT,
      },
    ]);
    const [change] = batchHostChanges(first, { ...first!, status: 'NOT_STARTED', reason: 'threshold' }, AT);
    expect(change!.host).toMatchObject({ status: 'NOT_STARTED', reason: 'threshold' });
  });

  it('reports nothing when the host’s status stays', () => {
    expect(batchHostChanges(first, { ...first!, version: 2 }, AT)).toEqual([]);
  });
});
