import { batchExecutionInput, batchExecutionName, batchRoundOf } from '#core/batch-execution';
import {
  type BatchHostRecord,
  type BatchRecord,
  cancelBatch as cancelledBatch,
  retryBatch as retriedBatch,
} from '#core/batch-task';
import { type OcpBatchTask, toOcpBatchTask } from '#core/batch-task-view';
import { TaskNotFound, TaskStateInvalid } from '#core/errors';
import type { BatchStore, StoredBatch } from '#store/batch-store';
import { StaleRecord } from '#store/task-store';
import { logger } from '../logger.ts';
import { executionArnFor } from './start-restart-task.ts';
import { cancel, type TaskActionDependencies } from './task-actions.ts';

export interface BatchActionDependencies extends TaskActionDependencies {
  batches: BatchStore;
  batchStateMachineArn: string;
}

/** Reads and conditional writes tried before concurrent changes are reported as StaleRecord. */
const CHANGE_ATTEMPTS = 5;

/** The OCP view of a batch: the batch, its hosts, and the restart task of each host that has one. */
export async function getBatchView(
  batchId: number,
  deps: Pick<BatchActionDependencies, 'tasks' | 'batches'>,
): Promise<OcpBatchTask> {
  const { batch, hosts } = await loadBatch(batchId, deps.batches);
  const hostTasks = await deps.tasks.getTasks(hosts.flatMap((host) => host.taskId ?? []));
  return toOcpBatchTask(batch, hosts, hostTasks);
}

/**
 * Retries a FAILED batch: its hosts that did not succeed go back to PENDING (retryBatch) and a new
 * execution, `batch-<id>-<round>`, rolls out over them alone, with the batch's settings; each gets a
 * restart task of its own when admitted. If the execution cannot be started the batch and its hosts
 * are restored. Refused (TaskStateInvalid) for a batch that has not failed.
 */
export async function retryBatch(batchId: number, deps: BatchActionDependencies): Promise<BatchRecord> {
  const { batch, hosts } = await loadBatch(batchId, deps.batches);
  const retried = retriedBatch(batch, hosts);
  const round = batchRoundOf(batch) + 1;
  const executionName = batchExecutionName(batch.id, round);
  const reopened = await deps.batches.saveBatch(batch, {
    ...retried.batch,
    executor: executionArnFor(deps.batchStateMachineArn, executionName),
  });
  const before = new Map(hosts.map((host) => [host.index, host]));
  const reset: BatchHostRecord[] = [];
  try {
    for (const host of retried.hosts) reset.push(await deps.batches.saveHost(before.get(host.index)!, host));
    await deps.workflow.startExecution(
      deps.batchStateMachineArn,
      executionName,
      batchExecutionInput(reopened, round, retried.hosts),
    );
  } catch (error) {
    await restore(deps.batches, reopened, batch, reset, before);
    throw error;
  }
  logger.info('Batch retried', { batchId, round, hosts: reset.length });
  return reopened;
}

/** Puts back a batch and its hosts as they were before a retry that could not start. */
async function restore(
  batches: BatchStore,
  reopened: BatchRecord,
  batch: BatchRecord,
  reset: readonly BatchHostRecord[],
  before: ReadonlyMap<number, BatchHostRecord>,
): Promise<void> {
  try {
    for (const host of reset) await batches.saveHost(host, before.get(host.index)!);
    await batches.saveBatch(reopened, batch);
  } catch (error) {
    // The new round moved the batch meanwhile: the start took effect after all.
    if (!(error instanceof StaleRecord)) throw error;
  }
}

/**
 * Cancels a RUNNING batch: first marked CANCEL, so that no host starts any more; then its PENDING hosts
 * CANCELED and, if none runs, the batch FAILED at once (cancelBatch); then each running host's own task
 * cancelled through the single-task cancel (its running subtask's command), or, between two subtasks,
 * its execution stopped. The batch ends when the rollout records them. Asked again while hosts still
 * run, it cancels them again; refused (TaskStateInvalid) for a batch that has ended.
 */
export async function cancelBatch(
  batchId: number,
  canceller: string,
  deps: BatchActionDependencies,
): Promise<BatchRecord> {
  for (let attempt = 1; ; attempt++) {
    const { batch, hosts } = await loadBatch(batchId, deps.batches);
    const cancelled = cancelledBatch(batch, hosts, canceller, new Date());
    try {
      if (batch.operation !== 'CANCEL') {
        // Read again once marked: a host admitted meanwhile is then among the running.
        await deps.batches.saveBatch(batch, { ...batch, operation: 'CANCEL' });
        continue;
      }
      const before = new Map(hosts.map((host) => [host.index, host]));
      for (const host of cancelled.hosts) await deps.batches.saveHost(before.get(host.index)!, host);
      const saved =
        cancelled.batch.status === batch.status
          ? batch
          : await deps.batches.saveBatch(batch, cancelled.batch);
      for (const host of cancelled.running) await cancelHostTask(host, batch, canceller, deps);
      logger.info('Batch cancelled', {
        batchId,
        canceledHosts: cancelled.hosts.length,
        runningHosts: cancelled.running.length,
      });
      return saved;
    } catch (error) {
      if (!(error instanceof StaleRecord) || attempt >= CHANGE_ATTEMPTS) throw error;
    }
  }
}

async function cancelHostTask(
  host: BatchHostRecord,
  batch: BatchRecord,
  canceller: string,
  deps: BatchActionDependencies,
): Promise<void> {
  const task = host.taskId === undefined ? undefined : await deps.tasks.getTask(host.taskId);
  if (task?.status !== 'RUNNING') return;
  const running = task.subtasks.find((subtask) => subtask.status === 'RUNNING');
  try {
    if (running) await cancel(task.id, running.id, deps);
    else if (!task.subtasks.some((subtask) => subtask.status === 'CANCELING'))
      await deps.workflow.stop(
        task.executor,
        'BatchCancelled',
        `Batch task ${batch.id} was cancelled by ${canceller}`,
      );
  } catch (error) {
    // The task moved on meanwhile (its subtask ended, or it ended): the rollout records how.
    if (!(error instanceof StaleRecord || error instanceof TaskStateInvalid)) throw error;
    logger.info('A host’s task moved on while its batch was cancelled', { taskId: task.id });
  }
}

async function loadBatch(batchId: number, batches: BatchStore): Promise<StoredBatch> {
  const stored = await batches.getBatch(batchId);
  if (!stored) throw new TaskNotFound(batchId);
  return stored;
}
