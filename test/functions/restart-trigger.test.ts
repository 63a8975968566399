import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/catalog.ts';
import { RESTART_REQUESTED_EVENT } from '../../functions/core/event-patterns.ts';
import { scheduledRestartInput } from '../../functions/core/scheduled-restart.ts';
import { fromBatchItem } from '../../functions/store/batch-item.ts';
import { createTestTables, registerHost, type TestTables, tableItems } from '../support/test-tables.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:restart-agent';
const BATCH_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:batch-restart';
const REJECTED_QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/rejected';
const HOSTS = 30;
const sfnMock = mockClient(SFNClient);
const sqsMock = mockClient(SQSClient);
const eventsMock = mockClient(EventBridgeClient);
let tables: TestTables;
let handler: typeof import('../../functions/restart-trigger.ts').handler;

beforeAll(async () => {
  tables = await createTestTables();
  Object.assign(process.env, {
    [ENV.stateMachineArn]: STATE_MACHINE_ARN,
    [ENV.batchStateMachineArn]: BATCH_STATE_MACHINE_ARN,
    [ENV.eventBusName]: 'bus',
    [ENV.rejectedQueueUrl]: REJECTED_QUEUE,
  });
  for (let hostId = 1; hostId <= HOSTS; hostId++) {
    await registerHost(tables, { hostId, instanceId: `mi-${String(hostId).padStart(17, '0')}` });
  }
  ({ handler } = await import('../../functions/restart-trigger.ts'));
});

beforeEach(() => {
  sfnMock.reset();
  sqsMock.reset();
  eventsMock.reset();
  sfnMock.on(StartExecutionCommand).callsFake((input) => ({
    executionArn: `${String(input.stateMachineArn).replace(':stateMachine:', ':execution:')}:${input.name}`,
    startDate: new Date(),
  }));
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'rejected' });
  eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
});

const restartRequested = (id: string, detail: Record<string, unknown>) => ({
  id,
  source: RESTART_REQUESTED_EVENT.source,
  'detail-type': RESTART_REQUESTED_EVENT.detailType,
  detail,
});
const batchesOf = async (hostIds: readonly number[]) => {
  const items = await tableItems(tables.taskTable);
  return items
    .filter((item) => item.sk === 'BATCH')
    .map(fromBatchItem)
    .filter((batch) =>
      items.some(
        (item) =>
          item.pk === `TASK#${batch.id}` && hostIds.includes(Number(item.host)) && item.sk !== 'BATCH',
      ),
    );
};
const batchStarts = () =>
  sfnMock
    .commandCalls(StartExecutionCommand)
    .map((call) => call.args[0].input)
    .filter((input) => input.stateMachineArn === BATCH_STATE_MACHINE_ARN);
const rejectedReasons = () =>
  sqsMock
    .commandCalls(SendMessageCommand)
    .filter((call) => call.args[0].input.QueueUrl === REJECTED_QUEUE)
    .map((call) => JSON.parse(call.args[0].input.MessageBody ?? '{}').reason as string);
const publishedRejections = () =>
  eventsMock
    .commandCalls(PutEventsCommand)
    .map((call) => JSON.parse(call.args[0].input.Entries?.[0]?.Detail ?? '{}'));

describe('an event naming hostIds', () => {
  it('starts one batch over the hosts, with its rollout, created by the requester', async () => {
    const event = restartRequested('fleet-1', {
      hostIds: [1, 2, 3],
      rollout: { maxConcurrency: 2, maxErrors: '0%' },
      reason: 'fleet refresh',
      requestedBy: 'monitoring',
    });

    const answer = await handler(event);

    expect(answer).toEqual([{ outcome: 'STARTED', batchId: expect.any(Number), hostCount: 3 }]);
    const [batch] = await batchesOf([1, 2, 3]);
    expect(batch).toMatchObject({
      type: 'SYS_ONECE',
      creator: 'monitoring',
      reason: 'fleet refresh',
      rollout: expect.objectContaining({ maxConcurrency: 2, maxErrors: 0 }),
    });
    expect(batchStarts()).toEqual([
      expect.objectContaining({ stateMachineArn: BATCH_STATE_MACHINE_ARN, name: `batch-${batch?.id}` }),
    ]);
    expect(rejectedReasons()).toEqual([]);
  });

  it('delivered again with the same id, starts no second batch and answers the first', async () => {
    const event = restartRequested('fleet-twice', { hostIds: [4, 5] });

    const [first] = (await handler(event)) as unknown[];
    const [again] = (await handler(event)) as unknown[];

    expect(again).toEqual({ ...(first as object), outcome: 'DUPLICATE' });
    expect(await batchesOf([4, 5])).toHaveLength(1);
    expect(batchStarts()).toHaveLength(1);
  });

  it('is created by the event’s source when it names no requester', async () => {
    await handler(restartRequested('fleet-source', { hostIds: [6] }));

    expect((await batchesOf([6]))[0]?.creator).toBe(RESTART_REQUESTED_EVENT.source);
  });

  it.each([
    [{ hostIds: [7, 7] }, 'Invalid restart request: detail.hostIds names a host more than once: 7.'],
    [
      { hostIds: [7, 'x'] },
      'Invalid restart request: detail.hostIds[1] must be a host id (a JSON integer), got the text "x".',
    ],
    [
      { hostIds: [7], hostId: 8 },
      'Invalid restart request: detail gives both hostId and hostIds: give one host as hostId or many as hostIds.',
    ],
    [
      { hostIds: [7], dryRun: true },
      expect.stringMatching(/^Invalid restart request: detail\.dryRun is not accepted from events/),
    ],
    [
      { hostIds: [7], rollout: { maxConcurrency: 0 } },
      expect.stringMatching(/^Invalid restart request: detail\.rollout\.maxConcurrency must be/),
    ],
    [
      { hostIds: [7], parallel: true },
      expect.stringMatching(/^Invalid restart request: detail: Unrecognized key/),
    ],
  ])('%j is rejected visibly, writing and starting nothing', async (detail, reason) => {
    const itemsBefore = await tableItems(tables.taskTable);

    const answer = await handler(restartRequested(`invalid-${JSON.stringify(detail)}`, detail));

    expect(answer).toEqual([{ outcome: 'REJECTED', code: 'COMMON_ILLEGAL_ARGUMENT', reason }]);
    expect(rejectedReasons()).toEqual([reason]);
    expect(publishedRejections()).toEqual([expect.objectContaining({ outcome: 'REJECTED', reason })]);
    expect(batchStarts()).toEqual([]);
    expect(await tableItems(tables.taskTable)).toEqual(itemsBefore);
  });

  it('naming an unknown host is rejected as not found, writing and starting nothing', async () => {
    const itemsBefore = await tableItems(tables.taskTable);

    const answer = await handler(restartRequested('fleet-unknown', { hostIds: [8, 90_001] }));

    expect(answer).toEqual([
      { outcome: 'REJECTED', code: 'COMMON_NOT_FOUND', reason: expect.stringContaining('90001') },
    ]);
    expect(rejectedReasons()).toHaveLength(1);
    expect(batchStarts()).toEqual([]);
    expect(await tableItems(tables.taskTable)).toEqual(itemsBefore);
  });
});

describe('a schedule run', () => {
  it('starts its hosts as one batch, SCHEDULED and created by the schedule', async () => {
    const hostIds = [10, 11, 12, 13, 14, 15];

    const answer = await handler(
      scheduledRestartInput(hostIds, 'run-a', 'nightly', 'weekly refresh', { maxConcurrency: '50%' }),
    );

    expect(answer).toEqual({ outcome: 'STARTED', batchId: expect.any(Number), hostCount: 6 });
    const batches = await batchesOf(hostIds);
    expect(batches).toEqual([
      expect.objectContaining({
        type: 'SCHEDULED',
        creator: 'nightly',
        reason: 'weekly refresh',
        rollout: expect.objectContaining({ maxConcurrency: 3 }),
      }),
    ]);
    expect(batchStarts()).toHaveLength(1);
  });

  it('delivered again, starts no second batch; the next run starts another', async () => {
    const hostIds = [16, 17];
    const run = scheduledRestartInput(hostIds, 'run-b', 'nightly');

    const first = await handler(run);
    const again = await handler(run);
    await handler(scheduledRestartInput(hostIds, 'run-c', 'nightly'));

    expect(again).toEqual({ ...(first as object), outcome: 'DUPLICATE' });
    expect(await batchesOf(hostIds)).toHaveLength(2);
    expect(batchStarts()).toHaveLength(2);
  });

  it('naming an unknown host is rejected visibly, writing nothing', async () => {
    const itemsBefore = await tableItems(tables.taskTable);

    const answer = await handler(scheduledRestartInput([18, 90_002], 'run-unknown', 'nightly'));

    expect(answer).toMatchObject({ outcome: 'REJECTED', code: 'COMMON_NOT_FOUND' });
    expect(rejectedReasons()).toHaveLength(1);
    expect(await tableItems(tables.taskTable)).toEqual(itemsBefore);
  });

  it('with an invalid host list is rejected visibly, naming the field', async () => {
    const answer = await handler({ scheduledRestart: { hostIds: 'all', runId: 'run-invalid' } });

    expect(answer).toEqual({
      outcome: 'REJECTED',
      code: 'COMMON_ILLEGAL_ARGUMENT',
      reason:
        'Invalid schedule run: scheduledRestart.hostIds must be a list of host ids, got the text "all".',
    });
    expect(batchStarts()).toEqual([]);
  });

  it('throws when its batch cannot start, leaving nothing, so that Scheduler delivers it again', async () => {
    sfnMock.on(StartExecutionCommand).rejects(new Error('Rate exceeded'));
    const run = scheduledRestartInput([19, 20], 'run-retried', 'nightly');
    const itemsBefore = (await tableItems(tables.taskTable)).filter((item) => item.pk !== 'COUNTER');

    await expect(handler(run)).rejects.toThrow('Rate exceeded');
    expect((await tableItems(tables.taskTable)).filter((item) => item.pk !== 'COUNTER')).toEqual(itemsBefore);

    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    expect(await handler(run)).toMatchObject({ outcome: 'STARTED' });
  });
});
