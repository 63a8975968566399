import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RESTART_SUBTASKS } from '../../functions/core/subtasks.ts';
import { type LocalSystem, startLocalSystem } from '../../local/local-system.ts';
import { tokenFor } from '../support/local-client.ts';
import { recordFigure } from './support/figures.ts';
import { type RawResponse, rawRequest } from './support/raw-http.ts';
import { type Item, lockItems, scanAll, tableClient } from './support/tables.ts';

/**
 * Crashes in local mode, with DynamoDB kept on disk (persist: true): DynamoDB Local is SIGKILLed and
 * restarted while restarts are in flight, then local mode itself is stopped with tasks mid-way (their
 * end never recorded) and started again on the same state folder. Afterwards every task is in a true
 * state, none is lost or duplicated, and no host lock is left behind.
 */

const HOSTS = 10;
/** Every subtask state times out in 15 s here (test-only), so a step whose callback was lost ends soon. */
const STATE_TIMEOUT_SECONDS = 15;
const stateDir = mkdtempSync(join(tmpdir(), 'ocp-crash-'));
const options = {
  stateDir,
  persist: true,
  apiPort: 0,
  demoHosts: HOSTS,
  demoMode: 'fast' as const,
  stateTimeoutOverrides: Object.fromEntries(RESTART_SUBTASKS.map((s) => [s.name, STATE_TIMEOUT_SECONDS])),
};

let system: LocalSystem;
let client: DynamoDBClient;
let token: string;
/** Task ids the API answered 200 for, by host. */
const accepted = new Map<number, number[]>();
/** Requests sent, by host. */
const sent = new Map<number, number>();

beforeAll(async () => {
  system = await startLocalSystem(options);
  client = tableClient(system);
  token = await tokenFor(system, 'ops', ['HOST_MANAGER', 'TASK_MANAGER']);
});

afterAll(async () => {
  client?.destroy();
  await system?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

async function restart(hostId: number): Promise<RawResponse> {
  sent.set(hostId, (sent.get(hostId) ?? 0) + 1);
  const response = await rawRequest(system.apiUrl, {
    method: 'POST',
    path: `/compute/hosts/${hostId}/agent/restart`,
    headers: { authorization: `Bearer ${token}` },
    timeoutMs: 60_000,
  }).catch((error: unknown): RawResponse => ({ status: 0, headers: {}, body: String(error) }));
  if (response.status === 200) {
    const id = (JSON.parse(response.body) as { data: { id: number } }).data.id;
    accepted.set(hostId, [...(accepted.get(hostId) ?? []), id]);
  }
  return response;
}

async function untilNoExecutionRuns(deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const { executions } = (await system.stepFunctions.handle('ListExecutions', {
      stateMachineArn: system.stateMachineArn,
      statusFilter: 'RUNNING',
    })) as { executions: unknown[] };
    if (executions.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`${executions.length} executions still running after ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

type Subtask = { status: string; error?: string };

/** Why a task is not in a true state (finished, or FAILED with a reason and nothing in flight), if it is not. */
function untrue(task: Item): string | undefined {
  const subtasks = task.subtasks as Subtask[];
  if (subtasks.some((s) => s.status === 'RUNNING' || s.status === 'CANCELING'))
    return `task ${task.id} (${task.status}) has a subtask in flight`;
  if (task.status === 'SUCCESSFUL')
    return subtasks.every((s) => s.status === 'SUCCESSFUL')
      ? undefined
      : `task ${task.id} SUCCESSFUL with unfinished subtasks`;
  if (task.status === 'FAILED')
    return subtasks.some((s) => s.status === 'FAILED' && s.error)
      ? undefined
      : `task ${task.id} FAILED without a reason`;
  return `task ${task.id} is ${String(task.status)}`;
}

async function runSweep(): Promise<number[]> {
  const { handler } = (await import('../../functions/sweep-tasks.ts')) as {
    handler: () => Promise<{ fixed: number[] }>;
  };
  return (await handler()).fixed;
}

/** Every task is in a true state, every accepted task exists exactly once, no refused request left a live task, no lock. */
async function expectConsistent(): Promise<{ tasks: Item[] }> {
  const tasks = (await scanAll(client, system.tables.taskTable)).filter((item) => item.sk === 'TASK');
  expect(tasks.map(untrue).filter(Boolean)).toEqual([]);
  const ids = tasks.map((task) => task.id as number);
  expect(new Set(ids).size).toBe(ids.length);
  for (const [hostId, taskIds] of accepted) {
    for (const id of taskIds) expect(ids, `task ${id} of host ${hostId} is lost`).toContain(id);
  }
  for (const [hostId, count] of sent) {
    const ofHost = tasks.filter((task) => task.hostId === hostId);
    expect(ofHost.length, `host ${hostId}: more tasks than requests`).toBeLessThanOrEqual(count);
    const unanswered = ofHost.filter((task) => !(accepted.get(hostId) ?? []).includes(task.id as number));
    // A request answered with an error may have left a task only if its write landed before the
    // crash; then it must have ended FAILED with a reason (never run on as if accepted).
    expect(unanswered.filter((task) => task.status !== 'FAILED')).toEqual([]);
  }
  expect(await lockItems(client, system)).toEqual([]);
  return { tasks };
}

describe('DynamoDB Local is killed and restarted while restarts are in flight', () => {
  it('ends with every task in a true state, none lost or duplicated, no lock left', async () => {
    // Six restarts are accepted and their workflows are under way when DynamoDB Local dies; two more
    // race the kill, and one arrives while it is down.
    const accepted6 = await Promise.all([1, 2, 3, 4, 5, 6].map((hostId) => restart(hostId)));
    expect(accepted6.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200, 200]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const restarted = system.restartDynamoDb({ downtimeMs: 2_000 });
    const racing = [restart(7), restart(8)];
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const duringDowntime = await restart(9);
    await restarted;
    const answers = [...accepted6, ...(await Promise.all(racing)), duringDowntime];

    // Every answer is the API's envelope: 200, or a clean 500 while DynamoDB was away.
    expect(
      answers.map((answer) => answer.status).filter((status) => status !== 200 && status !== 500),
    ).toEqual([]);
    expect(duringDowntime.status).toBe(500);
    await untilNoExecutionRuns(90_000);
    // The scheduled sweep repairs what no event could record while DynamoDB was down.
    const fixed = await runSweep();
    const { tasks } = await expectConsistent();

    const reasons = [
      ...new Set(
        tasks
          .filter((task) => task.status === 'FAILED')
          .map((task) => (task.subtasks as Subtask[]).find((s) => s.error)?.error?.slice(0, 140)),
      ),
    ];
    // FAILED is resumable: each interrupted task, retried, redrives its execution to SUCCESSFUL.
    const interrupted = tasks.filter((task) => task.status === 'FAILED').map((task) => task.id as number);
    const retries = await Promise.all(
      interrupted.map((id) =>
        rawRequest(system.apiUrl, {
          method: 'POST',
          path: `/api/v2/tasks/instances/${id}/retry`,
          headers: { authorization: `Bearer ${token}` },
        }),
      ),
    );
    expect(retries.map((answer) => answer.status)).toEqual(interrupted.map(() => 200));
    await untilNoExecutionRuns(90_000);
    const retried = (await expectConsistent()).tasks.filter((task) =>
      interrupted.includes(task.id as number),
    );
    expect(retried.map((task) => task.status)).toEqual(interrupted.map(() => 'SUCCESSFUL'));

    const after = await Promise.all([1, 10].map((hostId) => restart(hostId)));
    expect(after.map((answer) => answer.status)).toEqual([200, 200]);
    recordFigure({
      family: 'faults (crash)',
      case: 'DynamoDB Local SIGKILLed and restarted mid-flight',
      tried: answers.length,
      passed: answers.length,
      detail: `${answers.filter((a) => a.status === 200).length} restarts accepted (6 under way at the kill), ${answers.filter((a) => a.status === 500).length} clean 500s; afterwards ${tasks.filter((t) => t.status === 'SUCCESSFUL').length} SUCCESSFUL, ${tasks.filter((t) => t.status === 'FAILED').length} FAILED with a reason (${fixed.length} ended by the sweep), 0 RUNNING, 0 locks, none lost or duplicated; each FAILED one retried to SUCCESSFUL; new restarts accepted. Reasons recorded: ${reasons.join(' / ')}`,
    });
  });
});

describe('local mode is stopped with tasks mid-way and started again on the same state folder', () => {
  it('finds every task, ends the orphaned ones FAILED with a reason, frees their hosts, and restarts them', async () => {
    await untilNoExecutionRuns(90_000);
    // Hosts 1-4 are offline: their tasks wait in "Prepare" when local mode goes down, and nothing
    // records their end (the stop's execution events are lost, as in a crash).
    for (const host of system.hosts.slice(0, 4)) system.offlineInstances.add(host.instanceId);
    const midway = await Promise.all([1, 2, 3, 4].map((hostId) => restart(hostId)));
    expect(midway.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    const orphans = midway.map((answer) => (JSON.parse(answer.body) as { data: { id: number } }).data.id);
    const before = (await scanAll(client, system.tables.taskTable)).filter((item) => item.sk === 'TASK');
    expect(
      before
        .filter((task) => task.status === 'RUNNING')
        .map((task) => task.id)
        .sort(),
    ).toEqual([...orphans].sort());
    system.eventBridge.drop(() => true);
    client.destroy();
    await system.stop();

    // A new process would load the handlers afresh: so does this one.
    vi.resetModules();
    system = await startLocalSystem(options);
    client = tableClient(system);
    token = await tokenFor(system, 'ops', ['HOST_MANAGER', 'TASK_MANAGER']);

    const found = (await scanAll(client, system.tables.taskTable)).filter((item) => item.sk === 'TASK');
    expect(found.map((task) => task.id).sort()).toEqual(before.map((task) => task.id).sort());
    for (const id of orphans) {
      const task = found.find((item) => item.id === id)!;
      expect(task.status).toBe('FAILED');
      expect((task.subtasks as Subtask[])[0]!.error).toMatch(/execution running it was lost/);
    }
    await expectConsistent();

    // A task whose execution is gone cannot be redriven: retrying it is refused as a 409, not a 500.
    const retry = await rawRequest(system.apiUrl, {
      method: 'POST',
      path: `/api/v2/tasks/instances/${orphans[0]}/retry`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect([retry.status, (JSON.parse(retry.body) as { error?: { code: number } }).error?.code]).toEqual([
      409, 20003,
    ]);
    await expectConsistent();

    const again = await Promise.all([1, 2, 3, 4].map((hostId) => restart(hostId)));
    expect(again.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    await untilNoExecutionRuns(60_000);
    const { tasks } = await expectConsistent();
    const fresh = again.map((answer) => (JSON.parse(answer.body) as { data: { id: number } }).data.id);
    expect(tasks.filter((task) => fresh.includes(task.id as number)).map((task) => task.status)).toEqual([
      'SUCCESSFUL',
      'SUCCESSFUL',
      'SUCCESSFUL',
      'SUCCESSFUL',
    ]);
    recordFigure({
      family: 'faults (crash)',
      case: 'local mode stopped mid-task and started again',
      tried: orphans.length,
      passed: orphans.length,
      detail: `${found.length} tasks found after the restart (none lost); the ${orphans.length} orphaned RUNNING tasks ended FAILED by the start-up sweep ("the execution running it was lost"), their locks released, their hosts restarted SUCCESSFUL`,
    });
  });
});
