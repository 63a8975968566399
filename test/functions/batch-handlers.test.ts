import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/catalog.ts';
import { type BatchHostRecord, type BatchRecord, reservedTaskId } from '../../functions/core/batch-task.ts';
import { BatchStore } from '../../functions/store/batch-store.ts';
import { WorkflowTaskStore } from '../../functions/store/workflow-task-store.ts';
import { createStoredBatch } from '../support/batches.ts';
import { endStoredTask } from '../support/tasks.ts';
import { createTestTables, registerHost, type TestTables } from '../support/test-tables.ts';

let tables: TestTables;
let tasks: WorkflowTaskStore;
let batches: BatchStore;
let admitHost: typeof import('../../functions/admit-host.ts').handler;
let recordHostOutcome: typeof import('../../functions/record-host-outcome.ts').handler;
let finishBatch: typeof import('../../functions/finish-batch.ts').handler;
let created: { batch: BatchRecord; hosts: BatchHostRecord[] };

beforeAll(async () => {
  tables = await createTestTables();
  process.env[ENV.stateMachineArn] = 'arn:aws:states:us-east-1:1:stateMachine:sm';
  process.env[ENV.commandOutputLogGroup] = '/ocp/command-output';
  process.env[ENV.commandDocuments] = JSON.stringify({ agentStatus: 'doc-status' });
  tasks = new WorkflowTaskStore(tables.taskTable);
  batches = new BatchStore(tables.taskTable);
  await registerHost(tables, { hostId: 1, instanceId: 'mi-00000000000000001' });
  await registerHost(tables, { hostId: 2, instanceId: 'mi-00000000000000002' });
  created = await createStoredBatch(tasks, batches, [1, 2]);
  ({ handler: admitHost } = await import('../../functions/admit-host.ts'));
  ({ handler: recordHostOutcome } = await import('../../functions/record-host-outcome.ts'));
  ({ handler: finishBatch } = await import('../../functions/finish-batch.ts'));
});

describe('the batch state machine’s functions', () => {
  it('answer each state as its Parameters send and its ResultSelector reads', async () => {
    const { batch } = created;
    const taskId = reservedTaskId(batch, 0);

    const admitted = await admitHost({ batchId: batch.id, round: 0, host: { index: 0, hostId: 1 } });
    await endStoredTask(tasks, taskId, 'SUCCESSFUL');
    const recorded = await recordHostOutcome({
      batchId: batch.id,
      round: 0,
      host: { index: 0, hostId: 1 },
      taskId,
      healthCheckSeconds: 0,
    });
    const second = await admitHost({ batchId: batch.id, round: 0, host: { index: 1, hostId: 2 } });
    await endStoredTask(tasks, second.taskId!, 'FAILED');
    await recordHostOutcome({
      batchId: batch.id,
      round: 0,
      host: { index: 1, hostId: 2 },
      taskId: second.taskId!,
      healthCheckSeconds: 0,
    });
    const finished = await finishBatch({ batchId: batch.id, round: 0 });

    expect(Object.keys(admitted).sort()).toEqual(['admitted', 'executionName', 'input', 'taskId']);
    expect(admitted).toMatchObject({ admitted: true, taskId, executionName: `task-${taskId}` });
    expect(recorded).toEqual({ status: 'SUCCESSFUL' });
    expect(finished).toEqual({ status: 'FAILED' });
  });

  it('answer all four fields, null, for a host not admitted', async () => {
    const answer = await admitHost({ batchId: created.batch.id, round: 0, host: { index: 0, hostId: 1 } });

    expect(answer).toEqual({ admitted: false, taskId: null, executionName: null, input: null });
  });

  it.each([
    ['a host without its index', { batchId: 1, round: 0, host: { hostId: 1 } }, ['host', 'index']],
    ['a negative round', { batchId: 1, round: -1, host: { index: 0, hostId: 1 } }, ['round']],
    ['a fractional batch id', { batchId: 1.5, round: 0, host: { index: 0, hostId: 1 } }, ['batchId']],
  ])('refuse an event with %s', async (_case, event, path) => {
    await expect(admitHost(event)).rejects.toMatchObject({ issues: [expect.objectContaining({ path })] });
  });

  it('refuse a finish without its round', async () => {
    await expect(finishBatch({ batchId: created.batch.id })).rejects.toMatchObject({
      issues: [expect.objectContaining({ path: ['round'] })],
    });
  });

  it('refuse a health check longer than a batch may ask', async () => {
    await expect(
      recordHostOutcome({
        batchId: created.batch.id,
        round: 0,
        host: { index: 0, hostId: 1 },
        taskId: 1,
        healthCheckSeconds: 601,
      }),
    ).rejects.toMatchObject({ issues: [expect.objectContaining({ path: ['healthCheckSeconds'] })] });
  });
});
