import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { ListCommandInvocationsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamodb } from '../../functions/aws/dynamodb.ts';
import { RESTART_SUBTASKS } from '../../functions/core/subtasks.ts';
import { newRestartTask } from '../../functions/core/task.ts';
import { taskKey } from '../../functions/store/table-schema.ts';
import { WorkflowTaskStore } from '../../functions/store/workflow-task-store.ts';
import { type DemoHost, demoAgentProcesses, setDemoMode } from '../../local/demo-hosts.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import {
  call,
  type Envelope,
  eventually,
  startTestSystem,
  tokenFor,
  waitForTask,
} from '../support/local-client.ts';
import { endStoredTask } from '../support/tasks.ts';

let system: LocalSystem;
let manager: string;
let ssm: SSMClient;
let sfn: SFNClient;
let store: WorkflowTaskStore;

/** Makes a FAILED task (the test's own) look as if it had ended at `endTime`. */
async function ageFailedTask(taskId: number, endTime: string): Promise<void> {
  await dynamodb.send(
    new UpdateItemCommand({
      TableName: system.tables.taskTable,
      Key: marshall(taskKey(taskId)),
      UpdateExpression: 'SET endTime = :endTime',
      ConditionExpression: '#status = :failed',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: marshall({ ':endTime': endTime, ':failed': 'FAILED' }),
    }),
  );
}

beforeAll(async () => {
  system = await startTestSystem({ demoHosts: 8 });
  manager = await tokenFor(system, 'ops', ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_MANAGER']);
  ssm = new SSMClient({});
  sfn = new SFNClient({});
  store = new WorkflowTaskStore(system.tables.taskTable);
});

afterAll(async () => {
  ssm?.destroy();
  sfn?.destroy();
  await system?.stop();
});

const host = (hostId: number): DemoHost => system.hosts[hostId - 1]!;
const restart = async (hostId: number, body?: string) =>
  (await call(system, 'POST', `/compute/hosts/${hostId}/agent/restart`, manager, body)).envelope;
const act = (path: string) => call(system, 'POST', `/api/v2/tasks/instances/${path}`, manager);
const statuses = (task: Envelope['data']) => task.subtasks.map((s: { status: string }) => s.status);

/** How many times a subtask's script ran on a host, as recorded by SSM (the only way scripts reach hosts). */
async function scriptRuns(hostId: number, subtaskIndex: number, taskId: number): Promise<number> {
  const result = await ssm.send(new ListCommandInvocationsCommand({ InstanceId: host(hostId).instanceId }));
  return (result.CommandInvocations ?? []).filter(
    (invocation) =>
      invocation.DocumentName === `OcpAgentRestart-${RESTART_SUBTASKS[subtaskIndex]!.key}` &&
      invocation.Comment?.includes(`task=${taskId} `),
  ).length;
}

async function failAtPosProxy(hostId: number): Promise<Envelope['data']> {
  setDemoMode(host(hostId), 'broken');
  const task = await waitForTask(system, manager, (await restart(hostId)).data.id);
  expect(statuses(task)).toEqual(['SUCCESSFUL', 'FAILED', 'PENDING', 'PENDING', 'PENDING']);
  setDemoMode(host(hostId), 'normal');
  return task;
}

describe('retry', () => {
  it('resumes a FAILED task at the failed subtask without running the earlier ones again', async () => {
    const failed = await failAtPosProxy(1);

    const { status, envelope } = await act(`${failed.id}/retry`);

    expect(status).toBe(200);
    expect(envelope.data).toMatchObject({ status: 'RUNNING', operation: 'RETRY' });
    const task = await waitForTask(system, manager, failed.id);
    expect(task.status).toBe('SUCCESSFUL');
    expect(task.subtasks[1]).toMatchObject({ status: 'SUCCESSFUL', operation: 'RETRY', runTime: 2 });
    expect(task.subtasks[0]).toMatchObject({ operation: 'EXECUTE', runTime: 1 });
    expect(await scriptRuns(1, 0, failed.id)).toBe(1);
    expect(await scriptRuns(1, 1, failed.id)).toBe(2);
    const { envelope: log } = await call(
      system,
      'GET',
      `/api/v2/tasks/instances/${failed.id}/subtasks/${task.subtasks[1].id}/log`,
      manager,
    );
    expect(log.data.log).toMatch(/attempt 1[\s\S]*attempt 2/);
  });

  it('is refused for a task that is not FAILED, changing nothing', async () => {
    const done = await waitForTask(system, manager, (await restart(2)).data.id);

    const { status, envelope } = await act(`${done.id}/retry`);

    expect(status).toBe(409);
    expect(envelope.error?.code).toBe(20003);
    expect((await waitForTask(system, manager, done.id)).operation).toBe('EXECUTE');
  });
});

describe('retry and skip after Step Functions’ 14-day redrive window', () => {
  it('are refused with a 409 naming the window, changing nothing', async () => {
    const failed = await failAtPosProxy(2);
    const ended = new Date(Date.now() - 15 * 86_400_000).toISOString().replace('Z', '+00:00');
    await ageFailedTask(failed.id, ended);
    const before = await store.getTask(failed.id);

    const retried = await act(`${failed.id}/retry`);
    const skipped = await act(`${failed.id}/subtasks/${failed.subtasks[1].id}/skip`);

    for (const { status, envelope } of [retried, skipped]) {
      expect(status).toBe(409);
      expect(envelope).toMatchObject({ successful: false, error: { code: 20003 } });
      expect(envelope.error?.message).toMatch(/more than 14 days ago: .* only within 14 days of its end/);
    }
    expect(await store.getTask(failed.id)).toEqual(before);
    expect(await store.lockHolder(2)).toBeUndefined();
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: failed.executor }));
    expect(execution).toMatchObject({ status: 'FAILED', redriveCount: 0 });
  });
});

describe('the sweep during a retry', () => {
  it('leaves a retried task RUNNING while its execution is PENDING_REDRIVE; the task then succeeds', async () => {
    const failed = await failAtPosProxy(3);
    const release = system.stepFunctions.holdRedrives();
    try {
      expect((await act(`${failed.id}/retry`)).status).toBe(200);
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: failed.executor }));
      expect(execution).toMatchObject({ status: 'PENDING_REDRIVE', redriveCount: 1 });

      const swept = (await system.invoke('sweepTasks')) as { fixed: number[] };
      expect(swept.fixed).not.toContain(failed.id);
      expect((await store.getTask(failed.id))!.status).toBe('RUNNING');
    } finally {
      release();
    }
    expect((await waitForTask(system, manager, failed.id)).status).toBe('SUCCESSFUL');
  });
});

describe('skip', () => {
  it('marks the failed subtask SUCCESSFUL (SKIP) and goes on from the next one', async () => {
    const failed = await failAtPosProxy(3);

    const { status } = await act(`${failed.id}/subtasks/${failed.subtasks[1].id}/skip`);

    expect(status).toBe(200);
    const task = await waitForTask(system, manager, failed.id);
    expect(task.status).toBe('SUCCESSFUL');
    expect(task.subtasks[1]).toMatchObject({ status: 'SUCCESSFUL', operation: 'SKIP' });
    expect(await scriptRuns(3, 1, failed.id)).toBe(1);
    expect(await scriptRuns(3, 2, failed.id)).toBe(1);
  });

  it('is refused for a subtask that did not fail', async () => {
    const failed = await failAtPosProxy(3);
    const { status, envelope } = await act(`${failed.id}/subtasks/${failed.subtasks[0].id}/skip`);
    expect(status).toBe(409);
    expect(envelope.error?.code).toBe(20003);
  });
});

describe('cancel', () => {
  it('ends a long-running subtask FAILED, kills its command on the host, and leaves the task retryable', async () => {
    setDemoMode(host(4), 'hang-stop');
    const started = (await restart(4)).data;
    const running = await waitForTask(
      system,
      manager,
      started.id,
      (task) => task.subtasks[2].status === 'RUNNING',
    );

    const { status, envelope } = await act(`${started.id}/subtasks/${running.subtasks[2].id}/cancel`);

    expect(status).toBe(200);
    expect(['CANCELING', 'FAILED']).toContain(envelope.data.subtasks[2].status);
    const task = await waitForTask(system, manager, started.id);
    expect(task.status).toBe('FAILED');
    expect(task.subtasks[2]).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/cancelled/) });
    await eventually(async () => {
      const result = await ssm.send(new ListCommandInvocationsCommand({ InstanceId: host(4).instanceId }));
      return (result.CommandInvocations ?? []).every((invocation) => invocation.Status !== 'InProgress');
    }, 'the cancelled command to stop');

    setDemoMode(host(4), 'normal');
    await act(`${started.id}/retry`);
    expect((await waitForTask(system, manager, started.id)).status).toBe('SUCCESSFUL');
  });

  it('is refused for a subtask that is not running', async () => {
    const done = await waitForTask(system, manager, (await restart(4)).data.id);
    const { status } = await act(`${done.id}/subtasks/${done.subtasks[0].id}/cancel`);
    expect(status).toBe(409);
  });
});

describe('rollback', () => {
  it('brings the host back to a running agent, with operation ROLLBACK', async () => {
    const failed = await failAtPosProxy(5);
    expect(demoAgentProcesses(host(5)).find((p) => p.name === 'pos_proxy')?.running).toBe(false);

    const { status, envelope } = await act(`${failed.id}/rollback`);

    expect(status).toBe(200);
    expect(envelope.data.operation).toBe('ROLLBACK');
    const task = await waitForTask(system, manager, failed.id);
    expect(task).toMatchObject({ status: 'SUCCESSFUL', operation: 'ROLLBACK' });
    // What ran keeps its status; what did not and will not is ROLLBACK_SKIP; nothing is left READY.
    expect(task.subtasks.map((s: { status: string }) => s.status)).toEqual([
      'SUCCESSFUL',
      'FAILED',
      'ROLLBACK_SKIP',
      'SUCCESSFUL',
      'ROLLBACK_SKIP',
    ]);
    // "Start all OCP agent processes" had never run: the rollback's run is its first attempt.
    expect(task.subtasks[3]).toMatchObject({ status: 'SUCCESSFUL', operation: 'ROLLBACK', runTime: 1 });
    const { envelope: log } = await call(
      system,
      'GET',
      `/api/v2/tasks/instances/${failed.id}/subtasks/${task.subtasks[3].id}/log`,
      manager,
    );
    expect(log.data.log).toMatch(/^=== attempt 1 /);
    const { envelope: agent } = await call(system, 'GET', '/compute/hosts/5/agent', manager);
    expect(agent.data.status).toBe('STARTED');
  });

  it('is refused with TASK_PROHIBIT_ROLLBACK when the task prohibits it', async () => {
    setDemoMode(host(6), 'broken');
    const started = await restart(6, '{"prohibitRollback":true}');
    const failed = await waitForTask(system, manager, started.data.id);
    setDemoMode(host(6), 'normal');

    const { status, envelope } = await act(`${failed.id}/rollback`);

    expect(status).toBe(400);
    expect(envelope.error?.code).toBe(20004);
    expect((await waitForTask(system, manager, failed.id)).status).toBe('FAILED');
  });
});

describe('the per-host lock', () => {
  it('lets 20 concurrent restarts of one host create exactly one task and 19 conflicts naming it', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => call(system, 'POST', '/compute/hosts/7/agent/restart', manager)),
    );

    const accepted = answers.filter((answer) => answer.status === 200);
    const conflicts = answers.filter((answer) => answer.status === 409);
    expect(accepted).toHaveLength(1);
    expect(conflicts).toHaveLength(19);
    const taskId = accepted[0]!.envelope.data.id;
    for (const conflict of conflicts) expect(conflict.envelope.error?.message).toContain(`task ${taskId}`);
    await waitForTask(system, manager, taskId);
  });

  it('is released by reconciliation when the execution is stopped from outside', async () => {
    setDemoMode(host(8), 'hang-stop');
    const started = (await restart(8)).data;
    await waitForTask(system, manager, started.id, (task) => task.subtasks[2].status === 'RUNNING');
    const sfn = new SFNClient({});

    await sfn.send(
      new StopExecutionCommand({ executionArn: started.executor, error: 'Operator', cause: 'console' }),
    );

    const task = await waitForTask(system, manager, started.id);
    expect(task.status).toBe('FAILED');
    expect(task.subtasks[2].error).toMatch(/stopped/);
    setDemoMode(host(8), 'normal');
    const next = await restart(8);
    expect(next.successful).toBe(true);
    await waitForTask(system, manager, next.data.id);
    sfn.destroy();
  });
});

describe('unknown ids and permissions', () => {
  it.each(['retry', 'rollback', 'subtasks/1/skip', 'subtasks/1/cancel'])(
    '%s of an unknown task is TASK_NOT_EXISTS',
    async (action) => {
      const { status, envelope } = await act(`987654/${action}`);
      expect(status).toBe(404);
      expect(envelope.error?.code).toBe(20000);
    },
  );

  it('acting needs TASK_MANAGER', async () => {
    const viewer = await tokenFor(system, 'eve', ['TASK_VIEWER', 'HOST_MANAGER']);
    const { status } = await call(system, 'POST', '/api/v2/tasks/instances/1/retry', viewer);
    expect(status).toBe(403);
  });
});

describe('listing', () => {
  it('pages correctly over 250 tasks', async () => {
    const store = new WorkflowTaskStore(system.tables.taskTable);
    for (let i = 0; i < 250; i++) {
      const firstId = await store.allocateIds(6);
      const task = newRestartTask({
        firstId,
        hostId: 1000 + i,
        creator: 'seed',
        type: 'MANUAL',
        prohibitRollback: false,
        executionArn: `arn:aws:states:us-east-1:000000000000:execution:x:task-${firstId}`,
        now: new Date(),
      });
      await store.createTask(task);
      await endStoredTask(store, task.id, 'SUCCESSFUL', { endTime: task.startTime });
    }
    const { envelope: all } = await call(system, 'GET', '/api/v2/tasks/instances?size=1', manager);
    const total: number = all.data.page.totalElements;
    expect(total).toBeGreaterThanOrEqual(250);

    const seen: number[] = [];
    for (let page = 1; page <= Math.ceil(total / 40); page++) {
      const { envelope } = await call(system, 'GET', `/api/v2/tasks/instances?size=40&page=${page}`, manager);
      expect(envelope.data.page).toMatchObject({
        totalElements: total,
        totalPages: Math.ceil(total / 40),
        number: page,
      });
      seen.push(...envelope.data.contents.map((task: { id: number }) => task.id));
    }
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
  });
});
