import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystem } from '../../local/local-system.ts';
import { eventually, startTestSystem, tokenFor } from '../support/local-client.ts';
import { recordFigure } from './support/figures.ts';
import { rawRequest } from './support/raw-http.ts';
import { lockItems, taskItems, tableClient } from './support/tables.ts';

/**
 * Contention in local mode: in each round, 50 concurrent restarts of one host and one restart of each
 * of 200 hosts, all at once over HTTP. Exactly one task per host per round, every lock released after.
 */

const HOSTS = 200;
const SAME_HOST_REQUESTS = 50;
const ROUNDS = 5;
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
  it('creates exactly one task per host per round, runs each to SUCCESSFUL and releases every lock', async () => {
    const roundFigures: string[] = [];
    let tried = 0;
    let passed = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const contended = round; // a different host takes the 50 concurrent requests each round
      const started = Date.now();
      const requests = [
        ...Array.from({ length: SAME_HOST_REQUESTS }, () => contended),
        ...Array.from({ length: HOSTS }, (_, i) => i + 1),
      ].sort(() => Math.random() - 0.5);

      const answers = await Promise.all(requests.map((hostId) => restart(hostId)));

      tried += answers.length;
      const accepted = answers.filter((answer) => answer.status === 200);
      const refused = answers.filter((answer) => answer.status === 409 && answer.code === 10009);
      expect(answers.filter((answer) => answer.status !== 200 && answer.status !== 409)).toEqual([]);
      expect(new Set(accepted.map((answer) => answer.hostId)).size).toBe(HOSTS);
      expect(accepted).toHaveLength(HOSTS);
      expect(refused).toHaveLength(SAME_HOST_REQUESTS);
      expect(new Set(accepted.map((answer) => answer.taskId)).size).toBe(HOSTS);

      const ids = new Set(accepted.map((answer) => answer.taskId));
      await eventually(
        async () =>
          (await taskItems(client, system)).filter(
            (task) => ids.has(task.id as number) && task.status === 'RUNNING',
          ).length === 0,
        `the ${HOSTS} tasks of round ${round} to end`,
        ROUND_DEADLINE_MS,
      );
      const tasks = await taskItems(client, system);
      const thisRound = tasks.filter((task) => ids.has(task.id as number));
      expect(thisRound.map((task) => task.status)).toEqual(Array(HOSTS).fill('SUCCESSFUL'));
      expect(tasks).toHaveLength(HOSTS * round);
      const perHost = new Map<number, number>();
      for (const task of tasks)
        perHost.set(task.hostId as number, (perHost.get(task.hostId as number) ?? 0) + 1);
      expect([...perHost.values()].every((count) => count === round)).toBe(true);
      expect(await lockItems(client, system)).toEqual([]);
      passed += answers.length;
      roundFigures.push(`${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    recordFigure({
      family: 'concurrency',
      case: `${SAME_HOST_REQUESTS} on one host + ${HOSTS} distinct hosts, ${ROUNDS} rounds`,
      tried,
      passed,
      detail: `${HOSTS * ROUNDS} tasks, all SUCCESSFUL, ${SAME_HOST_REQUESTS * ROUNDS} refused 409/10009, 0 locks left; rounds took ${roundFigures.join(', ')}`,
    });
  });
});
