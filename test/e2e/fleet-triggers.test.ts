import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESTART_REQUESTED_EVENT } from '../../functions/core/event-patterns.ts';
import { scheduledRestartInput } from '../../functions/core/scheduled-restart.ts';
import { functionName, type LocalSystem } from '../../local/local-system.ts';
import { eventually, startTestSystem, tokenFor, waitForTask } from '../support/local-client.ts';
import { tableItems } from '../support/test-tables.ts';

/** Fleets restarted without a person: an event naming hostIds, and a schedule run, each one batch. */
const HOSTS = 6;
const BATCH_DEADLINE_MS = 120_000;

let system: LocalSystem;
let viewer: string;
let lambda: LambdaClient;

beforeAll(async () => {
  system = await startTestSystem({ demoHosts: HOSTS, demoMode: 'fast' });
  viewer = await tokenFor(system, 'auditor', ['TASK_VIEWER']);
  lambda = new LambdaClient({});
});

afterAll(async () => {
  lambda?.destroy();
  await system?.stop();
});

const eventCli = (args: string[]) =>
  promisify(execFile)('npx', ['tsx', 'local/event-cli.ts', ...args], {
    env: { ...process.env, OCP_LOCAL_DIR: system.signingKeyDir },
  });
const refusalOf = (args: string[]) =>
  eventCli(args).then(
    (output) => {
      throw new Error(`accepted: ${output.stdout}`);
    },
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
/** The task table without the id counter (which only ever counts up). */
const storedItems = async () =>
  (await tableItems(system.tables.taskTable)).filter((item) => item.pk !== 'COUNTER');
const batchesInTable = async () =>
  (await tableItems(system.tables.taskTable)).filter((item) => item.sk === 'BATCH');
const invokeTrigger = async (payload: unknown) => {
  const result = await lambda.send(
    new InvokeCommand({ FunctionName: functionName('restartTrigger'), Payload: JSON.stringify(payload) }),
  );
  expect(result.FunctionError).toBeUndefined();
  return JSON.parse(new TextDecoder().decode(result.Payload));
};
const finishedBatch = (id: number) =>
  waitForTask(system, viewer, id, (task) => task.status !== 'RUNNING', BATCH_DEADLINE_MS);

// First, while nothing else writes to the table: a refusal must leave it as it was.
describe('a fleet event the trigger refuses', () => {
  it.each([
    [
      'names a host twice',
      ['--hosts', '1,2,1'],
      /^REJECTED \(COMMON_ILLEGAL_ARGUMENT\): Invalid restart request: detail\.hostIds names a host more than once: 1\.$/,
    ],
    [
      'names no host id',
      ['--hosts', '1,two'],
      /^REJECTED \(COMMON_ILLEGAL_ARGUMENT\): Invalid restart request: detail\.hostIds\[1\] must be a host id/,
    ],
    [
      'asks for a rollout limit out of range',
      ['--hosts', '1,2', '--rollout-max-concurrency', '0'],
      /^REJECTED \(COMMON_ILLEGAL_ARGUMENT\): Invalid restart request: detail\.rollout\.maxConcurrency must be/,
    ],
    ['names unknown hosts', ['--hosts', '1,998,999'], /^REJECTED \(COMMON_NOT_FOUND\): .*998, 999/],
  ])(
    '(it %s) is rejected visibly, with nothing written; `npm run event` says why and exits 1',
    async (_what, args, reason) => {
      const before = await storedItems();
      const queued = system.sqs.messages(system.queues.rejected).length;

      const failure = await refusalOf(['restart', ...args]);

      expect(failure.code).toBe(1);
      expect(failure.stdout).toMatch(/^event [0-9a-f-]{36} put on /);
      expect(failure.stderr.trim().split('\n').at(-1)).toMatch(reason);
      expect(system.sqs.messages(system.queues.rejected)).toHaveLength(queued + 1);
      expect(JSON.parse(system.sqs.messages(system.queues.rejected).at(-1)!.Body)).toMatchObject({
        outcome: 'REJECTED',
        event: { detail: { hostIds: expect.any(Array) } },
      });
      expect(await storedItems()).toEqual(before);
    },
  );

  it('refuses a dry run from an event, saying where to ask for a plan, with nothing written', async () => {
    const before = await storedItems();

    const answer = await invokeTrigger({
      id: randomUUID(),
      source: RESTART_REQUESTED_EVENT.source,
      'detail-type': RESTART_REQUESTED_EVENT.detailType,
      detail: { hostIds: [1, 2], dryRun: true },
    });

    expect(answer).toEqual([
      {
        outcome: 'REJECTED',
        code: 'COMMON_ILLEGAL_ARGUMENT',
        reason: expect.stringMatching(
          /^Invalid restart request: detail\.dryRun is not accepted from events.*batchRestartAgents/,
        ),
      },
    ]);
    expect(await storedItems()).toEqual(before);
  });

  it('a schedule run naming an unknown host is rejected visibly, with nothing written', async () => {
    const before = await storedItems();
    const failure = await refusalOf(['schedule', '--hosts', '1,997']);

    expect(failure.code).toBe(1);
    expect(failure.stderr).toMatch(/REJECTED \(COMMON_NOT_FOUND\): .*997/);
    expect(await storedItems()).toEqual(before);
  });
});

describe('an event naming hostIds', () => {
  it('starts one batch, which restarts every host and ends SUCCESSFUL; `npm run event` prints it', async () => {
    const { stdout } = await eventCli([
      'restart',
      '--hosts',
      '1,2,3',
      '--rollout-max-concurrency',
      '2',
      '--requested-by',
      'monitoring',
      '--reason',
      'fleet refresh',
    ]);

    const [, batchId] = stdout.match(/\nbatch (\d+) started for hosts 1,2,3: RUNNING\n$/) ?? [];
    expect(batchId, stdout).toBeDefined();
    const batch = await finishedBatch(Number(batchId));
    expect(batch).toMatchObject({
      status: 'SUCCESSFUL',
      type: 'SYS_ONECE',
      creator: 'monitoring',
      context: { listMap: { host_ids: ['1', '2', '3'] }, stringMap: { reason: 'fleet refresh' } },
      rollout: expect.objectContaining({ maxConcurrency: 2 }),
    });
    expect(batch.hosts.map((host: { status: string }) => host.status)).toEqual([
      'SUCCESSFUL',
      'SUCCESSFUL',
      'SUCCESSFUL',
    ]);
  });

  it('delivered twice with the same id, starts one batch', async () => {
    const event = {
      version: '0',
      id: randomUUID(),
      'detail-type': RESTART_REQUESTED_EVENT.detailType,
      source: RESTART_REQUESTED_EVENT.source,
      account: '000000000000',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [],
      detail: { hostIds: [4, 5], rollout: { maxConcurrency: '100%' } },
    };
    const before = new Set((await batchesInTable()).map((batch) => batch.id));
    const batchesBefore = before.size;

    system.eventBridge.publish(event, system.eventBusName);
    system.eventBridge.publish(event, system.eventBusName);
    await system.eventBridge.idle();

    // A scan's order is not the order of creation: the new batch is the one not there before.
    const started = (await batchesInTable()).filter((batch) => !before.has(batch.id));
    expect(started).toHaveLength(1);
    // Delivered again after the batch ended: still the one batch, answered as a duplicate.
    await finishedBatch(Number(started[0]!.id));
    expect(await invokeTrigger(event)).toEqual([
      { outcome: 'DUPLICATE', batchId: Number(started[0]!.id), hostCount: 2 },
    ]);
    expect(await batchesInTable()).toHaveLength(batchesBefore + 1);
  });
});

describe('a schedule run', () => {
  it('starts its hosts as one batch; `npm run event -- schedule` prints it', async () => {
    const { stdout } = await eventCli(['schedule', '--hosts', '6,5', '--rollout-max-concurrency', '1']);

    const [, batchId] =
      stdout.match(/^batch (\d+) started for hosts 6,5 \(schedule run [0-9a-f-]{36}\)\n$/) ?? [];
    expect(batchId, stdout).toBeDefined();
    const batch = await finishedBatch(Number(batchId));
    expect(batch).toMatchObject({
      status: 'SUCCESSFUL',
      type: 'SCHEDULED',
      creator: 'local-schedule',
      context: { listMap: { host_ids: ['6', '5'] } },
      rollout: expect.objectContaining({ maxConcurrency: 1 }),
    });
  });

  it('delivered twice, starts one batch; the next run starts another', async () => {
    const run = scheduledRestartInput([1, 2, 3, 4, 5, 6], randomUUID(), 'nightly');
    const batchesBefore = (await batchesInTable()).length;

    const [first, again] = await Promise.all([invokeTrigger(run), invokeTrigger(run)]);

    expect(first).toMatchObject({ batchId: expect.any(Number), hostCount: HOSTS });
    expect(again.batchId).toBe(first.batchId);
    expect([first.outcome, again.outcome].sort()).toEqual(['DUPLICATE', 'STARTED']);
    expect(await batchesInTable()).toHaveLength(batchesBefore + 1);
    const batch = await finishedBatch(first.batchId);
    expect(batch).toMatchObject({ status: 'SUCCESSFUL', type: 'SCHEDULED', creator: 'nightly' });
    expect(await invokeTrigger(run)).toEqual({ ...first, outcome: 'DUPLICATE' });

    const next = await invokeTrigger(scheduledRestartInput([1], randomUUID(), 'nightly'));
    expect(next).toMatchObject({ outcome: 'STARTED' });
    expect(next.batchId).not.toBe(first.batchId);
    await finishedBatch(next.batchId);
    await eventually(
      async () => (await batchesInTable()).length === batchesBefore + 2,
      'the next run’s batch',
    );
  });
});
