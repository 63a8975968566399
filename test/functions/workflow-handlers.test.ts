import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import type { EventBridgeEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/catalog.ts';
import { commandComment } from '../../functions/core/command-comment.ts';
import { commandTimeouts } from '../../functions/core/command-timeouts.ts';
import type { CommandStatusDetail } from '../../functions/core/event-patterns.ts';
import { RESTART_SUBTASKS } from '../../functions/core/subtasks.ts';
import { newRestartTask, type TaskRecord } from '../../functions/core/task.ts';
import { TaskStore } from '../../functions/store/task-store.ts';
import { createTestTables, type TestTables, tableItems } from '../support/test-tables.ts';

const ssmMock = mockClient(SSMClient);
const sfnMock = mockClient(SFNClient);
const INSTANCE = 'mi-0123456789abcdef0';
let tables: TestTables;
let store: TaskStore;
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
  store = new TaskStore(tables.taskTable);
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

async function runningTask(hostId: number): Promise<TaskRecord> {
  const firstId = await store.allocateIds(6);
  const task = newRestartTask({
    firstId,
    hostId,
    creator: 'alice',
    type: 'MANUAL',
    prohibitRollback: false,
    executionArn: `arn:aws:states:us-east-1:1:execution:sm:task-${firstId}`,
    now: new Date(),
  });
  await store.createTask(task);
  return task;
}

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
    expect(stored.subtasks[0]).toMatchObject({
      status: 'RUNNING',
      taskToken: `token-${task.id}-0`,
      commandId,
      runTime: 1,
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
});

describe('finish-task', () => {
  it('ends a task SUCCESSFUL and releases the host lock', async () => {
    const task = await runningTask(10);

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
  const executionEnded = (task: TaskRecord, status: string, error?: string, cause?: string) =>
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
        input: JSON.stringify({ taskId: task.id, hostId: task.hostId }),
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
