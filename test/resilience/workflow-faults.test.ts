import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ListCommandInvocationsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { RESTART_SUBTASKS } from '../../functions/core/subtasks.ts';
import { type DemoHost, setDemoMode } from '../../local/demo-hosts.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { startTestSystem, tokenFor } from '../support/local-client.ts';
import { recordFigure } from './support/figures.ts';
import { rawRequest } from './support/raw-http.ts';
import { type Item, lockItems, scanAll, tableClient } from './support/tables.ts';

/**
 * Faults in the workflow, each a named scenario on a host of its own in one local system whose
 * timed states are shortened (test-only override): a failing script, a hung script, an unreachable
 * host, an unregistered instance, and lost events at each hop. In each the task ends in a true state
 * (FAILED with a reason), no subtask stays RUNNING, and the host's lock is released.
 */

/** The states the scenarios make time out, shortened from 60 and 600 s. */
const STATE_TIMEOUT_SECONDS = 8;
const PREPARE = RESTART_SUBTASKS[0]!.name;
const PREPARE_DOCUMENT = `OcpAgentRestart-${RESTART_SUBTASKS[0]!.key}`;
const STOP = RESTART_SUBTASKS[2]!.name;
const TASK_DEADLINE_MS = 45_000;
const UNREGISTERED_HOST = { hostId: 90, instanceId: 'mi-0123456789abcdef0' };

let system: LocalSystem;
let client: DynamoDBClient;
let ssm: SSMClient;
let token: string;

beforeAll(async () => {
  system = await startTestSystem({
    demoHosts: 8,
    demoMode: 'fast',
    stateTimeoutOverrides: { [PREPARE]: STATE_TIMEOUT_SECONDS, [STOP]: STATE_TIMEOUT_SECONDS },
    // No periodic sweep: a lost event is left to the shortened state timeout (the sweep's recovery
    // is test/e2e/workflow.test.ts), and the lost execution-ended event to the scenario's own sweep.
    sweepIntervalMs: 0,
  });
  client = tableClient(system);
  ssm = new SSMClient({
    endpoint: system.awsEndpointUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  token = await tokenFor(system, 'ops', ['HOST_MANAGER', 'TASK_MANAGER']);
  const registered = (await scanAll(client, system.tables.hostTable)).find((item) => item.hostId === 1)!;
  await client.send(
    new PutItemCommand({
      TableName: system.tables.hostTable,
      Item: marshall({ ...registered, ...UNREGISTERED_HOST, hostname: 'not-registered-with-ssm' }),
    }),
  );
});

afterAll(async () => {
  ssm?.destroy();
  client?.destroy();
  await system?.stop();
});

const host = (hostId: number): DemoHost => system.hosts[hostId - 1]!;

async function restart(hostId: number): Promise<number> {
  const response = await rawRequest(system.apiUrl, {
    method: 'POST',
    path: `/compute/hosts/${hostId}/agent/restart`,
    headers: { authorization: `Bearer ${token}` },
  });
  if (response.status !== 200)
    throw new Error(`restart of host ${hostId}: ${response.status} ${response.body}`);
  return (JSON.parse(response.body) as { data: { id: number } }).data.id;
}

async function taskItem(taskId: number): Promise<Item | undefined> {
  return (await scanAll(client, system.tables.taskTable)).find(
    (item) => item.pk === `TASK#${taskId}` && item.sk === 'TASK',
  );
}

/** Polls the task record (never a fixed sleep) until it is no longer RUNNING, or fails at the deadline. */
async function ended(taskId: number, deadlineMs = TASK_DEADLINE_MS): Promise<Item> {
  const deadline = Date.now() + deadlineMs;
  let last: Item | undefined;
  while (Date.now() < deadline) {
    last = await taskItem(taskId);
    if (last && last.status !== 'RUNNING') return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`Task ${taskId} still RUNNING after ${deadlineMs} ms: ${JSON.stringify(last)}`);
}

type Subtask = { status: string; error?: string };
const subtasksOf = (task: Item) => task.subtasks as Subtask[];
const statuses = (task: Item) => subtasksOf(task).map((subtask) => subtask.status);

/** The true end state every scenario must reach: FAILED with a reason, nothing RUNNING, lock released. */
async function expectTrueFailure(
  expect: typeof import('vitest').expect,
  task: Item,
  hostId: number,
  failedAt: number,
  reason: RegExp,
): Promise<void> {
  expect(task.status).toBe('FAILED');
  expect(statuses(task).filter((status) => status === 'RUNNING' || status === 'CANCELING')).toEqual([]);
  expect(statuses(task)[failedAt]).toBe('FAILED');
  expect(subtasksOf(task)[failedAt]!.error).toMatch(reason);
  expect((await lockItems(client, system)).filter((lock) => lock.pk === `HOST#${hostId}`)).toEqual([]);
}

/** A lost completion event of "Prepare restart OCP agent": its state timed out, and the run resumed past it. */
async function expectResumedAfterTimeout(
  expect: typeof import('vitest').expect,
  task: Item,
  hostId: number,
  seconds: number,
): Promise<void> {
  expect(task.status).toBe('SUCCESSFUL');
  expect(statuses(task)).toEqual(['SUCCESSFUL', 'SUCCESSFUL', 'SUCCESSFUL', 'SUCCESSFUL', 'SUCCESSFUL']);
  expect(seconds).toBeGreaterThanOrEqual(STATE_TIMEOUT_SECONDS);
  // The record is SUCCESSFUL once the workflow's last state wrote it; the execution ends just after.
  const execution = await executionEnded(String(task.executor));
  expect(execution).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
  const prepares = (await invocationsOf(host(hostId))).filter((i) => i.DocumentName === PREPARE_DOCUMENT);
  expect(prepares.map((invocation) => invocation.Status)).toEqual(['Success']);
  expect((await lockItems(client, system)).filter((lock) => lock.pk === `HOST#${hostId}`)).toEqual([]);
}

async function executionEnded(
  executionArn: string,
  deadlineMs = 10_000,
): Promise<{ status: string; redriveCount: number }> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const execution = (await system.stepFunctions.handle('DescribeExecution', { executionArn })) as {
      status: string;
      redriveCount: number;
    };
    if (execution.status !== 'RUNNING' || Date.now() > deadline) return execution;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Processes still running a command script (bash on local-ssm's _script.sh) in the host's folder. */
function commandProcessesOf(demoHost: DemoHost): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) !== demoHost.hostDir) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes('_script.sh')) pids.push(Number(entry));
    } catch {
      // The process ended meanwhile.
    }
  }
  return pids;
}

async function invocationsOf(demoHost: DemoHost) {
  return (
    (await ssm.send(new ListCommandInvocationsCommand({ InstanceId: demoHost.instanceId })))
      .CommandInvocations ?? []
  );
}

/** Runs a named scenario and records its figure (its detail says what the fault did). */
async function scenario(name: string, run: () => Promise<string>): Promise<void> {
  let detail = 'failed';
  try {
    detail = await run();
  } finally {
    recordFigure({
      family: 'faults (workflow)',
      case: name,
      tried: 1,
      passed: detail === 'failed' ? 0 : 1,
      detail,
    });
  }
}

describe.concurrent('faults in the workflow (local mode, state timeouts shortened to 8 s)', () => {
  it('a subtask script fails: the task is FAILED at it, with its exit code and output, and the host is free', ({
    expect,
  }) =>
    scenario('script fails', async () => {
      setDemoMode(host(1), 'broken');
      const task = await ended(await restart(1));

      await expectTrueFailure(expect, task, 1, 1, /exited with code 4/);
      expect(statuses(task)).toEqual(['SUCCESSFUL', 'FAILED', 'PENDING', 'PENDING', 'PENDING']);
      setDemoMode(host(1), 'fast');
      expect((await ended(await restart(1))).status).toBe('SUCCESSFUL');
      return 'FAILED at "Restart pos proxy" (exit 4), next restart SUCCESSFUL';
    }));

  it('a subtask hangs past its timeout: the task is FAILED, the hung script is killed, the host is free', ({
    expect,
  }) =>
    scenario('script hangs', async () => {
      setDemoMode(host(2), 'hang-stop');
      const started = Date.now();
      const task = await ended(await restart(2));
      const seconds = (Date.now() - started) / 1000;

      await expectTrueFailure(
        expect,
        task,
        2,
        2,
        /timeout of 600 s: its command was still running on the host/,
      );
      expect(seconds).toBeGreaterThanOrEqual(STATE_TIMEOUT_SECONDS);
      const stop = (await invocationsOf(host(2))).find((i) => i.DocumentName === 'OcpAgentRestart-stopAgent');
      await expect
        .poll(
          async () => (await invocationsOf(host(2))).find((i) => i.CommandId === stop?.CommandId)?.Status,
          { timeout: 15_000 },
        )
        .toBe('Cancelled');
      await expect.poll(() => commandProcessesOf(host(2)), { timeout: 15_000 }).toEqual([]);
      setDemoMode(host(2), 'fast');
      return `FAILED at "Stop all OCP agent processes" after ${seconds.toFixed(1)} s; its command Cancelled and its process group gone`;
    }));

  it('the host is unreachable: the subtask fails within its timeout with a clear error, and the host is free', ({
    expect,
  }) =>
    scenario('host unreachable', async () => {
      system.offlineInstances.add(host(3).instanceId);
      const task = await ended(await restart(3));

      await expectTrueFailure(
        expect,
        task,
        3,
        0,
        /its command never reached the host \(its SSM agent is offline: ping status ConnectionLost\)/,
      );
      const [prepare] = await invocationsOf(host(3));
      await expect
        .poll(async () => (await invocationsOf(host(3)))[0]?.Status, { timeout: 15_000 })
        .toBe('Cancelled');
      expect(prepare?.DocumentName).toBe('OcpAgentRestart-prepare');
      system.offlineInstances.delete(host(3).instanceId);
      expect((await ended(await restart(3))).status).toBe('SUCCESSFUL');
      return 'FAILED at "Prepare restart OCP agent" by its timeout, with the reason from SSM (never delivered, ConnectionLost), the undelivered command cancelled; SUCCESSFUL once back online';
    }));

  it('an instance SSM does not know is refused at once: the task is FAILED with the reason, the host is free', ({
    expect,
  }) =>
    scenario('instance not registered with SSM', async () => {
      const started = Date.now();
      const task = await ended(await restart(UNREGISTERED_HOST.hostId));
      const seconds = (Date.now() - started) / 1000;

      await expectTrueFailure(
        expect,
        task,
        UNREGISTERED_HOST.hostId,
        0,
        /CommandNotDelivered.*InvalidInstanceId/,
      );
      expect(seconds).toBeLessThan(STATE_TIMEOUT_SECONDS);
      return `FAILED at "Prepare restart OCP agent" in ${seconds.toFixed(1)} s with CommandNotDelivered (InvalidInstanceId)`;
    }));

  it('the completion event is lost at SSM and no sweep comes before the state times out: SSM says the command succeeded, so the run resumes past it and the task succeeds', ({
    expect,
  }) =>
    scenario('completion event lost (SSM)', async () => {
      const instance = host(4).instanceId;
      system.ssm.setDropEvents(
        (event) =>
          event.detail['instance-id'] === instance &&
          event.detail['document-name'] === PREPARE_DOCUMENT &&
          event.detail.status !== 'InProgress',
      );
      const started = Date.now();
      const task = await ended(await restart(4)).finally(() => system.ssm.setDropEvents(undefined));
      const seconds = (Date.now() - started) / 1000;

      await expectResumedAfterTimeout(expect, task, 4, seconds);
      return `the prepare command succeeded but its event was dropped: its state timed out, SSM said Success, the run was resumed past it; SUCCESSFUL after ${seconds.toFixed(1)} s`;
    }));

  it('the completion event is lost on the bus and no sweep comes before the state times out: the run resumes past the subtask and the task succeeds', ({
    expect,
  }) =>
    scenario('completion event lost (bus)', async () => {
      const instance = host(5).instanceId;
      const lift = system.eventBridge.drop((event, rule) => {
        const detail = event.detail as { 'instance-id'?: string; 'document-name'?: string } | undefined;
        return (
          rule.name === 'command-finished' &&
          detail?.['instance-id'] === instance &&
          detail['document-name'] === PREPARE_DOCUMENT
        );
      });
      const started = Date.now();
      const task = await ended(await restart(5)).finally(lift);
      const seconds = (Date.now() - started) / 1000;

      await expectResumedAfterTimeout(expect, task, 5, seconds);
      return `the rule never delivered it: its state timed out, SSM said Success, the run was resumed past it; SUCCESSFUL after ${seconds.toFixed(1)} s`;
    }));
});

// After the concurrent faults: its sweep would also record the outcomes whose events they drop.
describe('a lost execution-ended event (local mode)', () => {
  it('the execution-ended event is lost: the scheduled sweep ends the task FAILED with its reason', ({
    expect,
  }) =>
    scenario('execution-ended event lost', async () => {
      setDemoMode(host(6), 'broken');
      let executionArn = '';
      const lift = system.eventBridge.drop(
        (event, rule) =>
          rule.name === 'execution-ended' &&
          (event.detail as { executionArn?: string } | undefined)?.executionArn === executionArn,
      );
      const taskId = await restart(6);
      executionArn = String((await taskItem(taskId))!.executor);
      await expect
        .poll(
          async () => {
            const described = (await system.stepFunctions.handle('DescribeExecution', { executionArn })) as {
              status: string;
            };
            return described.status;
          },
          { timeout: TASK_DEADLINE_MS, interval: 200 },
        )
        .toBe('FAILED');
      // The execution ended but its event was lost: the record still says RUNNING, the host is held.
      expect((await taskItem(taskId))!.status).toBe('RUNNING');

      const { fixed } = (await system.invoke('sweepTasks')) as { fixed: number[] };
      lift();

      expect(fixed).toContain(taskId);
      await expectTrueFailure(expect, (await taskItem(taskId))!, 6, 1, /exited with code 4/);
      setDemoMode(host(6), 'fast');
      return 'record left RUNNING with the execution FAILED; the scheduled sweep ended it FAILED and freed the host';
    }));
});
