import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  RedriveExecutionCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ENV } from '../../functions/catalog.ts';
import { commandComment } from '../../functions/core/command-comment.ts';
import { commandTimeouts } from '../../functions/core/command-timeouts.ts';
import type { CommandStatusDetail } from '../../functions/core/event-patterns.ts';
import { RESTART_SUBTASKS } from '../../functions/core/subtasks.ts';
import type { TaskRecord } from '../../functions/core/task.ts';
import { cancelSubtask, retryTask } from '../../functions/core/task-lifecycle.ts';
import { logger } from '../../functions/logger.ts';
import { hostLockKey } from '../../functions/store/table-schema.ts';
import { WorkflowTaskStore } from '../../functions/store/workflow-task-store.ts';
import { createRestartTask, endStoredTask } from '../support/tasks.ts';
import { createTestTables, type TestTables, tableItems, testDynamoDb } from '../support/test-tables.ts';

const ssmMock = mockClient(SSMClient);
const sfnMock = mockClient(SFNClient);
const INSTANCE = 'mi-0123456789abcdef0';
let tables: TestTables;
let store: WorkflowTaskStore;
let runSubtask: typeof import('../../functions/run-subtask.ts').handler;
let commandCallback: typeof import('../../functions/command-callback.ts').handler;
let finishTask: typeof import('../../functions/finish-task.ts').handler;
let reconcile: typeof import('../../functions/reconcile-execution.ts').handler;
let nextId = 1000;

beforeAll(async () => {
  tables = await createTestTables();
  process.env[ENV.commandOutputLogGroup] = '/ocp/command-output';
  process.env[ENV.commandDocuments] = JSON.stringify({
    prepare: 'doc-prepare',
    restartPosProxy: 'doc-pos',
    stopAgent: 'doc-stop',
    startAgent: 'doc-start',
    finish: 'doc-finish',
  });
  store = new WorkflowTaskStore(tables.taskTable);
  ({ handler: runSubtask } = await import('../../functions/run-subtask.ts'));
  ({ handler: commandCallback } = await import('../../functions/command-callback.ts'));
  ({ handler: finishTask } = await import('../../functions/finish-task.ts'));
  ({ handler: reconcile } = await import('../../functions/reconcile-execution.ts'));
});

beforeEach(() => {
  ssmMock.reset();
  sfnMock.reset();
  ssmMock.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-${nextId++}` } }));
});

const runningTask = (hostId: number) => createRestartTask(store, hostId);

const start = async (
  task: TaskRecord,
  subtaskIndex: number,
  taskToken = `token-${task.id}-${subtaskIndex}`,
) =>
  (await runSubtask({
    taskId: task.id,
    subtaskIndex,
    instanceId: INSTANCE,
    agentHome: '/home/admin/ocp_agent',
    controlScript: 'bin/ocp_agentctl',
    taskToken,
  })) as { commandId: string };

function commandEnded(commandId: string, invocation: Partial<GetCommandInvocationCommandOutput>) {
  ssmMock.on(GetCommandInvocationCommand, { CommandId: commandId }).resolves({
    CommandId: commandId,
    InstanceId: INSTANCE,
    ResponseCode: 0,
    StandardOutputContent: '',
    StandardErrorContent: '',
    ...invocation,
  });
  const event = {
    id: 'event-1',
    version: '0',
    account: '1',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    source: 'aws.ssm',
    'detail-type': 'EC2 Command Invocation Status-change Notification',
    detail: {
      'command-id': commandId,
      'instance-id': INSTANCE,
      'document-name': 'doc',
      status: invocation.Status ?? 'Success',
    },
  } as EventBridgeEvent<string, CommandStatusDetail>;
  return () => commandCallback(event);
}

describe('run-subtask', () => {
  it('marks the subtask RUNNING with its token, then sends its document with a traceable comment', async () => {
    const task = await runningTask(1);

    const { commandId } = await start(task, 0);

    const stored = (await store.getTask(task.id))!;
    expect(stored.subtasks[0]).toMatchObject({ status: 'RUNNING', runTime: 1 });
    expect(await store.attempt(task.id, stored.subtasks[0]!.id, 1)).toEqual({
      taskId: task.id,
      subtaskId: stored.subtasks[0]!.id,
      attempt: 1,
      taskToken: `token-${task.id}-0`,
      commandId,
      // Its output streams are named after the instance.
      instanceId: INSTANCE,
    });
    expect(stored.subtasks[0]!.startTime).toEqual(expect.any(String));
    const sent = ssmMock.commandCalls(SendCommandCommand)[0]!.args[0].input;
    expect(sent).toMatchObject({
      DocumentName: 'doc-prepare',
      InstanceIds: [INSTANCE],
      Parameters: { agentHome: ['/home/admin/ocp_agent'], controlScript: ['bin/ocp_agentctl'] },
      Comment: commandComment({ taskId: task.id, subtaskIndex: 0, attempt: 1 }),
      TimeoutSeconds: commandTimeouts(RESTART_SUBTASKS[0]!.timeoutSeconds).deliveryTimeoutSeconds,
    });
  });

  it('refuses to run a subtask that is not ready, sending nothing', async () => {
    const task = await runningTask(2);
    await start(task, 0);

    await expect(start(task, 0)).rejects.toThrow(/not ready/);
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1);
  });

  it('refuses a value that would reach the host unvalidated', async () => {
    const task = await runningTask(3);
    await expect(
      runSubtask({
        taskId: task.id,
        subtaskIndex: 0,
        instanceId: INSTANCE,
        agentHome: '/x; rm -rf /',
        controlScript: 'bin/ocp_agentctl',
        taskToken: 't',
      }),
    ).rejects.toThrow();
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('fails with a clear error when SSM does not accept the command', async () => {
    ssmMock
      .on(SendCommandCommand)
      .rejects(Object.assign(new Error('Instances not in a valid state'), { name: 'InvalidInstanceId' }));
    const task = await runningTask(4);

    await expect(start(task, 0)).rejects.toMatchObject({
      name: 'CommandNotDelivered',
      message: expect.stringContaining('InvalidInstanceId'),
    });
  });
});

describe('command-callback', () => {
  it('records a successful attempt with its output, readies the next subtask and completes the step', async () => {
    const task = await runningTask(5);
    const { commandId } = await start(task, 0);

    await commandEnded(commandId, {
      Status: 'Success',
      Comment: commandComment({ taskId: task.id, subtaskIndex: 0, attempt: 1 }),
      StandardOutputContent: 'pids recorded',
    })();

    const stored = (await store.getTask(task.id))!;
    expect(stored.subtasks[0]).toMatchObject({ status: 'SUCCESSFUL', endTime: expect.any(String) });
    expect(stored.subtasks[1]!.status).toBe('READY');
    expect(await store.subtaskLogs(task.id, task.subtasks[0]!.id)).toEqual([
      expect.objectContaining({ attempt: 1, commandId, exitCode: 0, stdout: 'pids recorded', stderr: '' }),
    ]);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.taskToken).toBe(
      `token-${task.id}-0`,
    );
  });

  it('records a failed attempt with the reason and fails the step', async () => {
    const task = await runningTask(6);
    const { commandId } = await start(task, 0);

    await commandEnded(commandId, {
      Status: 'Failed',
      ResponseCode: 2,
      Comment: commandComment({ taskId: task.id, subtaskIndex: 0, attempt: 1 }),
      StandardErrorContent: 'ocp_agentctl is missing',
    })();

    const failed = (await store.getTask(task.id))!;
    expect(failed.subtasks[0]).toMatchObject({
      status: 'FAILED',
      error: expect.stringContaining('exited with code 2'),
    });
    expect(failed.subtasks[0]!.error).toContain('ocp_agentctl is missing');
    expect(failed.subtasks[1]!.status).toBe('PENDING');
    expect(sfnMock.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toMatchObject({
      taskToken: `token-${task.id}-0`,
      error: 'SubtaskFailed',
    });
  });

  it('records where SSM wrote the full output when it returned the output truncated', async () => {
    const task = await runningTask(18);
    const { commandId } = await start(task, 0);

    await commandEnded(commandId, {
      Status: 'Success',
      Comment: commandComment({ taskId: task.id, subtaskIndex: 0, attempt: 1 }),
      StandardOutputContent: 'x'.repeat(24_000),
    })();

    const [log] = await store.subtaskLogs(task.id, task.subtasks[0]!.id);
    expect(log?.fullOutput).toEqual({
      logGroup: '/ocp/command-output',
      stdoutStream: `${commandId}/${INSTANCE}/prepare/stdout`,
      stderrStream: `${commandId}/${INSTANCE}/prepare/stderr`,
    });
    const sent = ssmMock.commandCalls(SendCommandCommand).at(-1)!.args[0].input;
    expect(sent.CloudWatchOutputConfig).toEqual({
      CloudWatchOutputEnabled: true,
      CloudWatchLogGroupName: '/ocp/command-output',
    });
  });

  it('completes the step again, without changing the record, when the same event arrives twice', async () => {
    const task = await runningTask(7);
    const { commandId } = await start(task, 0);
    const deliver = commandEnded(commandId, {
      Status: 'Success',
      Comment: commandComment({ taskId: task.id, subtaskIndex: 0, attempt: 1 }),
    });
    await deliver();
    const afterFirst = await tableItems(tables.taskTable);

    await deliver();

    expect(await tableItems(tables.taskTable)).toEqual(afterFirst);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(2);
  });

  it('treats a step that already ended as done', async () => {
    sfnMock
      .on(SendTaskSuccessCommand)
      .rejects(Object.assign(new Error('timed out'), { name: 'TaskTimedOut' }));
    const task = await runningTask(8);
    const { commandId } = await start(task, 0);

    await expect(
      commandEnded(commandId, {
        Status: 'Success',
        Comment: commandComment({ taskId: task.id, subtaskIndex: 0, attempt: 1 }),
      })(),
    ).resolves.toBeUndefined();
  });

  it('ignores commands the product did not send and attempts that were superseded', async () => {
    const task = await runningTask(9);
    const { commandId } = await start(task, 0);
    const before = await tableItems(tables.taskTable);

    await commandEnded('foreign', { Status: 'Success', Comment: 'someone else' })();
    await commandEnded(commandId, {
      Status: 'Success',
      Comment: commandComment({ taskId: task.id, subtaskIndex: 0, attempt: 7 }),
    })();

    expect(await tableItems(tables.taskTable)).toEqual(before);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('records nothing while SSM does not report the command ended yet, leaving it to the sweep', async () => {
    const task = await runningTask(25);
    const { commandId } = await start(task, 0);
    const before = await tableItems(tables.taskTable);

    await commandEnded(commandId, {
      Status: 'InProgress',
      StatusDetails: 'InProgress',
      ResponseCode: -1,
      Comment: commandComment({ taskId: task.id, subtaskIndex: 0, attempt: 1 }),
    })();

    expect(await tableItems(tables.taskTable)).toEqual(before);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });
});

describe('log keys of one invocation', () => {
  /** The JSON log lines the handlers' logger writes at INFO (the tests run it SILENT) while `act` runs. */
  async function logLines(act: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    const level = logger.getLevelName();
    logger.setLogLevel('INFO');
    try {
      await act();
    } finally {
      logger.setLogLevel(level);
      spy.mockRestore();
    }
    return written
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line));
  }

  it('do not reach the next invocation, which logs only its own task', async () => {
    const first = await runningTask(901);
    const second = await runningTask(902);

    const firstLines = await logLines(() => start(first, 0));
    const secondLines = await logLines(() => finishTask({ taskId: second.id }));

    expect(firstLines).toContainEqual(
      expect.objectContaining({
        message: 'Subtask command sent',
        taskId: first.id,
        subtask: RESTART_SUBTASKS[0]!.name,
      }),
    );
    expect(secondLines).toEqual([expect.objectContaining({ message: 'Task finished', taskId: second.id })]);
    expect(secondLines[0]).not.toHaveProperty('subtask');
  });
});

describe('finish-task', () => {
  it('ends a task SUCCESSFUL and releases the host lock', async () => {
    const task = await runningTask(10);
    const created = (await store.getTask(task.id))!;
    await store.save(created, {
      ...created,
      subtasks: created.subtasks.map((subtask) => ({ ...subtask, status: 'SUCCESSFUL' })),
    });

    await finishTask({ taskId: task.id });

    expect((await store.getTask(task.id))!).toMatchObject({
      status: 'SUCCESSFUL',
      endTime: expect.any(String),
    });
    expect(await store.lockHolder(10)).toBeUndefined();
  });

  it('refuses malformed input', async () => {
    await expect(finishTask({ taskId: 'x' })).rejects.toThrow();
  });
});

describe('reconcile-execution', () => {
  const executionEnded = (
    task: TaskRecord,
    status: string,
    error?: string,
    cause?: string,
    stopDate: number = Date.now(),
  ) =>
    reconcile({
      id: 'e',
      version: '0',
      account: '1',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [],
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: {
        executionArn: task.executor,
        stateMachineArn: 'sm',
        name: `task-${task.id}`,
        status,
        stopDate: status === 'RUNNING' ? null : stopDate,
        input: JSON.stringify({ taskId: task.id, hostId: task.hostId, instanceId: INSTANCE }),
        error: error ?? null,
        cause: cause ?? null,
      },
    });

  it('fails a timed-out subtask with its limit, cancels its command and releases the lock', async () => {
    const task = await runningTask(11);
    const { commandId } = await start(task, 0);

    await executionEnded(task, 'FAILED', 'States.Timeout', '');

    const stored = (await store.getTask(task.id))!;
    expect(stored.status).toBe('FAILED');
    expect(stored.subtasks[0]).toMatchObject({
      status: 'FAILED',
      error: expect.stringContaining('timeout of 60 s'),
    });
    expect(stored.subtasks.slice(1).map((s) => s.status)).toEqual([
      'PENDING',
      'PENDING',
      'PENDING',
      'PENDING',
    ]);
    expect(ssmMock.commandCalls(CancelCommandCommand)[0]!.args[0].input.CommandId).toBe(commandId);
    expect(await store.lockHolder(11)).toBeUndefined();
  });

  it('says a timed-out subtask’s command never reached the host, and that the host is offline', async () => {
    const task = await runningTask(21);
    const { commandId } = await start(task, 0);
    ssmMock
      .on(GetCommandInvocationCommand, { CommandId: commandId, InstanceId: INSTANCE })
      .resolves({ Status: 'Pending', StatusDetails: 'Pending', ResponseCode: -1 });
    ssmMock
      .on(DescribeInstanceInformationCommand, { Filters: [{ Key: 'InstanceIds', Values: [INSTANCE] }] })
      .resolves({ InstanceInformationList: [{ InstanceId: INSTANCE, PingStatus: 'ConnectionLost' }] });

    await executionEnded(task, 'FAILED', 'States.Timeout', '');

    expect((await store.getTask(task.id))!.subtasks[0]!.error).toBe(
      'Subtask failed: it did not finish within its timeout of 60 s: its command never reached the host (its SSM agent is offline: ping status ConnectionLost).',
    );
    expect(ssmMock.commandCalls(CancelCommandCommand)[0]!.args[0].input.CommandId).toBe(commandId);
  });

  it('still says the command never reached the host when the ping status cannot be read', async () => {
    const task = await runningTask(28);
    const { commandId } = await start(task, 0);
    ssmMock
      .on(GetCommandInvocationCommand, { CommandId: commandId })
      .resolves({ Status: 'Pending', StatusDetails: 'Pending', ResponseCode: -1 });
    ssmMock
      .on(DescribeInstanceInformationCommand)
      .rejects(Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' }));

    await executionEnded(task, 'FAILED', 'States.Timeout', '');

    expect((await store.getTask(task.id))!.subtasks[0]!.error).toMatch(
      /its command never reached the host \(its SSM ping status could not be read\)\.$/,
    );
  });

  it('says a timed-out subtask’s command was still running, or had ended with its status', async () => {
    const running = await runningTask(22);
    const ended = await runningTask(23);
    const { commandId: runningCommand } = await start(running, 0);
    const { commandId: endedCommand } = await start(ended, 0);
    ssmMock
      .on(GetCommandInvocationCommand, { CommandId: runningCommand })
      .resolves({ Status: 'InProgress', StatusDetails: 'InProgress', ResponseCode: -1 });
    ssmMock.on(GetCommandInvocationCommand, { CommandId: endedCommand }).resolves({
      Status: 'Failed',
      StatusDetails: 'Failed',
      ResponseCode: 4,
      StandardErrorContent: 'no live pid for: pos_proxy',
    });

    await executionEnded(running, 'FAILED', 'States.Timeout', '');
    await executionEnded(ended, 'TIMED_OUT');

    expect((await store.getTask(running.id))!.subtasks[0]!.error).toMatch(
      /timeout of 60 s: its command was still running on the host \(SSM status InProgress\)\.$/,
    );
    expect((await store.getTask(ended.id))!.subtasks[0]!.error).toMatch(
      /the command exited with code 4, but its status event did not reach the workflow in time: no live pid for: pos_proxy$/,
    );
    expect(ssmMock.commandCalls(DescribeInstanceInformationCommand)).toHaveLength(0);
  });

  it('records a timed-out subtask whose command had succeeded as SUCCESSFUL and resumes the run past it', async () => {
    const task = await runningTask(26);
    const { commandId } = await start(task, 0);
    ssmMock.on(GetCommandInvocationCommand, { CommandId: commandId }).resolves({
      CommandId: commandId,
      InstanceId: INSTANCE,
      Comment: commandComment({ taskId: task.id, subtaskIndex: 0, attempt: 1 }),
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: 'pids recorded',
    });
    sfnMock
      .on(SendTaskSuccessCommand)
      .rejects(Object.assign(new Error('Provided task does not exist anymore'), { name: 'TaskTimedOut' }));
    const timedOutAt = Date.now();

    await executionEnded(task, 'FAILED', 'States.Timeout', '', timedOutAt);

    const resumed = (await store.getTask(task.id))!;
    expect(resumed.status).toBe('RUNNING');
    expect(resumed.subtasks.map((s) => s.status)).toEqual([
      'SUCCESSFUL',
      'READY',
      'PENDING',
      'PENDING',
      'PENDING',
    ]);
    expect(resumed.subtasks[0]).not.toHaveProperty('error');
    expect(Date.parse(resumed.resumedAt!)).toBeGreaterThanOrEqual(timedOutAt);
    expect(await store.subtaskLogs(task.id, task.subtasks[0]!.id)).toEqual([
      expect.objectContaining({ commandId, exitCode: 0, stdout: 'pids recorded' }),
    ]);
    expect(sfnMock.commandCalls(RedriveExecutionCommand).map((call) => call.args[0].input)).toEqual([
      { executionArn: task.executor },
    ]);
    expect(ssmMock.commandCalls(CancelCommandCommand)).toHaveLength(0);
    expect(await store.lockHolder(26)).toBe(task.id);

    // The same end, delivered again (or seen by the sweep), changes nothing.
    const before = await tableItems(tables.taskTable);
    await executionEnded(task, 'FAILED', 'States.Timeout', '', timedOutAt);
    expect(await tableItems(tables.taskTable)).toEqual(before);

    // The redriven state finds its subtask done and completes at once, sending no command.
    sfnMock.on(SendTaskSuccessCommand).resolves({});
    const sent = ssmMock.commandCalls(SendCommandCommand).length;
    await expect(start(task, 0, 'token-after-redrive')).resolves.toEqual({ alreadySucceeded: true });
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(sent);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand).at(-1)!.args[0].input.taskToken).toBe(
      'token-after-redrive',
    );
  });

  it('does not resume a subtask an operator is cancelling, even if its command had succeeded', async () => {
    const task = await runningTask(27);
    const { commandId } = await start(task, 0);
    await markCanceling(task.id, 0);
    ssmMock
      .on(GetCommandInvocationCommand, { CommandId: commandId })
      .resolves({ Status: 'Success', StatusDetails: 'Success', ResponseCode: 0 });

    await executionEnded(task, 'FAILED', 'States.Timeout', '');

    const stored = (await store.getTask(task.id))!;
    expect(stored.status).toBe('FAILED');
    expect(stored.subtasks[0]!.error).toMatch(/its command had succeeded on the host, but its status event/);
    expect(sfnMock.commandCalls(RedriveExecutionCommand)).toHaveLength(0);
  });

  it('gives the plain timeout when SSM cannot be asked, still ending the task and freeing the host', async () => {
    const task = await runningTask(24);
    await start(task, 0);
    ssmMock
      .on(GetCommandInvocationCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));

    await executionEnded(task, 'FAILED', 'States.Timeout', '');

    const stored = (await store.getTask(task.id))!;
    expect(stored.status).toBe('FAILED');
    expect(stored.subtasks[0]!.error).toBe('Subtask failed: it did not finish within its timeout of 60 s.');
    expect(await store.lockHolder(24)).toBeUndefined();
  });

  it('keeps the reason the callback recorded for a failed command', async () => {
    const task = await runningTask(12);
    const { commandId } = await start(task, 0);
    await commandEnded(commandId, {
      Status: 'Failed',
      ResponseCode: 4,
      Comment: commandComment({ taskId: task.id, subtaskIndex: 0, attempt: 1 }),
      StandardErrorContent: 'would not start',
    })();

    await executionEnded(task, 'FAILED', 'SubtaskFailed', 'x');

    const stored = (await store.getTask(task.id))!;
    expect(stored.status).toBe('FAILED');
    expect(stored.subtasks[0]!.error).toContain('would not start');
    expect(ssmMock.commandCalls(CancelCommandCommand)).toHaveLength(0);
    expect(await store.lockHolder(12)).toBeUndefined();
  });

  it('explains a command that could not be delivered', async () => {
    const task = await runningTask(13);
    ssmMock
      .on(SendCommandCommand)
      .rejects(Object.assign(new Error('offline'), { name: 'InvalidInstanceId' }));
    const failure = await start(task, 0).catch((error: Error) => error);

    await executionEnded(
      task,
      'FAILED',
      'CommandNotDelivered',
      JSON.stringify({ errorType: 'CommandNotDelivered', errorMessage: (failure as Error).message }),
    );

    expect((await store.getTask(task.id))!.subtasks[0]!.error).toMatch(
      /CommandNotDelivered: SSM could not send the command/,
    );
  });

  it('fails the running subtask of a stopped execution and releases the lock', async () => {
    const task = await runningTask(15);
    await start(task, 0);

    await executionEnded(task, 'ABORTED');

    const stored = (await store.getTask(task.id))!;
    expect(stored.status).toBe('FAILED');
    expect(stored.subtasks[0]!.error).toMatch(/stopped/);
    expect(await store.lockHolder(15)).toBeUndefined();
  });

  it('fails the next subtask when the execution ended before it started', async () => {
    const task = await runningTask(16);

    await executionEnded(task, 'TIMED_OUT');

    const stored = (await store.getTask(task.id))!;
    expect(stored.subtasks[0]).toMatchObject({ status: 'FAILED', error: expect.stringContaining('timeout') });
  });

  it('is idempotent: reconciling an ended task changes nothing', async () => {
    const task = await runningTask(14);
    await finishTask({ taskId: task.id });
    const before = await tableItems(tables.taskTable);

    await executionEnded(task, 'FAILED', 'States.Timeout');

    expect(await tableItems(tables.taskTable)).toEqual(before);
  });

  it('ignores a running execution', async () => {
    const task = await runningTask(17);
    const before = await tableItems(tables.taskTable);

    await executionEnded(task, 'RUNNING');

    expect(await tableItems(tables.taskTable)).toEqual(before);
  });
});

describe('reconcile-execution and a task handed over again', () => {
  const ended = (task: TaskRecord, executionArn: string, stopDate: number) =>
    reconcile({
      id: 'e',
      version: '0',
      account: '1',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [],
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: {
        executionArn,
        stateMachineArn: 'sm',
        name: `task-${task.id}`,
        status: 'FAILED',
        stopDate,
        input: JSON.stringify({ taskId: task.id, hostId: task.hostId, instanceId: INSTANCE }),
        error: 'SubtaskFailed',
        cause: 'exit 4',
      },
    });

  it('ignores a late end of the run a retry is redriving, and of an execution a rollback replaced', async () => {
    const task = await retriedTask(31);
    const before = await tableItems(tables.taskTable);
    const resumedAt = Date.parse(task.resumedAt!);

    await ended(task, task.executor, resumedAt - 1);
    await ended(task, `${task.executor}-before-rollback`, resumedAt + 1);

    expect(await tableItems(tables.taskTable)).toEqual(before);
  });

  it('ends a retried task as its redriven run ended', async () => {
    const task = await retriedTask(32);

    await ended(task, task.executor, Date.parse(task.resumedAt!) + 1);

    expect((await store.getTask(task.id))!.status).toBe('FAILED');
    expect(await store.lockHolder(32)).toBeUndefined();
  });
});

describe('sweep-tasks', () => {
  let sweep: typeof import('../../functions/sweep-tasks.ts').handler;
  beforeAll(async () => {
    ({ handler: sweep } = await import('../../functions/sweep-tasks.ts'));
  });
  beforeEach(() => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
  });

  const described = (task: TaskRecord, execution: Partial<DescribeExecutionCommandOutput>) =>
    sfnMock.on(DescribeExecutionCommand, { executionArn: task.executor }).resolves({
      executionArn: task.executor,
      input: JSON.stringify({ taskId: task.id, hostId: task.hostId, instanceId: INSTANCE }),
      ...execution,
    });

  /** SSM reports the first subtask's command of `task` succeeded on the host, ending at `endedAt`. */
  const succeededOnHost = (task: TaskRecord, commandId: string, endedAt: Date) =>
    ssmMock.on(GetCommandInvocationCommand, { CommandId: commandId, InstanceId: INSTANCE }).resolves({
      CommandId: commandId,
      InstanceId: INSTANCE,
      Comment: commandComment({ taskId: task.id, subtaskIndex: 0, attempt: 1 }),
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: 'pids recorded',
      StandardErrorContent: '',
      ExecutionEndDateTime: endedAt.toISOString(),
    });

  it('records the outcome of a command that ended without its status event and completes its step', async () => {
    const task = await runningTask(41);
    const { commandId } = await start(task, 0);
    described(task, { status: 'RUNNING' });
    succeededOnHost(task, commandId, new Date(Date.now() - 2 * 60_000));

    const result = await sweep();

    expect(result.completed).toContain(task.id);
    const stored = (await store.getTask(task.id))!;
    expect(stored.subtasks[0]!.status).toBe('SUCCESSFUL');
    expect(stored.subtasks[1]!.status).toBe('READY');
    expect(await store.subtaskLogs(task.id, task.subtasks[0]!.id)).toEqual([
      expect.objectContaining({ commandId, exitCode: 0, stdout: 'pids recorded' }),
    ]);
    expect(
      sfnMock.commandCalls(SendTaskSuccessCommand).map((call) => call.args[0].input.taskToken),
    ).toContain(`token-${task.id}-0`);
  });

  it('leaves a command that ended a moment ago to its status event, which may still be on its way', async () => {
    const task = await runningTask(61);
    const { commandId } = await start(task, 0);
    described(task, { status: 'RUNNING' });
    succeededOnHost(task, commandId, new Date());

    const result = await sweep();

    expect(result.completed).not.toContain(task.id);
    expect((await store.getTask(task.id))!.subtasks[0]!.status).toBe('RUNNING');
  });

  it('leaves a command that still runs alone', async () => {
    const task = await runningTask(42);
    const { commandId } = await start(task, 0);
    described(task, { status: 'RUNNING' });
    ssmMock
      .on(GetCommandInvocationCommand, { CommandId: commandId })
      .resolves({ Status: 'InProgress', StatusDetails: 'InProgress', ResponseCode: -1 });

    const result = await sweep();

    expect(result.completed).not.toContain(task.id);
    expect((await store.getTask(task.id))!.subtasks[0]!.status).toBe('RUNNING');
  });

  it('ends a task whose execution ended unnoticed, with the reason', async () => {
    const task = await runningTask(43);
    await start(task, 0);
    described(task, {
      status: 'FAILED',
      stopDate: new Date(),
      error: 'SubtaskFailed',
      cause: 'Subtask failed: the command exited with code 4.',
    });

    const result = await sweep();

    expect(result.fixed).toContain(task.id);
    const stored = (await store.getTask(task.id))!;
    expect(stored.status).toBe('FAILED');
    expect(stored.subtasks[0]!.error).toBe('Subtask failed: the command exited with code 4.');
    expect(await store.lockHolder(43)).toBeUndefined();
  });

  it('leaves a retried task whose execution is PENDING_REDRIVE, or still shows the end it is redriven from', async () => {
    const pending = await retriedTask(44);
    const notYet = await retriedTask(45);
    described(pending, { status: 'PENDING_REDRIVE' });
    described(notYet, { status: 'FAILED', stopDate: new Date(Date.parse(notYet.resumedAt!) - 60_000) });

    const result = await sweep();

    expect(result.fixed).not.toContain(pending.id);
    expect(result.fixed).not.toContain(notYet.id);
    expect((await store.getTask(pending.id))!.status).toBe('RUNNING');
    expect((await store.getTask(notYet.id))!.status).toBe('RUNNING');
  });

  it('ends a retried task whose redrive never happened once the hand-over has settled', async () => {
    const task = await retriedTask(46);
    described(task, { status: 'FAILED', stopDate: new Date(Date.parse(task.resumedAt!) - 60_000) });

    const result = await sweep({ handoversSettledBefore: new Date(Date.now() + 1_000).toISOString() });

    expect(result.fixed).toContain(task.id);
    const stored = (await store.getTask(task.id))!;
    expect(stored.status).toBe('FAILED');
    expect(stored.subtasks[1]!.error).toMatch(/its execution was never resumed/);
    expect(await store.lockHolder(46)).toBeUndefined();
  });

  it('leaves a task whose execution is not started yet, and ends it as lost once that has settled', async () => {
    const task = await runningTask(47);
    sfnMock
      .on(DescribeExecutionCommand, { executionArn: task.executor })
      .rejects(Object.assign(new Error('no such execution'), { name: 'ExecutionDoesNotExist' }));

    expect((await sweep()).fixed).not.toContain(task.id);
    const settled = await sweep({ handoversSettledBefore: new Date(Date.now() + 1_000).toISOString() });

    expect(settled.fixed).toContain(task.id);
    expect((await store.getTask(task.id))!.subtasks[0]!.error).toMatch(/execution running it was lost/);
  });

  it('records the end of a command cancelled while its subtask was CANCELING, failing its step', async () => {
    const task = await runningTask(50);
    const { commandId } = await start(task, 0);
    await markCanceling(task.id, 0);
    described(task, { status: 'RUNNING' });
    commandEnded(commandId, {
      Comment: commandComment({ taskId: task.id, subtaskIndex: 0, attempt: 1 }),
      Status: 'Cancelled',
      StatusDetails: 'Cancelled',
      ResponseCode: -1,
    });

    const result = await sweep();

    expect(result.completed).toContain(task.id);
    const stored = (await store.getTask(task.id))!;
    expect(stored.subtasks[0]).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/cancelled/) });
    expect(
      sfnMock.commandCalls(SendTaskFailureCommand).map((call) => call.args[0].input.taskToken),
    ).toContain(`token-${task.id}-0`);
  });

  it('frees a lock left naming a task that had ended, without asking about its execution', async () => {
    const task = await runningTask(51);
    await endStoredTask(store, task.id, 'FAILED');
    // What a crash between two separate writes would leave (the store's own paths write both at once).
    await testDynamoDb.send(
      new PutItemCommand({
        TableName: tables.taskTable,
        Item: marshall({ ...hostLockKey(51), taskId: task.id, since: task.startTime }),
      }),
    );
    sfnMock.resetHistory();

    const result = await sweep();

    expect(result.released).toEqual([task.id]);
    expect(await store.lockHolder(51)).toBeUndefined();
    expect((await store.getTask(task.id))!.status).toBe('FAILED');
    expect(
      sfnMock.commandCalls(DescribeExecutionCommand).map((call) => call.args[0].input.executionArn),
    ).not.toContain(task.executor);
    expect((await sweep()).released).toEqual([]);
  });

  it('goes on with the other tasks when one cannot be checked, and reports it', async () => {
    const broken = await runningTask(48);
    const fine = await runningTask(49);
    await start(fine, 0);
    sfnMock
      .on(DescribeExecutionCommand, { executionArn: broken.executor })
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    described(fine, { status: 'SUCCEEDED', stopDate: new Date() });

    const result = await sweep();

    expect(result.failed).toContain(broken.id);
    expect(result.fixed).toContain(fine.id);
    expect((await store.getTask(broken.id))!.status).toBe('RUNNING');
  });
});

/** A task that failed at "Restart pos proxy" and was just retried (reopened, its redrive on its way). */
async function retriedTask(hostId: number): Promise<TaskRecord> {
  const task = await runningTask(hostId);
  await start(task, 0);
  const done = (await store.getTask(task.id))!;
  const failedAt = new Date(Date.now() - 120_000).toISOString().replace('Z', '+00:00');
  const failed: TaskRecord = {
    ...done,
    status: 'FAILED',
    endTime: failedAt,
    subtasks: done.subtasks.map((subtask) =>
      subtask.index === 0
        ? { ...subtask, status: 'SUCCESSFUL' }
        : subtask.index === 1
          ? { ...subtask, status: 'FAILED', error: 'exit 4' }
          : subtask,
    ),
  };
  const saved = await store.save(done, failed);
  return store.save(saved, retryTask(saved, new Date()));
}

/** What an operator's cancel records before it cancels the command. */
async function markCanceling(taskId: number, index: number): Promise<void> {
  const task = (await store.getTask(taskId))!;
  await store.save(task, cancelSubtask(task, task.subtasks[index]!.id).task);
}
