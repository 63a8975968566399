import { beforeEach, describe, expect, it } from 'vitest';
import { WorkflowTaskStore } from '../../../functions/store/workflow-task-store.ts';
import { type SweepOptions, sweepRunningTasks } from '../../../functions/use-cases/sweep-running-tasks.ts';
import { FakeHostCommands, FakeWorkflow } from '../../support/fake-ports.ts';
import { beginAttempt } from '../../support/subtask-attempts.ts';
import { createRestartTask, succeedEverySubtask } from '../../support/tasks.ts';
import { createTestTables } from '../../support/test-tables.ts';

const INSTANCE = 'mi-0123456789abcdef0';
const input = JSON.stringify({ taskId: 1, instanceId: INSTANCE });
let store: WorkflowTaskStore;
let workflow: FakeWorkflow;
let hostCommands: FakeHostCommands;

// Each test sweeps a table of its own: the sweep visits every lock in the table.
beforeEach(async () => {
  store = new WorkflowTaskStore((await createTestTables()).taskTable);
  workflow = new FakeWorkflow();
  hostCommands = new FakeHostCommands();
});

const sweep = (options: Partial<SweepOptions> = {}) =>
  sweepRunningTasks(store, {
    handoversSettledBefore: new Date(Date.now() + 1000),
    statusEventsDueBefore: new Date(Date.now() + 1000),
    outputLogGroup: '/ocp/command-output',
    workflow,
    hostCommands,
    ...options,
  });

describe('sweepRunningTasks, for a task whose execution ended unnoticed', () => {
  it('ends the task as its execution failed and frees its host', async () => {
    const task = await createRestartTask(store, 1);
    await beginAttempt(store, task, 0);
    workflow.executions.set(task.executor, {
      status: 'FAILED',
      stopDate: new Date(),
      error: 'SubtaskFailed',
      cause: 'Subtask failed: boom.',
      input,
    });

    const result = await sweep();

    expect(result).toEqual({ fixed: [task.id], completed: [], released: [], failed: [] });
    const ended = (await store.getTask(task.id))!;
    expect(ended.status).toBe('FAILED');
    expect(ended.subtasks[0]).toMatchObject({ status: 'FAILED', error: 'Subtask failed: boom.' });
    expect(await store.lockHolder(1)).toBeUndefined();
  });

  it('ends the task SUCCESSFUL when its execution succeeded', async () => {
    const task = await createRestartTask(store, 1);
    await succeedEverySubtask(store, task.id);
    workflow.executions.set(task.executor, { status: 'SUCCEEDED', stopDate: new Date(), input });

    await sweep();

    expect((await store.getTask(task.id))!.status).toBe('SUCCESSFUL');
  });

  it('ends a task whose execution does not exist once its hand-over has settled', async () => {
    const task = await createRestartTask(store, 1);

    await expect(sweep()).resolves.toMatchObject({ fixed: [task.id] });

    expect((await store.getTask(task.id))!.status).toBe('FAILED');
  });

  it('leaves a task whose execution does not exist yet while its hand-over may still be under way', async () => {
    const task = await createRestartTask(store, 1);

    const result = await sweep({ handoversSettledBefore: new Date(Date.now() - 60_000) });

    expect(result).toEqual({ fixed: [], completed: [], released: [], failed: [] });
    expect((await store.getTask(task.id))!.status).toBe('RUNNING');
  });
});

describe('sweepRunningTasks, for a task whose execution runs', () => {
  it('records a command that ended without its status event and completes its step', async () => {
    const task = await createRestartTask(store, 1);
    const attempt = await beginAttempt(store, task, 0);
    workflow.executions.set(task.executor, { status: 'RUNNING', input });
    hostCommands.invocations.set(attempt.commandId, attempt.invocation(INSTANCE));

    const result = await sweep();

    expect(result).toEqual({ fixed: [], completed: [task.id], released: [], failed: [] });
    expect(workflow.completed).toEqual([
      {
        taskToken: attempt.taskToken,
        outcome: { status: 'SUCCEEDED', output: { commandId: attempt.commandId, exitCode: 0 } },
      },
    ]);
    expect((await store.getTask(task.id))!.subtasks[0]!.status).toBe('SUCCESSFUL');
  });

  it('leaves a command that ended within the grace to its status event, and records it once the grace is over', async () => {
    const task = await createRestartTask(store, 1);
    const attempt = await beginAttempt(store, task, 0);
    workflow.executions.set(task.executor, { status: 'RUNNING', input });
    const endedAt = new Date();
    hostCommands.invocations.set(
      attempt.commandId,
      attempt.invocation(INSTANCE, { endedAt: endedAt.toISOString() }),
    );

    const early = await sweep({ statusEventsDueBefore: new Date(endedAt.getTime() - 1) });

    expect(early).toEqual({ fixed: [], completed: [], released: [], failed: [] });
    expect((await store.getTask(task.id))!.subtasks[0]!.status).toBe('RUNNING');
    await expect(sweep({ statusEventsDueBefore: endedAt })).resolves.toMatchObject({ completed: [task.id] });
  });

  it('leaves a command that still runs, and one SSM has no invocation of', async () => {
    const running = await createRestartTask(store, 1);
    const runningAttempt = await beginAttempt(store, running, 0);
    const unknown = await createRestartTask(store, 2);
    await beginAttempt(store, unknown, 0);
    for (const task of [running, unknown])
      workflow.executions.set(task.executor, { status: 'RUNNING', input });
    hostCommands.invocations.set(
      runningAttempt.commandId,
      runningAttempt.invocation(INSTANCE, { status: 'InProgress', exitCode: -1 }),
    );

    const result = await sweep();

    expect(result).toEqual({ fixed: [], completed: [], released: [], failed: [] });
    expect(workflow.completed).toEqual([]);
  });

  it('asks SSM nothing when the execution’s input names no instance', async () => {
    const task = await createRestartTask(store, 1);
    const attempt = await beginAttempt(store, task, 0);
    workflow.executions.set(task.executor, { status: 'RUNNING', input: 'not json' });
    hostCommands.failing.invocation = new Error('SSM must not be asked');

    await expect(sweep()).resolves.toEqual({ fixed: [], completed: [], released: [], failed: [] });
    const stored = (await store.getTask(task.id))!;
    expect(stored.subtasks[0]!.status).toBe('RUNNING');
    expect(await store.commandOf(task.id, stored.subtasks[0]!)).toBe(attempt.commandId);
  });
});

describe('sweepRunningTasks, when the workflow cannot be asked', () => {
  it('reports the task it could not check and still sweeps the others', async () => {
    const unreadable = await createRestartTask(store, 1);
    const ended = await createRestartTask(store, 2);
    workflow.executions.set(unreadable.executor, new Error('Rate exceeded'));
    workflow.executions.set(ended.executor, { status: 'SUCCEEDED', stopDate: new Date(), input });

    const result = await sweep();

    expect(result).toEqual({ fixed: [ended.id], completed: [], released: [], failed: [unreadable.id] });
    expect((await store.getTask(unreadable.id))!.status).toBe('RUNNING');
  });
});
