import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RESTART_SUBTASKS } from '../../functions/core/subtasks.ts';
import { setDemoMode } from '../../local/demo-hosts.ts';
import { type LocalSystem, startLocalSystem } from '../../local/local-system.ts';
import { tokenFor } from '../support/local-client.ts';
import { recordFigure } from './support/figures.ts';
import { type RawResponse, rawRequest } from './support/raw-http.ts';
import { type Item, lockItems, scanAll, tableClient, taskItems } from './support/tables.ts';

/**
 * Crashes in local mode, with DynamoDB kept on disk (persist: true): DynamoDB Local is SIGKILLed and
 * restarted while restarts are in flight, then local mode itself is stopped with tasks mid-way (their
 * end never recorded) and started again on the same state folder. Afterwards every task is in a true
 * state, none is lost or duplicated, no host lock is left behind, and a task failed or interrupted
 * before the restart is retried after it (its execution kept by local Step Functions).
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
    // A retried task's execution is PENDING_REDRIVE until its redriven run starts: that runs too. AWS
    // filters on PENDING_REDRIVE for a Map Run's children only, so this reads the statuses itself.
    const executions: unknown[] = [];
    let nextToken: string | undefined;
    do {
      const page = (await system.stepFunctions.handle('ListExecutions', {
        stateMachineArn: system.stateMachineArn,
        maxResults: 1000,
        nextToken,
      })) as { executions: { status: string }[]; nextToken?: string };
      const open = ['RUNNING', 'PENDING_REDRIVE'];
      executions.push(...page.executions.filter((execution) => open.includes(execution.status)));
      nextToken = page.nextToken;
    } while (nextToken);
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

/**
 * Runs the scheduled sweep as its schedule would, until a run leaves no task unchecked (a task it
 * could not check, e.g. while DynamoDB Local still recovers on a loaded machine, waits for the next
 * run on AWS too). Returns the tasks it ended.
 */
async function runSweep(): Promise<number[]> {
  const fixed: number[] = [];
  for (let run = 1; ; run++) {
    const result = (await system.invoke('sweepTasks')) as { fixed: number[]; failed: number[] };
    fixed.push(...result.fixed);
    if (result.failed.length === 0) return fixed;
    if (run === 5)
      throw new Error(`The sweep could not check tasks ${result.failed.join(', ')} in ${run} runs`);
  }
}

/** Every task is in a true state, every accepted task exists exactly once, no refused request left a live task, no lock. */
async function expectConsistent(): Promise<{ tasks: Item[] }> {
  const tasks = await taskItems(client, system);
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
    // The scheduled sweep repairs what no event could record while DynamoDB was down: it ends a task
    // as its execution ended, or, when a subtask's state timed out only because its command's event
    // was lost, records the command's success and resumes the workflow, which then runs to its end.
    const fixed: number[] = [];
    for (let round = 1; ; round++) {
      await untilNoExecutionRuns(90_000);
      const ended = await runSweep();
      if (ended.length === 0) break;
      fixed.push(...ended);
      if (round === 5) throw new Error(`The sweep was still ending tasks after ${round} rounds`);
    }
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
  it('keeps every task and execution: interrupted and failed tasks are retried to SUCCESSFUL after the restart', async () => {
    await untilNoExecutionRuns(90_000);
    // Host 5's agent refuses to restart: its task fails before the stop, as an operator would find it.
    setDemoMode(system.hosts[4]!, 'broken');
    const failedAnswer = await restart(5);
    expect(failedAnswer.status).toBe(200);
    const failedBefore = (JSON.parse(failedAnswer.body) as { data: { id: number } }).data.id;
    await untilTask(failedBefore, (task) => task.status === 'FAILED');
    // Hosts 1-4 are offline: their tasks wait in "Prepare" when local mode goes down, and nothing
    // records their end (the stop's execution events are lost, as in a crash).
    for (const host of system.hosts.slice(0, 4)) system.offlineInstances.add(host.instanceId);
    const midway = await Promise.all([1, 2, 3, 4].map((hostId) => restart(hostId)));
    expect(midway.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    const orphans = midway.map((answer) => (JSON.parse(answer.body) as { data: { id: number } }).data.id);
    // Accepted is not yet under way: each orphan's first attempt must have begun before the stop.
    for (const id of orphans)
      await untilTask(id, (task) => (task.subtasks as Subtask[])[0]!.status === 'RUNNING');
    const before = await taskItems(client, system);
    expect(
      before
        .filter((task) => task.status === 'RUNNING')
        .map((task) => task.id)
        .sort(),
    ).toEqual([...orphans].sort());
    system.eventBridge.drop(() => true);
    client.destroy();
    await system.stop();
    // The last orphan's execution is gone from the store (as if .local/step-functions were cleared).
    const lost = orphans[3]!;
    deleteExecutionLog(before.find((task) => task.id === lost)!.executor as string);
    const interrupted = orphans.slice(0, 3);

    // A new process would load the handlers afresh: so does this one.
    vi.resetModules();
    system = await startLocalSystem(options);
    client = tableClient(system);
    token = await tokenFor(system, 'ops', ['HOST_MANAGER', 'TASK_MANAGER']);

    const found = await taskItems(client, system);
    expect(found.map((task) => task.id).sort()).toEqual(before.map((task) => task.id).sort());
    const prepareError = (id: number) =>
      (found.find((item) => item.id === id)!.subtasks as Subtask[])[0]!.error;
    for (const id of interrupted) {
      expect(found.find((item) => item.id === id)!.status).toBe('FAILED');
      expect(prepareError(id)).toMatch(
        /States\.Runtime: Local mode stopped while the execution ran \(in state "Prepare restart OCP agent"\)/,
      );
    }
    expect(prepareError(lost)).toMatch(/execution running it was lost/);
    expect(found.find((item) => item.id === failedBefore)!.status).toBe('FAILED');
    await expectConsistent();

    // A task whose execution is gone cannot be redriven: retrying it is refused as a 409, not a 500.
    const refused = await retry(lost);
    expect([refused.status, (JSON.parse(refused.body) as { error?: { code: number } }).error?.code]).toEqual([
      409, 20003,
    ]);
    await expectConsistent();

    // Every other one is retried over HTTP: its execution, kept across the restart, is redriven from
    // the state it failed in, and the task ends SUCCESSFUL.
    const retried = [...interrupted, failedBefore];
    expect((await Promise.all(retried.map(retry))).map((answer) => answer.status)).toEqual(
      retried.map(() => 200),
    );
    await untilNoExecutionRuns(60_000);
    const afterRetry = (await expectConsistent()).tasks;
    const runTimes = (id: number) => {
      const task = afterRetry.find((item) => item.id === id)!;
      return [task.status, ...(task.subtasks as { runTime: number }[]).map((s) => s.runTime)];
    };
    for (const id of interrupted) expect(runTimes(id)).toEqual(['SUCCESSFUL', 2, 1, 1, 1, 1]);
    expect(runTimes(failedBefore)).toEqual(['SUCCESSFUL', 1, 2, 1, 1, 1]);

    const again = await restart(4);
    expect(again.status).toBe(200);
    await untilNoExecutionRuns(60_000);
    const { tasks } = await expectConsistent();
    const fresh = (JSON.parse(again.body) as { data: { id: number } }).data.id;
    expect(tasks.find((task) => task.id === fresh)!.status).toBe('SUCCESSFUL');
    recordFigure({
      family: 'faults (crash)',
      case: 'local mode stopped mid-task and started again',
      tried: retried.length + 1,
      passed: retried.length + 1,
      detail: `${found.length} tasks found after the restart (none lost); the ${interrupted.length} RUNNING tasks whose executions local mode kept ended FAILED by the start-up sweep (States.Runtime, "local mode stopped while the execution ran"), as did 1 whose execution was deleted ("the execution running it was lost"); those ${interrupted.length} and 1 task that had FAILED before the stop were retried over HTTP and redriven to SUCCESSFUL from the failed state; the one without an execution was refused (409) and its host restarted SUCCESSFUL`,
    });
  });
});

async function retry(taskId: number): Promise<RawResponse> {
  return rawRequest(system.apiUrl, {
    method: 'POST',
    path: `/api/v2/tasks/instances/${taskId}/retry`,
    headers: { authorization: `Bearer ${token}` },
  });
}

async function untilTask(taskId: number, done: (task: Item) => boolean, deadlineMs = 60_000): Promise<Item> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const task = (await scanAll(client, system.tables.taskTable)).find(
      (item) => item.sk === 'TASK' && item.id === taskId,
    );
    if (task && done(task)) return task;
    if (Date.now() > deadline)
      throw new Error(`task ${taskId} not as expected after ${deadlineMs} ms: ${JSON.stringify(task)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Deletes one execution's log from local mode's Step Functions store. */
function deleteExecutionLog(executionArn: string): void {
  const dir = join(stateDir, 'step-functions');
  const file = readdirSync(dir).find((name) =>
    readFileSync(join(dir, name), 'utf8').split('\n', 1)[0]!.includes(JSON.stringify(executionArn)),
  );
  expect(file, `the log of ${executionArn}`).toBeDefined();
  rmSync(join(dir, file!));
}
