import { marshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dynamodb } from '../../../functions/aws/dynamodb.ts';
import type { DryRunAnswer } from '../../../functions/core/batch-dry-run.ts';
import { BATCH_TASK_NAME } from '../../../functions/core/batch-task.ts';
import { HostsNotFound, InvalidArgument } from '../../../functions/core/errors.ts';
import { BatchStore } from '../../../functions/store/batch-store.ts';
import { putItems } from '../../../functions/store/bulk-items.ts';
import { HostRegistry } from '../../../functions/store/host-registry.ts';
import { matchingCount } from '../../../functions/store/task-counters.ts';
import { TaskStore } from '../../../functions/store/task-store.ts';
import {
  type BatchRestartDependencies,
  type StartedBatch,
  startBatchRestart,
} from '../../../functions/use-cases/start-batch-restart.ts';
import { executionArnFor } from '../../../functions/use-cases/start-restart-task.ts';
import { BATCH_STATE_MACHINE_ARN } from '../../support/batches.ts';
import { FakeHostCommands, FakeWorkflow } from '../../support/fake-ports.ts';
import { createRestartTask } from '../../support/tasks.ts';
import { createTestTables, registerHost, type TestTables, tableItems } from '../../support/test-tables.ts';

let tables: TestTables;
let tasks: TaskStore;
let workflow: FakeWorkflow;
let hostCommands: FakeHostCommands;
let deps: BatchRestartDependencies;
let nextHost = 1;

beforeAll(async () => {
  tables = await createTestTables();
  tasks = new TaskStore(tables.taskTable);
});

beforeEach(() => {
  workflow = new FakeWorkflow();
  hostCommands = new FakeHostCommands();
  deps = {
    tasks,
    batches: new BatchStore(tables.taskTable),
    hosts: new HostRegistry(tables.hostTable),
    workflow,
    hostCommands,
    batchStateMachineArn: BATCH_STATE_MACHINE_ARN,
  };
});

const instanceOf = (hostId: number) => `mi-${String(hostId).padStart(17, '0')}`;

async function registeredHosts(count: number): Promise<number[]> {
  const hostIds = Array.from({ length: count }, () => nextHost++);
  for (const hostId of hostIds) await registerHost(tables, { hostId, instanceId: instanceOf(hostId) });
  return hostIds;
}

const start = (body: unknown) => startBatchRestart({ body, creator: 'alice', type: 'MANUAL' }, deps);

/** Every item but the id counter (a refused request may have taken no id, a failed start some). */
const itemsBesideIds = async () =>
  (await tableItems(tables.taskTable)).filter((item) => item.pk !== 'COUNTER');

/** The batches counted in the task counters, all statuses. */
const batchesCounted = async () =>
  (await tableItems(tables.taskTable))
    .filter((item) => item.pk === 'COUNT#TASKS')
    .reduce((total, counter) => total + matchingCount(counter, { name: BATCH_TASK_NAME }), 0);

/** The calls the DynamoDB client made while `act` ran, by command. */
async function dynamoCalls(act: () => Promise<unknown>): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? 'unknown';
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  try {
    await act();
  } finally {
    dynamodb.middlewareStack.remove('countCalls');
  }
  return calls;
}

describe('startBatchRestart', () => {
  it('writes the batch, its hosts PENDING, and starts its execution named after it with the hosts to restart', async () => {
    const hostIds = await registeredHosts(3);

    const answer = (await start({
      hostIds,
      rollout: { maxConcurrency: 2, maxErrors: '50%', healthCheckSeconds: 30 },
    })) as StartedBatch;

    const { batch, hosts } = answer;
    expect(batch).toMatchObject({
      status: 'RUNNING',
      operation: 'EXECUTE',
      creator: 'alice',
      hostCount: 3,
      rollout: { maxConcurrency: 2, maxErrors: 1, healthCheckSeconds: 30 },
      executor: executionArnFor(BATCH_STATE_MACHINE_ARN, `batch-${batch.id}`),
    });
    expect(await deps.batches.getBatch(batch.id)).toEqual({ batch, hosts });
    expect(hosts.map((host) => [host.hostId, host.status])).toEqual(hostIds.map((id) => [id, 'PENDING']));
    expect(workflow.started).toEqual([
      {
        stateMachineArn: BATCH_STATE_MACHINE_ARN,
        name: `batch-${batch.id}`,
        input: {
          batchId: batch.id,
          round: 0,
          hosts: hostIds.map((hostId, index) => ({ index, hostId })),
          rollout: { maxConcurrency: 2, healthCheckSeconds: 30 },
        },
      },
    ]);
  });

  it('takes no host’s lock and creates no restart task: each host’s comes at its turn', async () => {
    const hostIds = await registeredHosts(2);

    await start({ hostIds });

    for (const hostId of hostIds) expect(await tasks.lockHolder(hostId)).toBeUndefined();
    const restartTasks = (await tableItems(tables.taskTable)).filter(
      (item) => item.sk === 'TASK' && hostIds.includes(Number(item.host)),
    );
    expect(restartTasks).toEqual([]);
  });

  it('does not refuse a host another operation holds: the rollout decides at its turn', async () => {
    const [busy, free] = await registeredHosts(2);
    await createRestartTask(tasks, busy!);

    const answer = await start({ hostIds: [busy, free] });

    expect(answer.dryRun).toBe(false);
    expect(workflow.started).toHaveLength(1);
  });

  it('refuses an invalid body naming the field, writing nothing and starting nothing', async () => {
    const before = await tableItems(tables.taskTable);

    await expect(start({ hostIds: [1, 1] })).rejects.toMatchObject({
      name: 'InvalidArgument',
      target: 'hostIds',
    });
    await expect(start({ hostIds: [1], rollout: { maxErrors: '101%' } })).rejects.toBeInstanceOf(
      InvalidArgument,
    );

    expect(await tableItems(tables.taskTable)).toEqual(before);
    expect(workflow.started).toEqual([]);
  });

  it('refuses hosts that do not exist, naming them all, writing nothing and starting nothing', async () => {
    const [known] = await registeredHosts(1);
    const invalid = nextHost++;
    await registerHost(tables, { hostId: invalid, instanceId: 'not-an-instance; rm -rf /' });
    const before = await tableItems(tables.taskTable);

    const refusal = await start({ hostIds: [known, 999_001, invalid, 999_002] }).catch(
      (error: unknown) => error,
    );

    expect(refusal).toBeInstanceOf(HostsNotFound);
    expect(refusal).toMatchObject({ httpStatus: 404, hostIds: [999_001, invalid, 999_002] });
    expect((refusal as Error).message).toBe(`Hosts 999001, ${invalid}, 999002 do not exist.`);
    expect(await tableItems(tables.taskTable)).toEqual(before);
    expect(workflow.started).toEqual([]);
  });

  it('deletes what it wrote when the execution cannot be started', async () => {
    const hostIds = await registeredHosts(2);
    workflow.failing.startExecution = new Error('ExecutionLimitExceeded');
    const before = await itemsBesideIds();
    const counted = await batchesCounted();

    await expect(start({ hostIds })).rejects.toThrow('ExecutionLimitExceeded');

    const after = await itemsBesideIds();
    const notCounters = (items: Record<string, unknown>[]) =>
      items.filter((item) => !String(item.pk).startsWith('COUNT#'));
    expect(notCounters(after)).toEqual(notCounters(before));
    expect(await batchesCounted()).toBe(counted);
  });
});

describe('startBatchRestart, dry run', () => {
  it('answers the plan — hosts known, busy, their ping, their wave — writing nothing and starting nothing', async () => {
    const [online, offline, busy, last] = await registeredHosts(4);
    const holder = await createRestartTask(tasks, busy!);
    hostCommands.pings.set(instanceOf(offline!), 'ConnectionLost');
    const before = await tableItems(tables.taskTable);

    const answer = (await start({
      hostIds: [online, offline, 999_003, busy, last],
      rollout: { maxConcurrency: 2, maxErrors: 1 },
      dryRun: true,
    })) as DryRunAnswer;

    expect(answer).toMatchObject({
      dryRun: true,
      hostCount: 5,
      unknownHostIds: [999_003],
      busyHosts: [{ hostId: busy, taskId: holder.id }],
      unreachableHosts: [{ hostId: offline, pingStatus: 'ConnectionLost' }],
      // The offline host is expected to fail in wave 1, the busy one counts at its turn: 2 > maxErrors.
      stoppedHostIds: [last],
      waves: 1,
    });
    expect(answer.hosts).toEqual([
      { hostId: online, index: 0, known: true, pingStatus: 'Online', plan: 'start', wave: 1 },
      { hostId: offline, index: 1, known: true, pingStatus: 'ConnectionLost', plan: 'start', wave: 1 },
      { hostId: 999_003, index: 2, known: false, plan: 'unknown', reason: 'Host 999003 does not exist.' },
      {
        hostId: busy,
        index: 3,
        known: true,
        busyTaskId: holder.id,
        pingStatus: 'Online',
        plan: 'notStarted',
        reason: expect.stringContaining(`task ${holder.id}`),
      },
      {
        hostId: last,
        index: 4,
        known: true,
        pingStatus: 'Online',
        plan: 'notStarted',
        reason: expect.stringContaining('more than maxErrors (1)'),
      },
    ]);
    expect(answer.estimatedSeconds).toBeGreaterThan(0);
    expect(hostCommands.pingsAsked).toEqual([[online, offline, busy, last].map((id) => instanceOf(id!))]);
    expect(await tableItems(tables.taskTable)).toEqual(before);
    expect(workflow.started).toEqual([]);
  });

  it('reads 1,000 hosts and their locks 100 to a call, never one by one', async () => {
    const hostIds = Array.from({ length: 1000 }, (_, i) => 1_000_000 + i);
    await putItems(
      tables.hostTable,
      hostIds.map((hostId) =>
        marshall({ hostId, instanceId: instanceOf(hostId), agentHome: '/home/admin/ocp_agent' }),
      ),
    );

    let answer: DryRunAnswer | undefined;
    const calls = await dynamoCalls(async () => {
      answer = (await start({ hostIds, dryRun: true })) as DryRunAnswer;
    });

    expect(answer?.unknownHostIds).toEqual([]);
    expect(answer?.hosts.filter((host) => host.plan === 'start')).toHaveLength(1000);
    expect(answer?.waves).toBe(20);
    expect(calls.get('BatchGetItemCommand')).toBe(20);
    expect(calls.get('GetItemCommand')).toBeUndefined();
  });
});
