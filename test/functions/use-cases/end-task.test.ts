import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WorkflowTaskStore } from '../../../functions/store/workflow-task-store.ts';
import { endTask } from '../../../functions/use-cases/end-task.ts';
import { ExecutionNotFound, ExecutionNotRedrivable } from '../../../functions/use-cases/ports.ts';
import { FakeHostCommands, FakeWorkflow } from '../../support/fake-ports.ts';
import { beginAttempt } from '../../support/subtask-attempts.ts';
import { createRestartTask } from '../../support/tasks.ts';
import { createTestTables } from '../../support/test-tables.ts';

const INSTANCE = 'mi-0123456789abcdef0';
const OUTPUT_LOG_GROUP = '/ocp/command-output';
let store: WorkflowTaskStore;
let workflow: FakeWorkflow;
let hostCommands: FakeHostCommands;
let nextHost = 1;

beforeAll(async () => {
  store = new WorkflowTaskStore((await createTestTables()).taskTable);
});

beforeEach(() => {
  workflow = new FakeWorkflow();
  hostCommands = new FakeHostCommands();
});

const ports = () => ({ workflow, hostCommands, outputLogGroup: OUTPUT_LOG_GROUP });
const timedOut = { status: 'FAILED', error: 'States.Timeout', instanceId: INSTANCE } as const;

/** A RUNNING task whose first subtask is running, its command sent (or not yet: null). */
async function subtaskRunning(commandId?: string | null) {
  const hostId = nextHost++;
  const task = await createRestartTask(store, hostId);
  return { task, hostId, attempt: await beginAttempt(store, task, 0, commandId) };
}

describe('endTask, on a failed execution', () => {
  it('cancels the interrupted subtask’s command, so that nothing keeps running on the host', async () => {
    const { task, hostId, attempt } = await subtaskRunning();

    const ended = await endTask(store, task.id, { status: 'FAILED', error: 'ExecutionAborted' }, ports());

    expect(ended.status).toBe('FAILED');
    expect(hostCommands.cancelled).toEqual([attempt.commandId]);
    expect(await store.lockHolder(hostId)).toBeUndefined();
  });

  it('still ends the task and frees the host when SSM refuses the cancel', async () => {
    const { task, hostId } = await subtaskRunning();
    hostCommands.failing.cancel = new Error('Rate exceeded');

    const ended = await endTask(store, task.id, { status: 'FAILED', error: 'ExecutionAborted' }, ports());

    expect(ended.status).toBe('FAILED');
    expect(await store.lockHolder(hostId)).toBeUndefined();
  });

  it('cancels nothing when the interrupted subtask had sent no command yet', async () => {
    const { task } = await subtaskRunning(null);

    await endTask(store, task.id, { status: 'FAILED', error: 'ExecutionAborted' }, ports());

    expect(hostCommands.cancelled).toEqual([]);
    expect(workflow.redriven).toEqual([]);
  });
});

describe('endTask, on a timed-out subtask', () => {
  it('resumes the workflow past a subtask whose command had succeeded: its step completed, the execution redriven', async () => {
    const { task, hostId, attempt } = await subtaskRunning();
    hostCommands.invocations.set(attempt.commandId, attempt.invocation(INSTANCE));

    const resumed = await endTask(store, task.id, timedOut, ports());

    expect(resumed.status).toBe('RUNNING');
    expect(resumed.subtasks[0]!.status).toBe('SUCCESSFUL');
    expect(workflow.completed.map((step) => step.taskToken)).toEqual([attempt.taskToken]);
    expect(workflow.redriven).toEqual([task.executor]);
    expect(hostCommands.cancelled).toEqual([]);
    expect(await store.lockHolder(hostId)).toBe(task.id);
  });

  it('resumes as well when another path redrove the execution first (not redrivable any more)', async () => {
    const { task, attempt } = await subtaskRunning();
    hostCommands.invocations.set(attempt.commandId, attempt.invocation(INSTANCE));
    workflow.failing.redrive = new ExecutionNotRedrivable(task.executor);

    await expect(endTask(store, task.id, timedOut, ports())).resolves.toMatchObject({ status: 'RUNNING' });
  });

  it('lets a missing execution through: the resume cannot go on', async () => {
    const { task, attempt } = await subtaskRunning();
    hostCommands.invocations.set(attempt.commandId, attempt.invocation(INSTANCE));
    workflow.failing.redrive = new ExecutionNotFound(task.executor);

    await expect(endTask(store, task.id, timedOut, ports())).rejects.toBeInstanceOf(ExecutionNotFound);
  });

  it('fails the task saying the command never reached the host, with its ping status, and cancels the command', async () => {
    const { task, attempt } = await subtaskRunning();
    hostCommands.invocations.set(
      attempt.commandId,
      attempt.invocation(INSTANCE, { status: 'Pending', statusDetails: 'Pending', exitCode: -1 }),
    );
    hostCommands.pings.set(INSTANCE, 'ConnectionLost');

    const ended = await endTask(store, task.id, timedOut, ports());

    expect(ended.status).toBe('FAILED');
    expect(ended.subtasks[0]!.error).toMatch(
      /never reached the host \(its SSM agent is offline: ping status ConnectionLost\)/,
    );
    expect(hostCommands.cancelled).toEqual([attempt.commandId]);
    expect(workflow.redriven).toEqual([]);
  });

  it('gives the plain timeout when SSM cannot be asked about the command', async () => {
    const { task } = await subtaskRunning();
    hostCommands.failing.invocation = new Error('Rate exceeded');

    const ended = await endTask(store, task.id, timedOut, ports());

    expect(ended.status).toBe('FAILED');
    expect(ended.subtasks[0]!.error).toMatch(
      /^Subtask failed: it did not finish within its timeout of \d+ s\.$/,
    );
  });
});
