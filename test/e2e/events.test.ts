import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RESTART_REJECTED_DETAIL_TYPE,
  RESTART_REQUESTED_EVENT,
  restartRequestedPattern,
  taskStatusChangePattern,
} from '../../functions/core/event-patterns.ts';
import { RESTART_SUBTASKS } from '../../functions/core/subtasks.ts';
import { setDemoMode } from '../../local/demo-hosts.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import type { BusEvent } from '../../local/services/eventbridge.ts';
import { call, eventually, startTestSystem, tokenFor, waitForTask } from '../support/local-client.ts';

let system: LocalSystem;
let viewer: string;
let bus: EventBridgeClient;
const published: BusEvent[] = [];

beforeAll(async () => {
  system = await startTestSystem({ demoHosts: 6 });
  viewer = await tokenFor(system, 'auditor', ['TASK_VIEWER', 'HOST_MANAGER']);
  bus = new EventBridgeClient({});
  // A subscriber, as a user would route the product's events to SNS or chat with one rule.
  system.eventBridge.addRule({
    name: 'test-subscriber',
    eventBusName: system.eventBusName,
    pattern: { source: ['ocp.agent.restart'] },
    target: async (event) => {
      published.push(event);
    },
  });
});

afterAll(async () => {
  bus?.destroy();
  await system?.stop();
});

const requestRestart = (detail: Record<string, unknown>) =>
  bus.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: system.eventBusName,
          Source: RESTART_REQUESTED_EVENT.source,
          DetailType: RESTART_REQUESTED_EVENT.detailType,
          Detail: JSON.stringify(detail),
        },
      ],
    }),
  );
const statusEvents = (taskId: number) =>
  published.filter(
    (event) =>
      event['detail-type'] === 'OCP Agent Task Status Change' &&
      (event.detail as { taskId: number }).taskId === taskId,
  );
/** A task's status events as "task:STATUS" or "<subtask index>:STATUS", in the order received. */
const sequenceOf = (taskId: number) =>
  statusEvents(taskId).map((event) => {
    const detail = event.detail as { status: string; subtask?: { index: number; status: string } };
    return detail.subtask ? `${detail.subtask.index}:${detail.subtask.status}` : `task:${detail.status}`;
  });
const eventCli = (args: string[]) =>
  promisify(execFile)('npx', ['tsx', 'local/event-cli.ts', ...args], {
    env: { ...process.env, OCP_LOCAL_DIR: system.signingKeyDir },
  });
const rejections = () => published.filter((event) => event['detail-type'] === RESTART_REJECTED_DETAIL_TYPE);

async function tasksOfHost(hostId: number) {
  const { envelope } = await call(system, 'GET', `/api/v2/tasks/instances?hostId=${hostId}&size=100`, viewer);
  return envelope.data.contents as { id: number; type: string; creator: string; status: string }[];
}

describe('restarts requested by events', () => {
  it('starts a restart through the same core, and publishes every status change in order', async () => {
    await requestRestart({ hostId: 2, reason: 'agent heartbeat lost', requestedBy: 'monitoring' });

    await eventually(async () => (await tasksOfHost(2)).length === 1, 'the task of the event');
    const [created] = await tasksOfHost(2);
    expect(created).toMatchObject({ type: 'SYS_ONECE', creator: 'monitoring' });
    const task = await waitForTask(system, viewer, created!.id);
    expect(task.status).toBe('SUCCESSFUL');

    await system.drainStream();
    await eventually(() => sequenceOf(task.id).at(-1) === 'task:SUCCESSFUL', 'the final status event');
    const sequence = sequenceOf(task.id);
    const expected = ['task:RUNNING'];
    RESTART_SUBTASKS.forEach((_, index) => {
      expected.push(`${index}:RUNNING`, `${index}:SUCCESSFUL`);
      if (index + 1 < RESTART_SUBTASKS.length) expected.push(`${index + 1}:READY`);
    });
    expected.push('task:SUCCESSFUL');
    expect(sequence, JSON.stringify(sequence)).toEqual(expected);
    expect(statusEvents(task.id)[0]!.detail).toMatchObject({
      taskId: task.id,
      hostId: 2,
      operation: 'EXECUTE',
      at: expect.any(String),
    });
  });

  it('keeps the event’s reason on the task (context stringMap) and in each of its status events', async () => {
    await requestRestart({ hostId: 5, reason: 'agent heartbeat lost', requestedBy: 'monitoring' });

    await eventually(async () => (await tasksOfHost(5)).length === 1, 'the task of the event');
    const [created] = await tasksOfHost(5);
    const task = await waitForTask(system, viewer, created!.id);
    await system.drainStream();
    await eventually(() => sequenceOf(task.id).at(-1) === 'task:SUCCESSFUL', 'the final status event');

    expect(task.context.stringMap).toEqual({
      prohibit_rollback: 'false',
      host_id: '5',
      reason: 'agent heartbeat lost',
    });
    const reasons = statusEvents(task.id).map((event) => (event.detail as { reason?: string }).reason);
    expect(reasons.length).toBeGreaterThan(1);
    expect(new Set(reasons)).toEqual(new Set(['agent heartbeat lost']));
  });

  it('creates one task when the same event is delivered twice', async () => {
    const event = {
      version: '0',
      id: randomUUID(),
      'detail-type': RESTART_REQUESTED_EVENT.detailType,
      source: RESTART_REQUESTED_EVENT.source,
      account: '000000000000',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [],
      detail: { hostId: 3, reason: 'duplicate delivery', requestedBy: 'monitoring' },
    };
    system.eventBridge.publish(event, system.eventBusName);
    system.eventBridge.publish(event, system.eventBusName);
    await system.eventBridge.idle();

    const tasks = await tasksOfHost(3);
    expect(tasks).toHaveLength(1);
    await waitForTask(system, viewer, tasks[0]!.id);
    system.eventBridge.publish(event, system.eventBusName);
    await system.eventBridge.idle();
    expect(await tasksOfHost(3)).toHaveLength(1);
  });

  it.each([
    ['a malformed detail', { host: 2 }, /Invalid restart request/],
    ['a hostId that is not an id', { hostId: '1; reboot' }, /hostId must be a positive 64-bit integer/],
    ['an unknown host', { hostId: 999 }, /Host 999 does not exist/],
  ])(
    'rejects %s visibly: a Rejected event, the original in the rejected queue',
    async (_name, detail, reason) => {
      const queued = system.sqs.messages(system.queues.rejected).length;
      const rejected = rejections().length;

      await requestRestart(detail);

      await eventually(
        () => system.sqs.messages(system.queues.rejected).length === queued + 1,
        'the rejected request in its queue',
      );
      const message = JSON.parse(system.sqs.messages(system.queues.rejected).at(-1)!.Body);
      expect(message).toMatchObject({ outcome: 'REJECTED', reason: expect.stringMatching(reason) });
      expect(message.event.detail).toEqual(detail);
      await eventually(() => rejections().length === rejected + 1, 'the Rejected event');
      expect(rejections().at(-1)!.detail).toMatchObject({ reason: expect.stringMatching(reason) });
      expect(await tasksOfHost(999)).toEqual([]);
    },
  );

  it('matches the same rule pattern the stack deploys', () => {
    expect(restartRequestedPattern()).toEqual({
      source: ['ocp.agent'],
      'detail-type': ['OCP Agent Restart Requested'],
    });
    expect(taskStatusChangePattern()['detail-type']).toEqual(['OCP Agent Task Status Change']);
  });

  it('is what `npm run event -- restart` sends; it prints the task the event started', async () => {
    const { stdout } = await eventCli(['restart', '--host', '4', '--requested-by', 'cli']);

    const tasks = await tasksOfHost(4);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ creator: 'cli', type: 'SYS_ONECE' });
    expect(stdout).toMatch(
      new RegExp(
        `^event [0-9a-f-]{36} put on ${system.eventBusName}\ntask ${tasks[0]!.id} started for host 4: RUNNING\n$`,
      ),
    );
    await waitForTask(system, viewer, tasks[0]!.id);
  });

  it('`npm run event -- restart` prints why a request was rejected and exits 1', async () => {
    const failure = await eventCli(['restart', '--host', '999']).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

    expect(failure?.code).toBe(1);
    expect(failure?.stdout).toMatch(/^event [0-9a-f-]{36} put on /);
    expect(failure?.stderr).toMatch(/\nREJECTED \(COMMON_NOT_FOUND\): Host 999 does not exist\.\n$/);
  });

  it('`npm run event -- restart` prints why a request for a busy host was skipped and exits 1', async () => {
    const host = system.hosts[2]!;
    setDemoMode(host, 'hang-stop');
    const busy = await call(system, 'POST', '/compute/hosts/3/agent/restart', viewer);
    const busyId: number = busy.envelope.data.id;
    try {
      const failure = await eventCli(['restart', '--host', '3']).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );

      expect(failure?.code).toBe(1);
      expect(failure?.stderr).toMatch(
        new RegExp(
          `\\nSKIPPED \\(COMMON_CONFLICT\\): Host 3 already has a running agent operation: task ${busyId}\\.\\n$`,
        ),
      );
    } finally {
      const stuck = await waitForTask(
        system,
        viewer,
        busyId,
        (task) => task.subtasks[2].status === 'RUNNING',
      );
      await call(
        system,
        'POST',
        `/api/v2/tasks/instances/${busyId}/subtasks/${stuck.subtasks[2].id}/cancel`,
        await tokenFor(system, 'ops', ['TASK_MANAGER']),
      );
      await waitForTask(system, viewer, busyId);
      setDemoMode(host, 'normal');
    }
  });
});
