import {
  type BatchHostRecord,
  type BatchRecord,
  idsPerBatch,
  newBatch,
} from '../../functions/core/batch-task.ts';
import type { RolloutSettings } from '../../functions/core/rollout.ts';
import type { BatchStore } from '../../functions/store/batch-store.ts';
import type { TaskStore } from '../../functions/store/task-store.ts';

export const BATCH_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:1:stateMachine:batch';

export const rolloutOf = (
  maxConcurrency: number,
  maxErrors: number,
  healthCheckSeconds = 0,
): RolloutSettings => ({
  maxConcurrency,
  maxErrors,
  healthCheckSeconds,
  asked: { maxConcurrency: String(maxConcurrency), maxErrors: String(maxErrors) },
});

/** A new batch of the hosts with fresh ids, written by the store as startBatchRestart writes one. */
export async function createStoredBatch(
  tasks: TaskStore,
  batches: BatchStore,
  hostIds: readonly number[],
  options: { rollout?: RolloutSettings; now?: Date; hosts?: (host: BatchHostRecord) => BatchHostRecord } = {},
): Promise<{ batch: BatchRecord; hosts: BatchHostRecord[] }> {
  const firstId = await tasks.allocateIds(idsPerBatch(hostIds.length));
  const created = newBatch({
    firstId,
    hostIds,
    creator: 'alice',
    type: 'MANUAL',
    prohibitRollback: false,
    rollout: options.rollout ?? rolloutOf(2, 0),
    executor: `arn:aws:states:us-east-1:1:execution:batch:batch-${firstId}`,
    now: options.now ?? new Date(),
  });
  const hosts = options.hosts ? created.hosts.map(options.hosts) : created.hosts;
  await batches.createBatch(created.batch, hosts);
  return { batch: created.batch, hosts };
}
