import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { ListCommandInvocationsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESTART_SUBTASKS } from '../../functions/core/subtasks.ts';
import { TaskStore } from '../../functions/store/task-store.ts';
import { setDemoMode } from '../../local/demo-hosts.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { call, eventually, startTestSystem, tokenFor, waitForTask } from '../support/local-client.ts';

const STOP = RESTART_SUBTASKS[2]!.name;
let system: LocalSystem;
let token: string;
let sfn: SFNClient;
let ssm: SSMClient;
let store: TaskStore;

beforeAll(async () => {
  // Test-only: the stop state times out after 3 s instead of 600 s; everything else is the deployed ASL.
  system = await startTestSystem({ demoHosts: 3, stateTimeoutOverrides: { [STOP]: 3 } });
  token = await tokenFor(system, 'alice', ['HOST_MANAGER', 'TASK_VIEWER']);
  sfn = new SFNClient({});
  ssm = new SSMClient({});
  store = new TaskStore(system.tables.taskTable);
});

afterAll(async () => {
  sfn?.destroy();
  ssm?.destroy();
  await system?.stop();
});

async function run(hostId: number) {
  const { envelope } = await call(system, 'POST', `/compute/hosts/${hostId}/agent/restart`, token);
  const task = await waitForTask(system, token, envelope.data.id);
  await eventually(
    async () =>
      (await sfn.send(new DescribeExecutionCommand({ executionArn: task.executor }))).status !== 'RUNNING',
    'the execution to end',
  );
  const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: task.executor }));
  const history =
    (await sfn.send(new GetExecutionHistoryCommand({ executionArn: task.executor, maxResults: 1000 })))
      .events ?? [];
  return { task, execution, history, record: (await store.getTask(task.id))! };
}

const statesEntered = (history: HistoryEvent[]) =>
  history.flatMap((event) =>
    event.stateEnteredEventDetails?.name ? [event.stateEnteredEventDetails.name] : [],
  );

describe('the restart workflow, running the ASL file in local mode', () => {
  it('happy path: enters the five subtask states in order and leaves a SUCCESSFUL record with every output', async () => {
    const { execution, history, record } = await run(1);

    expect(execution.status).toBe('SUCCEEDED');
    expect(statesEntered(history)).toEqual([
      'Choose operation',
      ...RESTART_SUBTASKS.map((s) => s.name),
      'Record task success',
    ]);
    expect(record.status).toBe('SUCCESSFUL');
    expect(
      record.subtasks.every(
        (subtask) => subtask.status === 'SUCCESSFUL' && subtask.startTime && subtask.endTime,
      ),
    ).toBe(true);
    for (const subtask of record.subtasks) {
      expect(await store.subtaskLogs(record.id, subtask.id)).toEqual([
        expect.objectContaining({ attempt: 1, exitCode: 0 }),
      ]);
    }
    expect(await store.lockHolder(1)).toBeUndefined();
  });

  it('a subtask whose command fails: the execution fails at that state; the record keeps its error and output', async () => {
    setDemoMode(system.hosts[1]!, 'broken');

    const { execution, history, record } = await run(2);

    expect(execution).toMatchObject({ status: 'FAILED', error: 'SubtaskFailed' });
    expect(statesEntered(history)).toEqual([
      'Choose operation',
      RESTART_SUBTASKS[0]!.name,
      RESTART_SUBTASKS[1]!.name,
    ]);
    expect(record.status).toBe('FAILED');
    expect(record.subtasks.map((s) => s.status)).toEqual([
      'SUCCESSFUL',
      'FAILED',
      'PENDING',
      'PENDING',
      'PENDING',
    ]);
    expect(record.subtasks[1]!.error).toMatch(/exited with code 4/);
    const [log] = await store.subtaskLogs(record.id, record.subtasks[1]!.id);
    expect(log).toMatchObject({ exitCode: 4, stderr: expect.stringMatching(/\S/) });
    expect(await store.lockHolder(2)).toBeUndefined();
    setDemoMode(system.hosts[1]!, 'normal');
  });

  it('a subtask that times out: the state fails with States.Timeout, the reason says its command still ran, the command is cancelled, the host freed', async () => {
    setDemoMode(system.hosts[2]!, 'hang-stop');

    const { execution, history, record } = await run(3);

    expect(execution).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });
    expect(statesEntered(history).at(-1)).toBe(STOP);
    expect(record.subtasks[2]).toMatchObject({
      status: 'FAILED',
      error: expect.stringMatching(
        /did not finish within its timeout of 600 s: its command was still running on the host \(SSM status InProgress\)/,
      ),
    });
    expect(record.subtasks.slice(3).map((s) => s.status)).toEqual(['PENDING', 'PENDING']);
    expect(await store.lockHolder(3)).toBeUndefined();
    await eventually(async () => {
      const invocations = await ssm.send(
        new ListCommandInvocationsCommand({ InstanceId: system.hosts[2]!.instanceId }),
      );
      return (invocations.CommandInvocations ?? []).every((invocation) => invocation.Status !== 'InProgress');
    }, 'the timed-out command to be cancelled on the host');
    setDemoMode(system.hosts[2]!, 'normal');
  });

  it('a lost SSM status event: the sweep finds the command ended, records its outcome and completes the step; the task succeeds', async () => {
    const instance = system.hosts[0]!.instanceId;
    const lostDocument = `OcpAgentRestart-${RESTART_SUBTASKS[1]!.key}`;
    system.ssm.setDropEvents(
      (event) =>
        event.detail['instance-id'] === instance &&
        event.detail['document-name'] === lostDocument &&
        event.detail.status !== 'InProgress',
    );
    try {
      const { envelope } = await call(system, 'POST', '/compute/hosts/1/agent/restart', token);
      const taskId: number = envelope.data.id;
      let commandId = '';
      await eventually(async () => {
        const subtask = (await store.getTask(taskId))!.subtasks[1]!;
        const sent = subtask.status === 'RUNNING' ? await store.commandOf(taskId, subtask) : undefined;
        if (!sent) return false;
        commandId = sent;
        const invocations = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId }));
        return invocations.CommandInvocations?.[0]?.Status === 'Success';
      }, 'the pos proxy command to succeed while its subtask still waits for the lost event');

      // As the minute's sweep would, once the command's grace for its event (a minute) is over.
      const swept = await system.invoke('sweepTasks', { statusEventsDueBefore: new Date().toISOString() });

      expect(swept).toMatchObject({ completed: [taskId], fixed: [] });
      const task = await waitForTask(system, token, taskId);
      expect(task.status).toBe('SUCCESSFUL');
      const [log] = await store.subtaskLogs(taskId, task.subtasks[1].id);
      expect(log).toMatchObject({
        commandId,
        exitCode: 0,
        stdout: expect.stringContaining('pos_proxy restarted'),
      });
    } finally {
      system.ssm.setDropEvents(undefined);
    }
  });
});
