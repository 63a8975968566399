import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BATCH_TASK_NAME,
  type BatchHostRecord,
  type BatchRecord,
  hostStarted,
  idsPerBatch,
  ROLLOUT_ENDED_REASON,
  reservedTaskId,
} from '../../../functions/core/batch-task.ts';
import type { RolloutSettings } from '../../../functions/core/rollout.ts';
import { ocpTimestamp } from '../../../functions/core/time.ts';
import { BatchStore } from '../../../functions/store/batch-store.ts';
import { HostRegistry } from '../../../functions/store/host-registry.ts';
import { bucketCounterKey, creationBucket } from '../../../functions/store/table-schema.ts';
import { WorkflowTaskStore } from '../../../functions/store/workflow-task-store.ts';
import {
  admitHost,
  finishBatch,
  HostRestartStillRunning,
  type OutcomeDependencies,
  recordHostOutcome,
} from '../../../functions/use-cases/batch-rollout.ts';
import { executionArnFor } from '../../../functions/use-cases/start-restart-task.ts';
import { createStoredBatch, rolloutOf } from '../../support/batches.ts';
import { FakeHostCommands, FakeWorkflow, invocationOf } from '../../support/fake-ports.ts';
import { createRestartTask, endStoredTask } from '../../support/tasks.ts';
import {
  createTestTables,
  registerHost,
  type TestTables,
  tableItems,
  testDynamoDb,
} from '../../support/test-tables.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:1:stateMachine:sm';
let tables: TestTables;
let tasks: WorkflowTaskStore;
let batches: BatchStore;
let workflow: FakeWorkflow;
let hostCommands: FakeHostCommands;
let deps: OutcomeDependencies;
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
    agentStatusDocument: 'status-doc',
    statusWaitSeconds: 1,
  };
});

const instanceOf = (hostId: number) => `mi-${String(hostId).padStart(17, '0')}`;

/** A stored batch of `count` registered hosts, as startBatchRestart leaves it. */
async function batchOf(count: number, rollout: RolloutSettings = rolloutOf(5, 0)) {
  const hostIds = Array.from({ length: count }, () => nextHost++);
  for (const hostId of hostIds) await registerHost(tables, { hostId, instanceId: instanceOf(hostId) });
  return createStoredBatch(tasks, batches, hostIds, { rollout });
}

const item = (host: BatchHostRecord) => ({ index: host.index, hostId: host.hostId });
const admit = (batch: BatchRecord, host: BatchHostRecord, round = 0) =>
  admitHost({ batchId: batch.id, round, host: item(host) }, deps);
const stored = async (batch: BatchRecord) => (await batches.getBatch(batch.id))!;
const storedHost = async (batch: BatchRecord, index: number) => (await stored(batch)).hosts[index]!;
const record = (
  batch: BatchRecord,
  host: BatchHostRecord,
  taskId: number,
  healthCheckSeconds = 0,
  round = 0,
) => recordHostOutcome({ batchId: batch.id, round, host: item(host), taskId, healthCheckSeconds }, deps);

/** Writes a host of the batch as the rollout would have left it. */
async function setHost(batch: BatchRecord, index: number, change: Partial<BatchHostRecord>) {
  const host = await storedHost(batch, index);
  return batches.saveHost(host, { ...host, ...change });
}

/** Admits a host and ends its restart task as its execution would. */
async function restarted(batch: BatchRecord, host: BatchHostRecord, status: 'SUCCESSFUL' | 'FAILED') {
  const admission = await admit(batch, host);
  if (!admission.admitted) throw new Error(`host ${host.index} not admitted`);
  await endStoredTask(tasks, admission.taskId, status, { failure: () => 'Subtask failed: boom.' });
  return admission.taskId;
}

describe('admitHost', () => {
  it('creates the host’s restart task with the ids reserved for it and answers the execution to start', async () => {
    const { batch, hosts } = await batchOf(2);
    const host = hosts[1]!;

    const admission = await admit(batch, host);

    const taskId = reservedTaskId(batch, 1);
    expect(admission).toEqual({
      admitted: true,
      taskId,
      executionName: `task-${taskId}`,
      input: {
        taskId,
        hostId: host.hostId,
        instanceId: instanceOf(host.hostId),
        agentHome: '/home/admin/ocp_agent',
        controlScript: 'bin/ocp_agentctl',
      },
    });
    const task = await tasks.getTask(taskId);
    expect(task).toMatchObject({
      status: 'RUNNING',
      hostId: host.hostId,
      creator: batch.creator,
      type: batch.type,
      executor: executionArnFor(STATE_MACHINE_ARN, `task-${taskId}`),
      reason: `Part of batch task ${batch.id}.`,
    });
    expect(await tasks.lockHolder(host.hostId)).toBe(taskId);
    expect(await storedHost(batch, 1)).toMatchObject({
      status: 'RUNNING',
      taskId,
      startTime: expect.any(String),
    });
    // The Map's child execution starts it, not the admission.
    expect(workflow.started).toEqual([]);
  });

  it('answers the same task again when asked again, writing nothing more', async () => {
    const { batch, hosts } = await batchOf(1);
    const first = await admit(batch, hosts[0]!);
    const before = await tableItems(tables.taskTable);

    const again = await admit(batch, hosts[0]!);

    expect(again).toEqual(first);
    expect(await tableItems(tables.taskTable)).toEqual(before);
  });

  it('creates the task when an earlier call recorded the host RUNNING and stopped before writing it', async () => {
    const { batch, hosts } = await batchOf(1);
    const taskId = reservedTaskId(batch, 0);
    await batches.saveHost(hosts[0]!, hostStarted(batch, hosts, 0, taskId, new Date())!);

    const admission = await admit(batch, hosts[0]!);

    expect(admission).toMatchObject({ admitted: true, taskId });
    expect(await tasks.getTask(taskId)).toMatchObject({ status: 'RUNNING', hostId: hosts[0]!.hostId });
  });

  it('writes no task for a host recorded RUNNING without one once the batch is being cancelled', async () => {
    const { batch, hosts } = await batchOf(1);
    const taskId = reservedTaskId(batch, 0);
    await batches.saveHost(hosts[0]!, hostStarted(batch, hosts, 0, taskId, new Date())!);
    await batches.saveBatch(batch, { ...batch, operation: 'CANCEL' });

    const admission = await admit(batch, hosts[0]!);
    await finishBatch({ batchId: batch.id, round: 0 }, deps);

    expect(admission.admitted).toBe(false);
    expect(await tasks.getTask(taskId)).toBeUndefined();
    expect(await storedHost(batch, 0)).toMatchObject({
      status: 'FAILED',
      error: `Its restart task ${taskId} does not exist.`,
    });
  });

  it('does not start a host another operation holds, naming its task, and counts it against maxErrors', async () => {
    const { batch, hosts } = await batchOf(2, rolloutOf(5, 0));
    const holder = await createRestartTask(tasks, hosts[0]!.hostId);

    const busy = await admit(batch, hosts[0]!);
    const next = await admit(batch, hosts[1]!);

    expect(busy).toEqual({ admitted: false, taskId: null, executionName: null, input: null });
    expect(await storedHost(batch, 0)).toMatchObject({
      status: 'NOT_STARTED',
      busyWithTaskId: holder.id,
      reason: expect.stringContaining(`task ${holder.id}`),
    });
    expect(await tasks.getTask(reservedTaskId(batch, 0))).toBeUndefined();
    expect(next.admitted).toBe(false);
    expect(await storedHost(batch, 1)).toMatchObject({
      status: 'NOT_STARTED',
      reason: expect.stringContaining('more than maxErrors (0)'),
    });
  });

  it('records the host busy when another operation takes it between the look and the write', async () => {
    const { batch, hosts } = await batchOf(1);
    const blind = Object.assign(Object.create(tasks) as WorkflowTaskStore, {
      lockHolder: async () => undefined,
    });
    const holder = await createRestartTask(tasks, hosts[0]!.hostId);

    const admission = await admitHost(
      { batchId: batch.id, round: 0, host: item(hosts[0]!) },
      { ...deps, tasks: blind },
    );

    expect(admission.admitted).toBe(false);
    const host = await storedHost(batch, 0);
    expect(host).toMatchObject({ status: 'NOT_STARTED', busyWithTaskId: holder.id });
    expect(host.taskId).toBeUndefined();
    expect(await tasks.getTask(reservedTaskId(batch, 0))).toBeUndefined();
  });

  it('admits no host once the failures exceed maxErrors', async () => {
    const { batch, hosts } = await batchOf(4, rolloutOf(5, 1));
    await setHost(batch, 0, { status: 'FAILED', taskId: 1, error: 'boom' });
    expect((await admit(batch, hosts[1]!)).admitted).toBe(true);
    await setHost(batch, 1, { status: 'FAILED', error: 'boom' });
    const before = (await tableItems(tables.taskTable)).filter((entry) => entry.sk === 'TASK').length;

    const third = await admit(batch, hosts[2]!);
    const fourth = await admit(batch, hosts[3]!);

    expect([third.admitted, fourth.admitted]).toEqual([false, false]);
    for (const index of [2, 3])
      expect(await storedHost(batch, index)).toMatchObject({
        status: 'NOT_STARTED',
        reason:
          '2 hosts of the batch failed or were busy, more than maxErrors (1) allows: no new host starts',
      });
    expect((await tableItems(tables.taskTable)).filter((entry) => entry.sk === 'TASK')).toHaveLength(before);
  });

  it('leaves a host PENDING while as many hosts run as maxConcurrency allows', async () => {
    const { batch, hosts } = await batchOf(2, rolloutOf(1, 0));
    await admit(batch, hosts[0]!);

    const admission = await admit(batch, hosts[1]!);

    expect(admission.admitted).toBe(false);
    expect((await storedHost(batch, 1)).status).toBe('PENDING');
  });

  it('admits no host of a batch being cancelled, and changes nothing', async () => {
    const { batch, hosts } = await batchOf(1);
    await batches.saveBatch(batch, { ...batch, operation: 'CANCEL' });
    const before = await tableItems(tables.taskTable);

    expect((await admit(batch, hosts[0]!)).admitted).toBe(false);

    expect(await tableItems(tables.taskTable)).toEqual(before);
  });

  it('changes nothing for a call of an earlier round than the batch’s', async () => {
    const { batch, hosts } = await batchOf(1);
    const retried = await batches.saveBatch(batch, {
      ...batch,
      operation: 'RETRY',
      executor: `${batch.executor}-1`,
    });
    const before = await tableItems(tables.taskTable);

    expect((await admit(retried, hosts[0]!, 0)).admitted).toBe(false);

    expect(await tableItems(tables.taskTable)).toEqual(before);
  });

  it('gives a host of a later round a restart task with fresh ids', async () => {
    const { batch, hosts } = await batchOf(1);
    await batches.saveBatch(batch, { ...batch, operation: 'RETRY', executor: `${batch.executor}-1` });

    const admission = await admit(batch, hosts[0]!, 1);

    expect(admission.admitted).toBe(true);
    expect(admission.taskId).toBeGreaterThanOrEqual(batch.id + idsPerBatch(1));
    expect(await tasks.getTask(admission.taskId!)).toMatchObject({ hostId: hosts[0]!.hostId });
  });

  it('fails a host deregistered since the batch started, creating no task', async () => {
    const { batch, hosts } = await batchOf(1);
    await testDynamoDb.send(
      new DeleteItemCommand({ TableName: tables.hostTable, Key: marshall({ hostId: hosts[0]!.hostId }) }),
    );

    expect((await admit(batch, hosts[0]!)).admitted).toBe(false);

    expect(await storedHost(batch, 0)).toMatchObject({
      status: 'FAILED',
      error: `Host ${hosts[0]!.hostId} does not exist.`,
    });
    expect(await tasks.getTask(reservedTaskId(batch, 0))).toBeUndefined();
  });
});

describe('recordHostOutcome', () => {
  it('records a host SUCCESSFUL when its restart task succeeded, without a health check at 0 s', async () => {
    const { batch, hosts } = await batchOf(1);
    const taskId = await restarted(batch, hosts[0]!, 'SUCCESSFUL');

    expect(await record(batch, hosts[0]!, taskId)).toEqual({ status: 'SUCCESSFUL' });

    expect(await storedHost(batch, 0)).toMatchObject({
      status: 'SUCCESSFUL',
      taskId,
      endTime: expect.any(String),
    });
    expect(hostCommands.sent).toEqual([]);
  });

  it('records a host FAILED at the subtask its restart failed at, with its error', async () => {
    const { batch, hosts } = await batchOf(1);
    const taskId = await restarted(batch, hosts[0]!, 'FAILED');
    const task = await tasks.getTask(taskId);
    const failed = task!.subtasks.find((subtask) => subtask.status === 'FAILED')!;

    await record(batch, hosts[0]!, taskId);

    expect(await storedHost(batch, 0)).toMatchObject({
      status: 'FAILED',
      failedSubtask: failed.index,
      error: failed.error,
    });
  });

  it('ends a task still RUNNING whose execution has ended, as the reconciler would, then records it', async () => {
    const { batch, hosts } = await batchOf(1);
    const admission = await admit(batch, hosts[0]!);
    const task = (await tasks.getTask(admission.taskId!))!;
    workflow.executions.set(task.executor, {
      status: 'FAILED',
      error: 'SubtaskFailed',
      cause: 'Subtask failed: the agent would not stop.',
      stopDate: new Date(),
      input: JSON.stringify(admission.input),
    });

    await record(batch, hosts[0]!, task.id);

    expect((await tasks.getTask(task.id))!.status).toBe('FAILED');
    expect(await tasks.lockHolder(hosts[0]!.hostId)).toBeUndefined();
    expect(await storedHost(batch, 0)).toMatchObject({ status: 'FAILED', taskId: task.id });
  });

  it('asks to be called again while the restart task’s execution still runs, recording nothing', async () => {
    const { batch, hosts } = await batchOf(1);
    const admission = await admit(batch, hosts[0]!);
    const task = (await tasks.getTask(admission.taskId!))!;
    workflow.executions.set(task.executor, { status: 'RUNNING' });

    await expect(record(batch, hosts[0]!, task.id)).rejects.toBeInstanceOf(HostRestartStillRunning);

    expect((await storedHost(batch, 0)).status).toBe('RUNNING');
  });

  it('changes nothing when asked again, sending no second status command', async () => {
    const { batch, hosts } = await batchOf(1);
    const taskId = await restarted(batch, hosts[0]!, 'SUCCESSFUL');
    await withStatus(hosts[0]!, taskId, { ocp_agentd: 11 }, { ocp_agentd: 11 });
    await record(batch, hosts[0]!, taskId, 30);
    const before = await tableItems(tables.taskTable);
    const sent = hostCommands.sent.length;

    expect(await record(batch, hosts[0]!, taskId, 30)).toEqual({ status: 'SUCCESSFUL' });

    expect(await tableItems(tables.taskTable)).toEqual(before);
    expect(hostCommands.sent).toHaveLength(sent);
  });

  it('changes nothing for another task than the host’s', async () => {
    const { batch, hosts } = await batchOf(1);
    const taskId = await restarted(batch, hosts[0]!, 'SUCCESSFUL');
    const before = await tableItems(tables.taskTable);

    expect(await record(batch, hosts[0]!, taskId + 1000)).toEqual({ status: 'RUNNING' });

    expect(await tableItems(tables.taskTable)).toEqual(before);
  });

  it('changes nothing for a call of an earlier round than the batch’s', async () => {
    const { batch, hosts } = await batchOf(1);
    const taskId = await restarted(batch, hosts[0]!, 'SUCCESSFUL');
    await batches.saveBatch(batch, { ...batch, executor: `${batch.executor}-1` });
    const before = await tableItems(tables.taskTable);

    await record(batch, hosts[0]!, taskId, 0, 0);

    expect(await tableItems(tables.taskTable)).toEqual(before);
  });

  /**
   * The Finish subtask's log reporting `restarted` pids, and the host's status command (cmd-1 of the
   * fake) answering `now` (null: not running).
   */
  async function withStatus(
    host: BatchHostRecord,
    taskId: number,
    restartedPids: Record<string, number>,
    now: Record<string, number | null>,
  ) {
    const task = (await tasks.getTask(taskId))!;
    await tasks.putLog(taskId, task.subtasks[4]!.id, {
      attempt: task.subtasks[4]!.runTime,
      commandId: 'finish-cmd',
      exitCode: 0,
      stdout: Object.entries(restartedPids)
        .map(([name, pid]) => `${name} is running with new pid ${pid} (before the restart: ${pid - 1})`)
        .join('\n'),
      stderr: '',
      recordedAt: ocpTimestamp(new Date()),
    });
    hostCommands.invocations.set(
      'cmd-1',
      invocationOf('cmd-1', instanceOf(host.hostId), {
        stdout: JSON.stringify({
          processes: Object.entries(now).map(([name, pid]) => ({ name, pid, running: pid !== null })),
        }),
      }),
    );
  }

  it('passes the health check when every process still runs with the pid its restart started', async () => {
    const { batch, hosts } = await batchOf(1);
    const taskId = await restarted(batch, hosts[0]!, 'SUCCESSFUL');
    await withStatus(hosts[0]!, taskId, { ocp_agentd: 11, pos_proxy: 12 }, { ocp_agentd: 11, pos_proxy: 12 });

    await record(batch, hosts[0]!, taskId, 30);

    expect((await storedHost(batch, 0)).status).toBe('SUCCESSFUL');
    expect(hostCommands.sent).toEqual([
      expect.objectContaining({ documentName: 'status-doc', instanceId: instanceOf(hosts[0]!.hostId) }),
    ]);
  });

  it('fails the host when a process’s pid changed since its restart, naming both pids', async () => {
    const { batch, hosts } = await batchOf(1);
    const taskId = await restarted(batch, hosts[0]!, 'SUCCESSFUL');
    await withStatus(hosts[0]!, taskId, { ocp_agentd: 11, pos_proxy: 12 }, { ocp_agentd: 11, pos_proxy: 99 });

    await record(batch, hosts[0]!, taskId, 30);

    expect(await storedHost(batch, 0)).toMatchObject({
      status: 'FAILED',
      taskId,
      error:
        "Health check failed: agent process pos_proxy's pid changed from 12 to 99 within 30 s of its restart.",
    });
  });

  it('fails the host when a process does not run any more', async () => {
    const { batch, hosts } = await batchOf(1);
    const taskId = await restarted(batch, hosts[0]!, 'SUCCESSFUL');
    await withStatus(hosts[0]!, taskId, { ocp_agentd: 11 }, { ocp_agentd: null });

    await record(batch, hosts[0]!, taskId, 30);

    expect(await storedHost(batch, 0)).toMatchObject({
      status: 'FAILED',
      error: 'Health check failed: agent process ocp_agentd is not running 30 s after its restart.',
    });
  });

  it('fails the host when its status cannot be read', async () => {
    const { batch, hosts } = await batchOf(1);
    const taskId = await restarted(batch, hosts[0]!, 'SUCCESSFUL');
    hostCommands.invocations.set(
      'cmd-1',
      invocationOf('cmd-1', instanceOf(hosts[0]!.hostId), { status: 'Pending', exitCode: -1 }),
    );

    await record(batch, hosts[0]!, taskId, 30);

    expect(await storedHost(batch, 0)).toMatchObject({
      status: 'FAILED',
      error: expect.stringMatching(
        /^Health check failed 30 s after the restart: Host \d+ cannot be reached through SSM/,
      ),
    });
  });

  it('lets a refusal of SSM that may pass through, for the state to try again', async () => {
    const { batch, hosts } = await batchOf(1);
    const taskId = await restarted(batch, hosts[0]!, 'SUCCESSFUL');
    hostCommands.failing.send = new Error('ThrottlingException');

    await expect(record(batch, hosts[0]!, taskId, 30)).rejects.toThrow('ThrottlingException');

    expect((await storedHost(batch, 0)).status).toBe('RUNNING');
  });
});

describe('finishBatch', () => {
  const finish = (batch: BatchRecord, round = 0) => finishBatch({ batchId: batch.id, round }, deps);

  it('ends a batch whose every host succeeded SUCCESSFUL, and counts it so', async () => {
    const { batch, hosts } = await batchOf(2);
    for (const host of hosts) await record(batch, host, await restarted(batch, host, 'SUCCESSFUL'));

    expect(await finish(batch)).toEqual({ status: 'SUCCESSFUL' });

    const { batch: ended } = await stored(batch);
    expect(ended).toMatchObject({ status: 'SUCCESSFUL', endTime: expect.any(String) });
    const counter = (await tableItems(tables.taskTable)).find(
      (entry) =>
        entry.pk === bucketCounterKey(creationBucket(batch.startTime), batch.id).pk &&
        entry.sk === bucketCounterKey(creationBucket(batch.startTime), batch.id).sk,
    );
    expect(Number(counter?.[`SUCCESSFUL#${BATCH_TASK_NAME}`])).toBeGreaterThan(0);
  });

  it('gives every host the threshold stopped its reason, and fails the batch', async () => {
    const { batch, hosts } = await batchOf(3, rolloutOf(5, 0));
    await record(batch, hosts[0]!, await restarted(batch, hosts[0]!, 'FAILED'));

    expect(await finish(batch)).toEqual({ status: 'FAILED' });

    const { hosts: after } = await stored(batch);
    expect(after.map((host) => host.status)).toEqual(['FAILED', 'NOT_STARTED', 'NOT_STARTED']);
    for (const host of after.slice(1)) expect(host.reason).toContain('more than maxErrors (0)');
  });

  it('says of hosts the rollout never came to that it ended before they started', async () => {
    const { batch, hosts } = await batchOf(2, rolloutOf(5, 5));
    await record(batch, hosts[0]!, await restarted(batch, hosts[0]!, 'SUCCESSFUL'));

    await finish(batch);

    expect(await storedHost(batch, 1)).toMatchObject({ status: 'NOT_STARTED', reason: ROLLOUT_ENDED_REASON });
    expect((await stored(batch)).batch.status).toBe('FAILED');
  });

  it('says how the execution ended when it ended before its last state, once the batch is ended', async () => {
    const { batch, hosts } = await batchOf(2, rolloutOf(5, 5));
    await record(batch, hosts[0]!, await restarted(batch, hosts[0]!, 'SUCCESSFUL'));
    const executionEnd = { status: 'FAILED' as const, error: 'States.Runtime' };

    expect(await finishBatch({ batchId: batch.id, round: 0, executionEnd }, deps)).toEqual({
      status: 'FAILED',
    });
    expect(await storedHost(batch, 1)).toMatchObject({
      status: 'NOT_STARTED',
      reason: "The rollout's execution failed (States.Runtime) before it started this host.",
    });
    // The execution's status event after the batch ended (or for an earlier round) changes nothing.
    const ended = await stored(batch);
    await finishBatch({ batchId: batch.id, round: 0, executionEnd: { status: 'ABORTED' } }, deps);
    await finishBatch({ batchId: batch.id, round: 1, executionEnd: { status: 'ABORTED' } }, deps);
    expect(await stored(batch)).toEqual(ended);
  });

  it('records a host left RUNNING from its task, or as failed when its task still runs', async () => {
    const { batch, hosts } = await batchOf(2);
    const ended = await restarted(batch, hosts[0]!, 'SUCCESSFUL');
    const running = await admit(batch, hosts[1]!);
    workflow.executions.set((await tasks.getTask(running.taskId!))!.executor, { status: 'RUNNING' });

    await finish(batch);

    const { hosts: after } = await stored(batch);
    expect(after[0]).toMatchObject({ status: 'SUCCESSFUL', taskId: ended });
    expect(after[1]).toMatchObject({
      status: 'FAILED',
      taskId: running.taskId,
      error: expect.stringContaining(`restart task ${running.taskId} was still running`),
    });
  });

  it('changes nothing when asked again', async () => {
    const { batch, hosts } = await batchOf(1);
    await record(batch, hosts[0]!, await restarted(batch, hosts[0]!, 'SUCCESSFUL'));
    await finish(batch);
    const before = await tableItems(tables.taskTable);

    expect(await finish(batch)).toEqual({ status: 'SUCCESSFUL' });

    expect(await tableItems(tables.taskTable)).toEqual(before);
  });

  it('changes nothing for a call of an earlier round than the batch’s', async () => {
    const { batch } = await batchOf(1);
    await batches.saveBatch(batch, { ...batch, operation: 'RETRY', executor: `${batch.executor}-1` });
    const before = await tableItems(tables.taskTable);

    expect(await finish(batch, 0)).toEqual({ status: 'RUNNING' });

    expect(await tableItems(tables.taskTable)).toEqual(before);
  });
});
