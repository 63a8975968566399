import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  PRODUCT_EVENT_SOURCE,
  RESTART_REJECTED_DETAIL_TYPE,
} from '../../../functions/core/event-patterns.ts';
import { BatchStore } from '../../../functions/store/batch-store.ts';
import { HostRegistry } from '../../../functions/store/host-registry.ts';
import { TaskStore } from '../../../functions/store/task-store.ts';
import {
  runSchedule,
  type TriggerDependencies,
  type TriggeredRestart,
  triggerBatch,
  triggerRestart,
} from '../../../functions/use-cases/trigger-restart.ts';
import { BATCH_STATE_MACHINE_ARN } from '../../support/batches.ts';
import { FakeEventBus, FakeQueues, FakeWorkflow } from '../../support/fake-ports.ts';
import { createRestartTask } from '../../support/tasks.ts';
import { createTestTables, registerHost, type TestTables, tableItems } from '../../support/test-tables.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:1:stateMachine:sm';
const REJECTED_QUEUE = 'https://sqs.us-east-1.amazonaws.com/1/rejected';
const original = { id: 'event-1', source: 'ops.tooling' };
let tables: TestTables;
let store: TaskStore;
let batches: BatchStore;
let workflow: FakeWorkflow;
let events: FakeEventBus;
let queues: FakeQueues;
let rejections: string[];
let deps: TriggerDependencies;
let nextHost = 1;

beforeAll(async () => {
  tables = await createTestTables();
  store = new TaskStore(tables.taskTable);
  batches = new BatchStore(tables.taskTable);
});

beforeEach(() => {
  workflow = new FakeWorkflow();
  events = new FakeEventBus();
  queues = new FakeQueues();
  rejections = [];
  deps = {
    tasks: store,
    batches,
    hosts: new HostRegistry(tables.hostTable),
    stateMachineArn: STATE_MACHINE_ARN,
    batchStateMachineArn: BATCH_STATE_MACHINE_ARN,
    workflow,
    eventBusName: 'bus',
    rejectedQueueUrl: REJECTED_QUEUE,
    events,
    queues,
    countRejection: (code) => rejections.push(code),
  };
});

async function registeredHost(): Promise<number> {
  const hostId = nextHost++;
  await registerHost(tables, { hostId, instanceId: `mi-${String(hostId).padStart(17, '0')}` });
  return hostId;
}

const request = (hostId: number, idempotencyKey = `event:${hostId}:${Date.now()}`): TriggeredRestart => ({
  hostId: BigInt(hostId),
  creator: 'ops.tooling',
  type: 'SYS_ONECE',
  prohibitRollback: false,
  idempotencyKey,
});

const rejectedDetails = () =>
  events.events.map((event) => {
    expect(event).toMatchObject({
      busName: 'bus',
      source: PRODUCT_EVENT_SOURCE,
      detailType: RESTART_REJECTED_DETAIL_TYPE,
    });
    return JSON.parse(event.detail) as Record<string, unknown>;
  });

describe('triggerRestart', () => {
  it('starts the host’s restart execution, named after its task, and reports nothing', async () => {
    const hostId = await registeredHost();

    const outcome = await triggerRestart(request(hostId), deps, original);

    expect(outcome).toEqual({ outcome: 'STARTED', taskId: expect.any(Number), hostId: String(hostId) });
    const taskId = (outcome as { taskId: number }).taskId;
    expect(workflow.started).toEqual([
      {
        stateMachineArn: STATE_MACHINE_ARN,
        name: `task-${taskId}`,
        input: expect.objectContaining({
          taskId,
          hostId,
          instanceId: `mi-${String(hostId).padStart(17, '0')}`,
        }),
      },
    ]);
    expect(await store.lockHolder(hostId)).toBe(taskId);
    expect(events.events).toEqual([]);
    expect(queues.messages).toEqual([]);
    expect(rejections).toEqual([]);
  });

  it('answers a repeated delivery with the task it started, starting no second execution', async () => {
    const hostId = await registeredHost();
    const first = await triggerRestart(request(hostId, 'event:repeated'), deps, original);

    const again = await triggerRestart(request(hostId, 'event:repeated'), deps, original);

    expect(again).toEqual({ ...first, outcome: 'DUPLICATE' });
    expect(workflow.started).toHaveLength(1);
  });

  it('skips a busy host, reporting it on the bus but not in the rejected-requests queue', async () => {
    const hostId = await registeredHost();
    const running = await createRestartTask(store, hostId);

    const outcome = await triggerRestart(request(hostId), deps, original);

    expect(outcome).toMatchObject({ outcome: 'SKIPPED', hostId: String(hostId), code: 'COMMON_CONFLICT' });
    expect(rejectedDetails()).toEqual([
      expect.objectContaining({
        outcome: 'SKIPPED',
        code: 'COMMON_CONFLICT',
        reason: expect.stringContaining(`task ${running.id}`),
        requestEventId: 'event-1',
      }),
    ]);
    expect(queues.messages).toEqual([]);
    expect(rejections).toEqual(['COMMON_CONFLICT']);
    expect(workflow.started).toEqual([]);
  });

  it('rejects an unknown host visibly: on the bus, in the queue with the original event, and counted', async () => {
    const outcome = await triggerRestart(request(999_999), deps, original);

    expect(outcome).toMatchObject({ outcome: 'REJECTED', hostId: '999999', code: 'COMMON_NOT_FOUND' });
    expect(rejectedDetails()).toEqual([
      expect.objectContaining({ outcome: 'REJECTED', requestEventId: 'event-1' }),
    ]);
    expect(queues.messages).toHaveLength(1);
    expect(queues.messages[0]!.queueUrl).toBe(REJECTED_QUEUE);
    expect(JSON.parse(queues.messages[0]!.body)).toMatchObject({ outcome: 'REJECTED', event: original });
    expect(rejections).toEqual(['COMMON_NOT_FOUND']);
  });

  it('throws when the workflow cannot start, leaving no task and the host free, so that the delivery is retried', async () => {
    const hostId = await registeredHost();
    workflow.failing.startExecution = new Error('Rate exceeded');

    await expect(triggerRestart(request(hostId, 'event:unstarted'), deps, original)).rejects.toThrow(
      'Rate exceeded',
    );

    expect(await store.lockHolder(hostId)).toBeUndefined();
    expect(await store.taskForRequest('event:unstarted')).toBeUndefined();
    expect(events.events).toEqual([]);
  });
});

/** The items of the test table that belong to a batch (its own, its hosts', its list entry) or name it. */
const itemsOfBatch = async (batchId: number) =>
  (await tableItems(tables.taskTable)).filter(
    (item) => item.pk === `TASK#${batchId}` || item.batchId === batchId,
  );

describe('triggerBatch', () => {
  const toStart = (hostIds: number[], idempotencyKey: string) => ({
    request: {
      hostIds,
      rollout: { maxConcurrency: { count: 2 } },
      dryRun: false as const,
      prohibitRollback: true,
    },
    creator: 'ops.tooling',
    type: 'SYS_ONECE' as const,
    reason: 'fleet refresh',
    idempotencyKey,
  });

  it('starts one batch over the hosts through the batch state machine, and reports nothing', async () => {
    const hostIds = [await registeredHost(), await registeredHost(), await registeredHost()];

    const outcome = await triggerBatch(toStart(hostIds, 'event:fleet-1'), deps, original);

    expect(outcome).toEqual({ outcome: 'STARTED', batchId: expect.any(Number), hostCount: 3 });
    const { batchId } = outcome as { batchId: number };
    expect(workflow.started).toEqual([
      expect.objectContaining({ stateMachineArn: BATCH_STATE_MACHINE_ARN, name: `batch-${batchId}` }),
    ]);
    const stored = await batches.getBatch(batchId);
    expect(stored?.batch).toMatchObject({
      status: 'RUNNING',
      type: 'SYS_ONECE',
      creator: 'ops.tooling',
      prohibitRollback: true,
      reason: 'fleet refresh',
      rollout: expect.objectContaining({ maxConcurrency: 2 }),
    });
    expect(stored?.hosts.map((host) => host.hostId)).toEqual(hostIds);
    expect((await batches.batchForRequest('event:fleet-1'))?.batch.id).toBe(batchId);
    expect([events.events, queues.messages, rejections]).toEqual([[], [], []]);
  });

  it('answers a repeated delivery with the batch it started, starting no second one', async () => {
    const hostIds = [await registeredHost(), await registeredHost()];
    const first = await triggerBatch(toStart(hostIds, 'event:fleet-again'), deps, original);

    const again = await triggerBatch(toStart(hostIds, 'event:fleet-again'), deps, original);

    expect(again).toEqual({ ...first, outcome: 'DUPLICATE' });
    expect(workflow.started).toHaveLength(1);
  });

  it('answers the earlier batch when the key is taken between its look and its write', async () => {
    const hostIds = [await registeredHost()];
    const first = await triggerBatch(toStart(hostIds, 'event:fleet-race'), deps, original);
    // A store whose early look finds nothing, as when the first delivery writes its key just after it.
    const lookedTooEarly = Object.assign(new BatchStore(tables.taskTable), {
      batchForRequest: async () => undefined,
    });
    const itemsBefore = (await tableItems(tables.taskTable)).filter((item) => item.pk !== 'COUNTER');

    const again = await triggerBatch(
      toStart(hostIds, 'event:fleet-race'),
      { ...deps, batches: lookedTooEarly },
      original,
    );

    expect(again).toEqual({ ...first, outcome: 'DUPLICATE' });
    expect(workflow.started).toHaveLength(1);
    // The second batch's host items were written before its transaction failed, and deleted after.
    expect((await tableItems(tables.taskTable)).filter((item) => item.pk !== 'COUNTER')).toEqual(itemsBefore);
  });

  it('rejects unknown hosts visibly, naming them, and writes nothing', async () => {
    const known = await registeredHost();
    const itemsBefore = await tableItems(tables.taskTable);

    const outcome = await triggerBatch(
      toStart([known, 999_998, 999_999], 'event:fleet-unknown'),
      deps,
      original,
    );

    expect(outcome).toMatchObject({ outcome: 'REJECTED', code: 'COMMON_NOT_FOUND' });
    expect((outcome as { reason: string }).reason).toContain('999998, 999999');
    expect(rejectedDetails()).toEqual([
      expect.objectContaining({ outcome: 'REJECTED', code: 'COMMON_NOT_FOUND', requestEventId: 'event-1' }),
    ]);
    expect(JSON.parse(queues.messages[0]!.body)).toMatchObject({ outcome: 'REJECTED', event: original });
    expect(rejections).toEqual(['COMMON_NOT_FOUND']);
    expect(workflow.started).toEqual([]);
    expect(await batches.batchForRequest('event:fleet-unknown')).toBeUndefined();
    expect(await tableItems(tables.taskTable)).toEqual(itemsBefore);
  });

  it('throws when the batch cannot start, leaving nothing behind, and starts it when delivered again', async () => {
    const hostIds = [await registeredHost(), await registeredHost()];
    workflow.failing.startExecution = new Error('Rate exceeded');

    await expect(triggerBatch(toStart(hostIds, 'event:fleet-unstarted'), deps, original)).rejects.toThrow(
      'Rate exceeded',
    );
    expect(await batches.batchForRequest('event:fleet-unstarted')).toBeUndefined();
    expect(events.events).toEqual([]);

    delete workflow.failing.startExecution;
    const outcome = await triggerBatch(toStart(hostIds, 'event:fleet-unstarted'), deps, original);
    expect(outcome).toMatchObject({ outcome: 'STARTED' });
    const { batchId } = outcome as { batchId: number };
    expect(await itemsOfBatch(batchId)).toHaveLength(1 + hostIds.length + 1 + 1);
  });
});

describe('a schedule run', () => {
  const run = (hostIds: unknown, runId = `run-${Date.now()}-${Math.random()}`) => ({
    hostIds,
    runId,
    scheduleName: 'nightly',
    reason: 'weekly refresh',
    rollout: { maxConcurrency: '50%', healthCheckSeconds: 0 },
  });

  it('starts its hosts as one batch, SCHEDULED, created by the schedule, with its rollout', async () => {
    const hostIds = [
      await registeredHost(),
      await registeredHost(),
      await registeredHost(),
      await registeredHost(),
    ];

    const outcome = await runSchedule(run(hostIds), deps, {});

    expect(outcome).toMatchObject({ outcome: 'STARTED', hostCount: 4 });
    const stored = await batches.getBatch((outcome as { batchId: number }).batchId);
    expect(stored?.batch).toMatchObject({
      type: 'SCHEDULED',
      creator: 'nightly',
      reason: 'weekly refresh',
      prohibitRollback: false,
      rollout: expect.objectContaining({ maxConcurrency: 2, healthCheckSeconds: 0 }),
    });
    expect(workflow.started).toHaveLength(1);
  });

  it('starts one batch however often the run is delivered; the next run starts another', async () => {
    const hostIds = [await registeredHost(), await registeredHost()];
    const delivered = run(hostIds, 'run-twice');

    const first = await runSchedule(delivered, deps, delivered);
    const again = await runSchedule(delivered, deps, delivered);
    const next = await runSchedule(run(hostIds, 'run-next'), deps, {});

    expect(again).toEqual({ ...first, outcome: 'DUPLICATE' });
    expect(next).toMatchObject({ outcome: 'STARTED' });
    expect(next).not.toEqual(expect.objectContaining({ batchId: (first as { batchId: number }).batchId }));
    expect(workflow.started).toHaveLength(2);
  });

  it('rejects an invalid run visibly, naming the field, and writes nothing', async () => {
    const hostId = await registeredHost();
    const itemsBefore = await tableItems(tables.taskTable);

    const outcome = await runSchedule(run([hostId, hostId]), deps, { run: 'duplicated host' });

    expect(outcome).toMatchObject({
      outcome: 'REJECTED',
      code: 'COMMON_ILLEGAL_ARGUMENT',
      reason: `Invalid schedule run: scheduledRestart.hostIds names a host more than once: ${hostId}.`,
    });
    expect(queues.messages).toHaveLength(1);
    expect(rejections).toEqual(['COMMON_ILLEGAL_ARGUMENT']);
    expect(await tableItems(tables.taskTable)).toEqual(itemsBefore);
  });
});
