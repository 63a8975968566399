import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type BatchHostRecord,
  type BatchRecord,
  reservedTaskId,
} from '../../../functions/core/batch-task.ts';
import { TaskNotFound, TaskStateInvalid } from '../../../functions/core/errors.ts';
import type { RolloutSettings } from '../../../functions/core/rollout.ts';
import { BatchStore } from '../../../functions/store/batch-store.ts';
import { HostRegistry } from '../../../functions/store/host-registry.ts';
import { WorkflowTaskStore } from '../../../functions/store/workflow-task-store.ts';
import {
  type BatchActionDependencies,
  cancelBatch,
  getBatchView,
  retryBatch,
} from '../../../functions/use-cases/batch-actions.ts';
import { admitHost, finishBatch, recordHostOutcome } from '../../../functions/use-cases/batch-rollout.ts';
import { executionArnFor } from '../../../functions/use-cases/start-restart-task.ts';
import { BATCH_STATE_MACHINE_ARN, createStoredBatch, rolloutOf } from '../../support/batches.ts';
import { FakeHostCommands, FakeWorkflow } from '../../support/fake-ports.ts';
import { beginAttempt } from '../../support/subtask-attempts.ts';
import { endStoredTask } from '../../support/tasks.ts';
import { createTestTables, registerHost, type TestTables, tableItems } from '../../support/test-tables.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:1:stateMachine:sm';
let tables: TestTables;
let tasks: WorkflowTaskStore;
let batches: BatchStore;
let workflow: FakeWorkflow;
let hostCommands: FakeHostCommands;
let deps: BatchActionDependencies;
let nextHost = 1;

beforeAll(async () => {
  tables = await createTestTables();
  tasks = new WorkflowTaskStore(tables.taskTable);
  batches = new BatchStore(tables.taskTable);
});

beforeEach(() => {
  workflow = new FakeWorkflow();
  hostCommands = new FakeHostCommands();
  deps = {
    tasks,
    batches,
    hosts: new HostRegistry(tables.hostTable),
    workflow,
    hostCommands,
    stateMachineArn: STATE_MACHINE_ARN,
    batchStateMachineArn: BATCH_STATE_MACHINE_ARN,
  };
});

const rolloutDeps = () => ({ ...deps, tasks, agentStatusDocument: 'status-doc' });
const item = (host: BatchHostRecord) => ({ index: host.index, hostId: host.hostId });
const stored = async (batch: BatchRecord) => (await batches.getBatch(batch.id))!;

async function batchOf(count: number, rollout: RolloutSettings = rolloutOf(5, 5)) {
  const hostIds = Array.from({ length: count }, () => nextHost++);
  for (const hostId of hostIds)
    await registerHost(tables, { hostId, instanceId: `mi-${String(hostId).padStart(17, '0')}` });
  return createStoredBatch(tasks, batches, hostIds, { rollout });
}

/** Runs one host through the rollout: admitted, its task ended so, its outcome recorded. */
async function runHost(
  batch: BatchRecord,
  host: BatchHostRecord,
  status: 'SUCCESSFUL' | 'FAILED',
  round = 0,
) {
  const admission = await admitHost({ batchId: batch.id, round, host: item(host) }, rolloutDeps());
  if (!admission.admitted) throw new Error(`host ${host.index} not admitted`);
  await endStoredTask(tasks, admission.taskId, status);
  await recordHostOutcome(
    { batchId: batch.id, round, host: item(host), taskId: admission.taskId, healthCheckSeconds: 0 },
    rolloutDeps(),
  );
  return admission.taskId;
}

/** A FAILED batch of three hosts: the first succeeded, the second failed, the third never started. */
async function failedBatch() {
  const { batch, hosts } = await batchOf(3, rolloutOf(5, 0));
  await runHost(batch, hosts[0]!, 'SUCCESSFUL');
  await runHost(batch, hosts[1]!, 'FAILED');
  await finishBatch({ batchId: batch.id, round: 0 }, rolloutDeps());
  return stored(batch);
}

describe('retryBatch', () => {
  it('reopens the batch and rolls out again over the hosts that did not succeed, in a round of its own', async () => {
    const { batch, hosts } = await failedBatch();

    const reopened = await retryBatch(batch.id, deps);

    const name = `batch-${batch.id}-1`;
    expect(reopened).toMatchObject({
      status: 'RUNNING',
      operation: 'RETRY',
      executor: executionArnFor(BATCH_STATE_MACHINE_ARN, name),
    });
    expect(reopened.endTime).toBeUndefined();
    const after = await stored(batch);
    expect(after.hosts[0]).toEqual(hosts[0]);
    expect(after.hosts.slice(1).map((host) => host.status)).toEqual(['PENDING', 'PENDING']);
    expect(workflow.started).toEqual([
      {
        stateMachineArn: BATCH_STATE_MACHINE_ARN,
        name,
        input: {
          batchId: batch.id,
          round: 1,
          hosts: hosts.slice(1).map(item),
          rollout: { maxConcurrency: 5, healthCheckSeconds: 0 },
        },
      },
    ]);
  });

  it('gives a retried host a restart task of its own, with fresh ids', async () => {
    const { batch, hosts } = await failedBatch();
    await retryBatch(batch.id, deps);

    const taskId = await runHost(batch, hosts[1]!, 'SUCCESSFUL', 1);

    expect(taskId).not.toBe(reservedTaskId(batch, 1));
    expect((await stored(batch)).hosts[1]).toMatchObject({ status: 'SUCCESSFUL', taskId });
  });

  it('numbers each further retry’s round after the one before', async () => {
    const { batch, hosts } = await failedBatch();
    await retryBatch(batch.id, deps);
    await runHost(batch, hosts[1]!, 'FAILED', 1);
    await finishBatch({ batchId: batch.id, round: 1 }, rolloutDeps());

    await retryBatch(batch.id, deps);

    expect(workflow.started.map((start) => start.name)).toEqual([
      `batch-${batch.id}-1`,
      `batch-${batch.id}-2`,
    ]);
  });

  it('is refused for a batch that has not failed, changing nothing', async () => {
    const { batch } = await batchOf(1);
    const before = await tableItems(tables.taskTable);

    await expect(retryBatch(batch.id, deps)).rejects.toBeInstanceOf(TaskStateInvalid);

    expect(await tableItems(tables.taskTable)).toEqual(before);
    expect(workflow.started).toEqual([]);
  });

  it('restores the batch and its hosts when the new round cannot be started', async () => {
    const { batch, hosts } = await failedBatch();
    workflow.failing.startExecution = new Error('ExecutionLimitExceeded');

    await expect(retryBatch(batch.id, deps)).rejects.toThrow('ExecutionLimitExceeded');

    const after = await stored(batch);
    expect({ ...after.batch, version: 0 }).toEqual({ ...batch, version: 0 });
    expect(after.hosts.map(({ version: _v, ...host }) => host)).toEqual(
      hosts.map(({ version: _v, ...host }) => host),
    );
  });

  it('answers TaskNotFound for an id that names no batch', async () => {
    await expect(retryBatch(987_654_321, deps)).rejects.toBeInstanceOf(TaskNotFound);
  });
});

describe('cancelBatch', () => {
  it('cancels the hosts yet to start and the running host’s subtask, leaving the batch to end with it', async () => {
    const { batch, hosts } = await batchOf(3);
    const admission = await admitHost({ batchId: batch.id, round: 0, host: item(hosts[0]!) }, rolloutDeps());
    const attempt = await beginAttempt(tasks, (await tasks.getTask(admission.taskId!))!, 0);

    const cancelled = await cancelBatch(batch.id, 'bob', deps);

    expect(cancelled).toMatchObject({ status: 'RUNNING', operation: 'CANCEL' });
    const after = await stored(batch);
    expect(after.hosts.map((host) => host.status)).toEqual(['RUNNING', 'CANCELED', 'CANCELED']);
    expect(after.hosts[1]!.reason).toMatch(/^Canceled by bob at .*, before it started\.$/);
    expect((await tasks.getTask(admission.taskId!))!.subtasks[0]!.status).toBe('CANCELING');
    expect(hostCommands.cancelled).toEqual([attempt.commandId]);
  });

  it('stops the execution of a running host’s task that is between two subtasks', async () => {
    const { batch, hosts } = await batchOf(1);
    const admission = await admitHost({ batchId: batch.id, round: 0, host: item(hosts[0]!) }, rolloutDeps());
    const task = (await tasks.getTask(admission.taskId!))!;

    await cancelBatch(batch.id, 'bob', deps);

    expect(workflow.stopped).toEqual([
      {
        executionArn: task.executor,
        error: 'BatchCancelled',
        cause: `Batch task ${batch.id} was cancelled by bob`,
      },
    ]);
  });

  it('ends the batch at once when no host is running', async () => {
    const { batch } = await batchOf(2);

    const cancelled = await cancelBatch(batch.id, 'bob', deps);

    expect(cancelled).toMatchObject({ status: 'FAILED', operation: 'CANCEL', endTime: expect.any(String) });
    expect((await stored(batch)).hosts.map((host) => host.status)).toEqual(['CANCELED', 'CANCELED']);
  });

  it('admits no host once cancelled, and the rollout then ends the batch', async () => {
    const { batch, hosts } = await batchOf(3);
    await runHost(batch, hosts[0]!, 'SUCCESSFUL');
    const running = await admitHost({ batchId: batch.id, round: 0, host: item(hosts[1]!) }, rolloutDeps());
    await cancelBatch(batch.id, 'bob', deps);

    const late = await admitHost({ batchId: batch.id, round: 0, host: item(hosts[2]!) }, rolloutDeps());
    await endStoredTask(tasks, running.taskId!, 'FAILED');
    await recordHostOutcome(
      { batchId: batch.id, round: 0, host: item(hosts[1]!), taskId: running.taskId!, healthCheckSeconds: 0 },
      rolloutDeps(),
    );
    await finishBatch({ batchId: batch.id, round: 0 }, rolloutDeps());

    expect(late.admitted).toBe(false);
    const after = await stored(batch);
    expect(after.hosts.map((host) => host.status)).toEqual(['SUCCESSFUL', 'FAILED', 'CANCELED']);
    expect(after.batch).toMatchObject({ status: 'FAILED', operation: 'CANCEL' });
  });

  it('is refused for a batch that has ended', async () => {
    const { batch } = await batchOf(1);
    await cancelBatch(batch.id, 'bob', deps);

    await expect(cancelBatch(batch.id, 'bob', deps)).rejects.toBeInstanceOf(TaskStateInvalid);
  });
});

describe('getBatchView', () => {
  it('shows each host’s restart task’s subtasks where it has one, the reserved ids where not', async () => {
    const { batch, hosts } = await batchOf(2);
    const taskId = await runHost(batch, hosts[0]!, 'SUCCESSFUL');

    const view = await getBatchView(batch.id, deps);

    const task = (await tasks.getTask(taskId))!;
    expect(view.subtasks.filter((subtask) => subtask.parallelIdx === 0)).toEqual(
      task.subtasks.map((subtask) => expect.objectContaining({ id: subtask.id, status: 'SUCCESSFUL' })),
    );
    expect(view.subtasks.find((subtask) => subtask.parallelIdx === 1)).toMatchObject({
      id: reservedTaskId(batch, 1) + 1,
      status: 'READY',
    });
    expect(view.hosts).toEqual([
      { hostId: hosts[0]!.hostId, status: 'SUCCESSFUL', taskId },
      { hostId: hosts[1]!.hostId, status: 'PENDING' },
    ]);
  });

  it('answers TaskNotFound for an id that names no batch', async () => {
    await expect(getBatchView(987_654_321, deps)).rejects.toBeInstanceOf(TaskNotFound);
  });
});
