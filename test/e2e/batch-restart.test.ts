import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchExecutionName } from '../../functions/core/batch-execution.ts';
import { RESTART_SUBTASKS } from '../../functions/core/subtasks.ts';
import { executionArnFor } from '../../functions/use-cases/start-restart-task.ts';
import { demoAgentProcesses, setDemoMode } from '../../local/demo-hosts.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { call, startTestSystem, tokenFor, waitForTask } from '../support/local-client.ts';
import { tableItems } from '../support/test-tables.ts';

let system: LocalSystem;
let operator: string;

const HOSTS = 6;
const BATCH_DEADLINE_MS = 120_000;

beforeAll(async () => {
  system = await startTestSystem({ demoHosts: HOSTS, demoMode: 'fast' });
  operator = await tokenFor(system, 'alice', ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_VIEWER', 'TASK_MANAGER']);
});

afterAll(async () => {
  await system?.stop();
});

type Subtask = { name: string; status: string; parallelIdx: number; startTime?: string; endTime?: string };
type BatchHost = { hostId: number; status: string; taskId?: number; failedSubtask?: string; reason?: string };

const pidsOf = (hostId: number) =>
  Object.fromEntries(demoAgentProcesses(system.hosts[hostId - 1]!).map((p) => [p.name, p.pid]));

async function startBatch(body: unknown) {
  return call(system, 'POST', '/compute/hosts/batchRestartAgents', operator, JSON.stringify(body));
}

async function finishedBatch(id: number) {
  return waitForTask(system, operator, id, (task) => task.status !== 'RUNNING', BATCH_DEADLINE_MS);
}

const STOP = RESTART_SUBTASKS[2]!.name;

describe('batchRestartAgents over HTTP in local mode', () => {
  it('restarts three hosts as OCP answers a batch, and every host’s agent has new processes', async () => {
    const before = [1, 2, 3].map(pidsOf);

    const { status, envelope } = await startBatch({ hostIds: [1, 2, 3] });

    expect(status).toBe(200);
    expect(envelope.data).toMatchObject({
      name: 'Batch restart OCP agent',
      status: 'RUNNING',
      operation: 'EXECUTE',
      creator: 'alice',
      context: { listMap: { host_ids: ['1', '2', '3'] }, parallel: false, parallelIdx: -1 },
    });
    expect(envelope.data.hostId).toBeUndefined();
    const chains = [0, 1, 2].map((index) =>
      envelope.data.subtasks.filter((s: Subtask) => s.parallelIdx === index).map((s: Subtask) => s.name),
    );
    for (const chain of chains) expect(chain).toEqual(RESTART_SUBTASKS.map((s) => s.name));
    expect(envelope.data.subtasks.some((s: Subtask) => s.name === 'Wait node' && s.parallelIdx === -1)).toBe(
      true,
    );

    const batch = await finishedBatch(envelope.data.id);

    expect(batch.status).toBe('SUCCESSFUL');
    expect(batch.hosts.map((h: BatchHost) => [h.hostId, h.status])).toEqual([
      [1, 'SUCCESSFUL'],
      [2, 'SUCCESSFUL'],
      [3, 'SUCCESSFUL'],
    ]);
    [1, 2, 3].forEach((hostId, i) => {
      for (const [name, pid] of Object.entries(pidsOf(hostId)))
        expect(pid, `${hostId} ${name}`).not.toBe(before[i]![name]);
    });
    for (const host of batch.hosts as BatchHost[]) {
      const task = await waitForTask(system, operator, host.taskId!);
      expect(task).toMatchObject({ status: 'SUCCESSFUL', hostId: host.hostId });
    }
    // Every subtask of the batch has its log, read through the batch's id.
    for (const subtask of (batch.subtasks as (Subtask & { id: number })[]).filter(
      (s) => s.parallelIdx >= 0,
    )) {
      const { status: logStatus, envelope: log } = await call(
        system,
        'GET',
        `/api/v2/tasks/instances/${batch.id}/subtasks/${subtask.id}/log`,
        operator,
      );
      expect(logStatus, subtask.name).toBe(200);
      expect(log.data.log).toMatch(/attempt 1 .* exit code 0/);
    }
  });

  it('with maxConcurrency 1 never has two hosts in "Stop all OCP agent processes" at once', async () => {
    const { envelope } = await startBatch({ hostIds: [4, 5, 6], rollout: { maxConcurrency: 1 } });

    const batch = await finishedBatch(envelope.data.id);

    expect(batch.status).toBe('SUCCESSFUL');
    const stops = (batch.subtasks as Subtask[])
      .filter((s) => s.name === STOP)
      .map((s) => [Date.parse(s.startTime!), Date.parse(s.endTime!)] as const)
      .sort((a, b) => a[0] - b[0]);
    expect(stops).toHaveLength(3);
    for (let i = 1; i < stops.length; i++) expect(stops[i]![0]).toBeGreaterThanOrEqual(stops[i - 1]![1]);
  });

  it('stops the rollout at a broken host with maxErrors 0, says why the rest did not start, and a retry runs only those', async () => {
    setDemoMode(system.hosts[0]!, 'broken');
    const { envelope } = await startBatch({
      hostIds: [2, 1, 3],
      rollout: { maxConcurrency: 1, maxErrors: 0 },
    });

    const failed = await finishedBatch(envelope.data.id);

    expect(failed.status).toBe('FAILED');
    const [succeeded, broken, notStarted] = failed.hosts as BatchHost[];
    expect(succeeded).toMatchObject({ hostId: 2, status: 'SUCCESSFUL' });
    expect(broken).toMatchObject({ hostId: 1, status: 'FAILED' });
    expect(broken!.failedSubtask).toBeDefined();
    expect(notStarted).toMatchObject({ hostId: 3, status: 'NOT_STARTED' });
    expect(notStarted!.taskId).toBeUndefined();
    expect(notStarted!.reason).toMatch(/maxErrors|threshold|failed/i);

    setDemoMode(system.hosts[0]!, 'fast');
    const host2Pids = pidsOf(2);
    const retried = await call(system, 'POST', `/api/v2/tasks/instances/${failed.id}/retry`, operator);
    expect(retried.status).toBe(200);
    const done = await finishedBatch(failed.id);

    expect(done.status).toBe('SUCCESSFUL');
    expect(done.operation).toBe('RETRY');
    expect((done.hosts as BatchHost[]).map((h) => [h.hostId, h.status])).toEqual([
      [2, 'SUCCESSFUL'],
      [1, 'SUCCESSFUL'],
      [3, 'SUCCESSFUL'],
    ]);
    // The host that had succeeded was not restarted again: same task, same processes.
    expect((done.hosts as BatchHost[])[0]!.taskId).toBe(succeeded!.taskId);
    expect(pidsOf(2)).toEqual(host2Pids);
  });

  it('answers a dry run with the plan and changes nothing', async () => {
    const before = await tableItems(system.tables.taskTable);

    const { status, envelope } = await startBatch({
      hostIds: [1, 2, 3, 4, 999],
      rollout: { maxConcurrency: 2 },
      dryRun: true,
    });

    expect(status).toBe(200);
    expect(envelope.data.unknownHostIds).toEqual([999]);
    expect(envelope.data.waves).toBe(2);
    expect(await tableItems(system.tables.taskTable)).toEqual(before);
  });

  it.each([
    [{}, /hostIds/],
    [{ hostIds: [] }, /hostIds/],
    [{ hostIds: [1, 1] }, /duplicate|1/i],
    [{ hostIds: [1.5] }, /hostIds\[0\]/],
    [{ hostIds: Array.from({ length: 1001 }, (_, i) => i + 1) }, /1,?000/],
    [{ hostIds: [1], rollout: { maxConcurrency: 0 } }, /maxConcurrency/],
    [{ hostIds: [1], rollout: { maxErrors: '101%' } }, /maxErrors/],
    [{ hostIds: [1], rollout: { speed: 3 } }, /speed/],
    [{ hostIds: [1], extra: true }, /extra/],
  ])('refuses %j with 400 naming the problem, writing nothing', async (body, message) => {
    const before = await tableItems(system.tables.taskTable);

    const { status, envelope } = await startBatch(body);

    expect(status).toBe(400);
    expect(envelope.successful).toBe(false);
    expect(envelope.error!.message).toMatch(message);
    expect(await tableItems(system.tables.taskTable)).toEqual(before);
  });

  it('refuses unknown hosts with 404 naming them, writing nothing', async () => {
    const before = await tableItems(system.tables.taskTable);

    const { status, envelope } = await startBatch({ hostIds: [1, 998, 999] });

    expect(status).toBe(404);
    expect(envelope.error!.message).toMatch(/998.*999/);
    expect(await tableItems(system.tables.taskTable)).toEqual(before);
  });

  it('cancels a rollout midway: the running host’s task is cancelled and no later host starts', async () => {
    setDemoMode(system.hosts[3]!, 'hang-stop');
    try {
      const { envelope } = await startBatch({ hostIds: [4, 5, 6], rollout: { maxConcurrency: 1 } });
      await waitForTask(
        system,
        operator,
        envelope.data.id,
        (batch) => (batch.subtasks as Subtask[]).some((s) => s.name === STOP && s.status === 'RUNNING'),
        BATCH_DEADLINE_MS,
      );

      const cancelled = await call(
        system,
        'POST',
        `/api/v2/tasks/instances/${envelope.data.id}/cancel`,
        operator,
      );
      expect(cancelled.status).toBe(200);
      const batch = await finishedBatch(envelope.data.id);

      expect(batch.status).toBe('FAILED');
      const [running, ...later] = batch.hosts as BatchHost[];
      expect(running).toMatchObject({ hostId: 4, status: expect.stringMatching(/FAILED|CANCELED/) });
      for (const host of later) {
        expect(host.taskId).toBeUndefined();
        expect(host.status).toMatch(/CANCELED|NOT_STARTED/);
      }
      const task = await waitForTask(system, operator, running!.taskId!);
      expect(task.status).toBe('FAILED');
    } finally {
      setDemoMode(system.hosts[3]!, 'fast');
    }
  });

  it('ends a batch whose execution was stopped from outside: its running host’s task ends, the rest say why', async () => {
    setDemoMode(system.hosts[0]!, 'hang-stop');
    try {
      // maxErrors 2: the stopped host's failure alone does not cross the threshold.
      const { envelope } = await startBatch({
        hostIds: [1, 2, 3],
        rollout: { maxConcurrency: 1, maxErrors: 2 },
      });
      const id = envelope.data.id as number;
      await waitForTask(
        system,
        operator,
        id,
        (batch) => (batch.subtasks as Subtask[]).some((s) => s.name === STOP && s.status === 'RUNNING'),
        BATCH_DEADLINE_MS,
      );

      // As an operator would stop it in the console (StopExecution), outside the product's API.
      await system.stepFunctions.handle('StopExecution', {
        executionArn: executionArnFor(system.batchStateMachineArn, batchExecutionName(id, 0)),
        error: 'Operator',
        cause: 'stopped in the console',
      });
      const batch = await finishedBatch(id);

      expect(batch.status).toBe('FAILED');
      const [stopped, ...never] = batch.hosts as BatchHost[];
      expect(stopped).toMatchObject({ hostId: 1, status: 'FAILED' });
      const task = await waitForTask(system, operator, stopped!.taskId!);
      expect(task.status).toBe('FAILED');
      for (const host of never) {
        expect(host).toMatchObject({
          status: 'NOT_STARTED',
          reason: "The rollout's execution was stopped before it started this host.",
        });
        expect(host.taskId).toBeUndefined();
      }
      const locks = (await tableItems(system.tables.taskTable)).filter((item) => item.sk === 'LOCK');
      expect(locks).toEqual([]);
    } finally {
      setDemoMode(system.hosts[0]!, 'fast');
    }
  });

  it('refuses to cancel a single host’s task as a whole, naming the way to do it', async () => {
    const { envelope } = await call(system, 'POST', '/compute/hosts/5/agent/restart', operator);
    await waitForTask(system, operator, envelope.data.id);

    const { status, envelope: refused } = await call(
      system,
      'POST',
      `/api/v2/tasks/instances/${envelope.data.id}/cancel`,
      operator,
    );

    expect(status).toBe(409);
    expect(refused.error!.message).toMatch(/subtask/);
  });
});
