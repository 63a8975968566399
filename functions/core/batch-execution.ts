import type { BatchHostRecord, BatchRecord } from './batch-task.ts';

/**
 * The executions of a batch's state machine (statemachine/batch-restart-agents.asl.json). Round 0 is
 * the batch's first run, named `batch-<batchId>`; each retry runs a round of its own, `batch-<id>-<round>`,
 * over the hosts it reset. The round travels with every item of the run, so a call from an earlier
 * round (a Lambda still running after its state timed out) is told apart and changes nothing.
 */

/** The input of a batch execution, as the batch state machine reads it. */
export interface BatchExecutionInput {
  batchId: number;
  round: number;
  /** The hosts this round restarts: the Map's items. */
  hosts: BatchExecutionHost[];
  rollout: { maxConcurrency: number; healthCheckSeconds: number };
}

/** One item of the Map: a host of the batch, at its index in the request. */
export interface BatchExecutionHost {
  index: number;
  hostId: number;
}

export function batchExecutionName(batchId: number, round: number): string {
  return round === 0 ? `batch-${batchId}` : `batch-${batchId}-${round}`;
}

/** The batch and round an execution named by batchExecutionName runs; undefined for another name. */
export function batchOfExecutionName(name: string): { batchId: number; round: number } | undefined {
  const match = /^batch-([1-9]\d{0,15})(?:-([1-9]\d{0,8}))?$/.exec(name);
  if (!match) return undefined;
  const batchId = Number(match[1]);
  if (!Number.isSafeInteger(batchId)) return undefined;
  return { batchId, round: match[2] === undefined ? 0 : Number(match[2]) };
}

/** The round the batch's executor (its execution's ARN, named by batchExecutionName) runs. */
export function batchRoundOf(batch: Pick<BatchRecord, 'id' | 'executor'>): number {
  const name = batch.executor.slice(batch.executor.lastIndexOf(':') + 1);
  const first = batchExecutionName(batch.id, 0);
  if (name === first) return 0;
  const round = Number(name.slice(first.length + 1));
  if (!name.startsWith(`${first}-`) || !Number.isSafeInteger(round) || round < 1)
    throw new RangeError(`Batch ${batch.id} runs in an execution not named after it: ${batch.executor}`);
  return round;
}

export function batchExecutionInput(
  batch: Pick<BatchRecord, 'id' | 'rollout'>,
  round: number,
  hosts: readonly Pick<BatchHostRecord, 'index' | 'hostId'>[],
): BatchExecutionInput {
  return {
    batchId: batch.id,
    round,
    hosts: [...hosts].sort((a, b) => a.index - b.index).map(({ index, hostId }) => ({ index, hostId })),
    rollout: {
      maxConcurrency: batch.rollout.maxConcurrency,
      healthCheckSeconds: batch.rollout.healthCheckSeconds,
    },
  };
}
