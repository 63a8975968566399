import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  PRODUCT_EVENT_SOURCE,
  RESTART_REJECTED_DETAIL_TYPE,
} from '../../../functions/core/event-patterns.ts';
import { HostRegistry } from '../../../functions/store/host-registry.ts';
import { TaskStore } from '../../../functions/store/task-store.ts';
import {
  queueScheduledRun,
  restartScheduledHost,
  type TriggerDependencies,
  type TriggeredRestart,
  triggerRestart,
} from '../../../functions/use-cases/trigger-restart.ts';
import { FakeEventBus, FakeQueues, FakeWorkflow } from '../../support/fake-ports.ts';
import { createRestartTask } from '../../support/tasks.ts';
import { createTestTables, registerHost, type TestTables } from '../../support/test-tables.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:1:stateMachine:sm';
const REJECTED_QUEUE = 'https://sqs.us-east-1.amazonaws.com/1/rejected';
const SCHEDULED_QUEUE = 'https://sqs.us-east-1.amazonaws.com/1/scheduled';
const original = { id: 'event-1', source: 'ops.tooling' };
let tables: TestTables;
let store: TaskStore;
let workflow: FakeWorkflow;
let events: FakeEventBus;
let queues: FakeQueues;
let rejections: string[];
let deps: TriggerDependencies;
let nextHost = 1;

beforeAll(async () => {
  tables = await createTestTables();
  store = new TaskStore(tables.taskTable);
});

beforeEach(() => {
  workflow = new FakeWorkflow();
  events = new FakeEventBus();
  queues = new FakeQueues();
  rejections = [];
  deps = {
    tasks: store,
    hosts: new HostRegistry(tables.hostTable),
    stateMachineArn: STATE_MACHINE_ARN,
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

describe('a schedule run', () => {
  const run = (hostIds: number[]) => ({ hostIds, runId: `run-${Date.now()}`, scheduleName: 'nightly' });

  it('is queued as one message per host, ten to a batch', async () => {
    const hostIds = Array.from({ length: 25 }, (_, i) => 1000 + i);

    const queued = await queueScheduledRun(run(hostIds), {
      scheduledRestartQueueUrl: SCHEDULED_QUEUE,
      queues,
    });

    expect(queued).toMatchObject({ outcome: 'QUEUED', hosts: 25 });
    expect(queues.batchSizes).toEqual([10, 10, 5]);
    expect(queues.messages.map((message) => JSON.parse(message.body).scheduledHostRestart.hostId)).toEqual(
      hostIds,
    );
    expect(new Set(queues.messages.map((message) => message.queueUrl))).toEqual(new Set([SCHEDULED_QUEUE]));
  });

  it('throws when SQS refuses any of its messages, so that the run is delivered again', async () => {
    queues.refuse = (body) => body.includes('"hostId":1003');

    await expect(
      queueScheduledRun(run([1001, 1002, 1003]), { scheduledRestartQueueUrl: SCHEDULED_QUEUE, queues }),
    ).rejects.toThrow(
      /^SQS refused 1 of 3 scheduled host restarts of run run-\d+ \(InternalError: refused by the test\)$/,
    );
  });

  it('starts each host once however often its message is delivered', async () => {
    const hostId = await registeredHost();
    const message = { runId: 'run-once', hostId, scheduleName: 'nightly' };

    const first = await restartScheduledHost(message, deps, message);
    const again = await restartScheduledHost(message, deps, message);

    expect(first).toMatchObject({ outcome: 'STARTED' });
    expect(again).toEqual({ ...first, outcome: 'DUPLICATE' });
    expect(workflow.started).toHaveLength(1);
  });
});
