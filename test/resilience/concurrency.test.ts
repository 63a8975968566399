import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setDemoMode } from '../../local/demo-hosts.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { eventually, startTestSystem, tokenFor } from '../support/local-client.ts';
import { recordFigure } from './support/figures.ts';
import { rawRequest } from './support/raw-http.ts';
import { lockItems, tableClient, taskItems } from './support/tables.ts';

/**
 * Contention in local mode: in each round, 50 concurrent restarts of one host and one restart of each
 * of 200 hosts, all at once over HTTP. Exactly one task per host per round, every lock released after.
 * The first and last rounds run every task to SUCCESSFUL (locks released by the last state); the
 * rounds between fail every task at "Restart pos proxy" (demo mode broken: locks released by the
 * execution-status reconciler), which also keeps the suite's time in bounds on two cores.
 */

const HOSTS = 200;
const SAME_HOST_REQUESTS = 50;
const ROUNDS = 3;
const ROUND_DEADLINE_MS = 120_000;

let system: LocalSystem;
let client: DynamoDBClient;
let token: string;

beforeAll(async () => {
  system = await startTestSystem({ demoHosts: HOSTS, demoMode: 'fast' });
  client = tableClient(system);
  token = await tokenFor(system, 'load', ['HOST_MANAGER', 'TASK_VIEWER']);
}, 240_000);

afterAll(async () => {
  client?.destroy();
  await system?.stop();
});

/** Polls the local Step Functions (in memory, cheap) until no execution runs. */
async function untilNoExecutionRuns(deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const { executions } = (await system.stepFunctions.handle('ListExecutions', {
      stateMachineArn: system.stateMachineArn,
      statusFilter: 'RUNNING',
      maxResults: 1,
    })) as { executions: unknown[] };
    if (executions.length === 0) return;
    if (Date.now() > deadline) throw new Error(`Executions still running after ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const restart = async (hostId: number) => {
  const response = await rawRequest(system.apiUrl, {
    method: 'POST',
    path: `/compute/hosts/${hostId}/agent/restart`,
    headers: { authorization: `Bearer ${token}` },
    timeoutMs: 60_000,
  });
  const envelope = JSON.parse(response.body) as { data?: { id: number }; error?: { code: number } };
  return { hostId, status: response.status, taskId: envelope.data?.id, code: envelope.error?.code };
};

describe(`${SAME_HOST_REQUESTS} restarts of one host and ${HOSTS} of distinct hosts at once, ${ROUNDS} rounds`, () => {
  it('creates exactly one task per host per round, runs each to its end and releases every lock', async () => {
    const roundFigures: string[] = [];
    let tried = 0;
    let passed = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const contended = round; // a different host takes the 50 concurrent requests each round
      const started = Date.now();
      const expected = round === 1 || round === ROUNDS ? 'SUCCESSFUL' : 'FAILED';
      for (const host of system.hosts) setDemoMode(host, expected === 'SUCCESSFUL' ? 'fast' : 'broken');
      const requests = [
        ...Array.from({ length: SAME_HOST_REQUESTS }, () => contended),
        ...Array.from({ length: HOSTS }, (_, i) => i + 1),
      ].sort(() => Math.random() - 0.5);

      // The hosts' SSM agents are offline while the requests race, so no task can end (and free its
      // host) before the last request is answered: a second task on a host would be a lock failure.
      for (const host of system.hosts) system.offlineInstances.add(host.instanceId);
      const answers = await Promise.all(requests.map((hostId) => restart(hostId)));
      system.offlineInstances.clear();
      const burst = (Date.now() - started) / 1000;

      tried += answers.length;
      const accepted = answers.filter((answer) => answer.status === 200);
      const refused = answers.filter((answer) => answer.status === 409 && answer.code === 10009);
      expect(answers.filter((answer) => answer.status !== 200 && answer.status !== 409)).toEqual([]);
      expect(new Set(accepted.map((answer) => answer.hostId)).size).toBe(HOSTS);
      expect(accepted).toHaveLength(HOSTS);
      expect(refused).toHaveLength(SAME_HOST_REQUESTS);
      expect(new Set(accepted.map((answer) => answer.taskId)).size).toBe(HOSTS);

      const ids = new Set(accepted.map((answer) => answer.taskId));
      await untilNoExecutionRuns(ROUND_DEADLINE_MS);
      await eventually(
        async () =>
          (await taskItems(client, system)).every(
            (task) => !ids.has(task.id as number) || task.status !== 'RUNNING',
          ),
        `the ${HOSTS} tasks of round ${round} to end`,
        10_000,
      );
      const tasks = await taskItems(client, system);
      const thisRound = tasks.filter((task) => ids.has(task.id as number));
      const expectedSubtasks =
        expected === 'SUCCESSFUL'
          ? ['SUCCESSFUL', 'SUCCESSFUL', 'SUCCESSFUL', 'SUCCESSFUL', 'SUCCESSFUL']
          : ['SUCCESSFUL', 'FAILED', 'PENDING', 'PENDING', 'PENDING'];
      const unexpected = thisRound
        .filter(
          (task) =>
            task.status !== expected ||
            (task.subtasks as { status: string }[]).map((s) => s.status).join() !== expectedSubtasks.join(),
        )
        .map((task) => ({ id: task.id, hostId: task.hostId, status: task.status, subtasks: task.subtasks }));
      expect(unexpected).toEqual([]);
      expect(tasks).toHaveLength(HOSTS * round);
      const perHost = new Map<number, number>();
      for (const task of tasks)
        perHost.set(task.hostId as number, (perHost.get(task.hostId as number) ?? 0) + 1);
      expect([...perHost.values()].every((count) => count === round)).toBe(true);
      expect(await lockItems(client, system)).toEqual([]);
      passed += answers.length;
      roundFigures.push(
        `${expected} in ${((Date.now() - started) / 1000).toFixed(0)} s (burst ${burst.toFixed(1)} s)`,
      );
    }
    recordFigure({
      family: 'concurrency',
      case: `${SAME_HOST_REQUESTS} on one host + ${HOSTS} distinct hosts, ${ROUNDS} rounds`,
      tried,
      passed,
      detail: `${HOSTS * ROUNDS} tasks (one per host per round), ${SAME_HOST_REQUESTS * ROUNDS} refused 409/10009, 0 locks left after each round; rounds: ${roundFigures.join('; ')}`,
    });
  });
});
