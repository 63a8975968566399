import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HostNotFound, TaskNotResumable } from '../../../functions/core/errors.ts';
import type { TaskRecord } from '../../../functions/core/task.ts';
import { HostRegistry } from '../../../functions/store/host-registry.ts';
import { WorkflowTaskStore } from '../../../functions/store/workflow-task-store.ts';
import { endTask } from '../../../functions/use-cases/end-task.ts';
import { ExecutionNotFound, ExecutionNotRedrivable } from '../../../functions/use-cases/ports.ts';
import { executionArnFor } from '../../../functions/use-cases/start-restart-task.ts';
import {
  cancel,
  retry,
  rollback,
  skip,
  type TaskActionDependencies,
} from '../../../functions/use-cases/task-actions.ts';
import { FakeHostCommands, FakeWorkflow } from '../../support/fake-ports.ts';
import { beginAttempt } from '../../support/subtask-attempts.ts';
import { createRestartTask } from '../../support/tasks.ts';
import { createTestTables, registerHost, type TestTables, testDynamoDb } from '../../support/test-tables.ts';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:1:stateMachine:sm';
const INSTANCE = 'mi-0123456789abcdef0';
let tables: TestTables;
let store: WorkflowTaskStore;
let workflow: FakeWorkflow;
let hostCommands: FakeHostCommands;
let deps: TaskActionDependencies;
let nextHost = 1;

beforeAll(async () => {
  tables = await createTestTables();
  store = new WorkflowTaskStore(tables.taskTable);
});

beforeEach(() => {
  workflow = new FakeWorkflow();
  hostCommands = new FakeHostCommands();
  deps = {
    tasks: store,
    hosts: new HostRegistry(tables.hostTable),
    stateMachineArn: STATE_MACHINE_ARN,
    workflow,
    hostCommands,
  };
});

/** A RUNNING task of a registered host whose first subtask is running (its command sent, or not: null). */
async function runningTask(commandId?: string | null) {
  const hostId = nextHost++;
  await registerHost(tables, { hostId, instanceId: INSTANCE });
  const task = await createRestartTask(store, hostId);
  const attempt = await beginAttempt(store, task, 0, commandId);
  return { task: (await store.getTask(task.id))!, hostId, attempt };
}

/** A task of a registered host that failed at its first subtask, its host free. */
async function failedTask(): Promise<{ task: TaskRecord; hostId: number }> {
  const { task, hostId } = await runningTask();
  const ended = await endTask(
    store,
    task.id,
    { status: 'FAILED', error: 'SubtaskFailed', cause: 'Subtask failed: boom.' },
    { workflow: new FakeWorkflow(), hostCommands: new FakeHostCommands() },
  );
  return { task: ended, hostId };
}

describe.each([
  ['retry', (task: TaskRecord) => retry(task.id, deps)],
  ['skip', (task: TaskRecord) => skip(task.id, task.subtasks[0]!.id, deps)],
] as const)('%s', (_action, act) => {
  it('redrives the task’s failed execution and holds the host again', async () => {
    const { task, hostId } = await failedTask();

    const reopened = await act(task);

    expect(reopened.status).toBe('RUNNING');
    expect(workflow.redriven).toEqual([task.executor]);
    expect(await store.lockHolder(hostId)).toBe(task.id);
  });

  it.each([
    ['past its redrive window', (arn: string) => new ExecutionNotRedrivable(arn)],
    ['gone', (arn: string) => new ExecutionNotFound(arn)],
  ])(
    'answers TaskNotResumable for an execution %s, the task restored and its host free',
    async (_case, refusal) => {
      const { task, hostId } = await failedTask();
      workflow.failing.redrive = refusal(task.executor);

      await expect(act(task)).rejects.toBeInstanceOf(TaskNotResumable);

      expect(await store.getTask(task.id)).toEqual({ ...task, version: task.version + 2 });
      expect(await store.lockHolder(hostId)).toBeUndefined();
    },
  );

  it('refuses a task whose host is no longer registered without asking the workflow', async () => {
    const { task, hostId } = await failedTask();
    await testDynamoDb.send(
      new DeleteItemCommand({ TableName: tables.hostTable, Key: marshall({ hostId }) }),
    );

    await expect(act(task)).rejects.toBeInstanceOf(HostNotFound);

    expect(workflow.redriven).toEqual([]);
    expect(await store.getTask(task.id)).toEqual(task);
  });

  it('lets any other refusal through, the task restored as well', async () => {
    const { task, hostId } = await failedTask();
    workflow.failing.redrive = new Error('Rate exceeded');

    await expect(act(task)).rejects.toThrow('Rate exceeded');

    expect(await store.getTask(task.id)).toEqual({ ...task, version: task.version + 2 });
    expect(await store.lockHolder(hostId)).toBeUndefined();
  });
});

describe('rollback', () => {
  it('starts a rollback execution of its own for the task’s host and makes it the task’s executor', async () => {
    const { task, hostId } = await failedTask();

    const reopened = await rollback(task.id, deps);

    expect(workflow.started).toEqual([
      {
        stateMachineArn: STATE_MACHINE_ARN,
        name: expect.stringMatching(new RegExp(`^task-${task.id}-rollback-\\d+$`)),
        input: expect.objectContaining({
          taskId: task.id,
          hostId,
          instanceId: INSTANCE,
          operation: 'ROLLBACK',
        }),
      },
    ]);
    expect(reopened.executor).toBe(executionArnFor(STATE_MACHINE_ARN, workflow.started[0]!.name));
    expect((await store.getTask(task.id))!.executor).toBe(reopened.executor);
    expect(await store.lockHolder(hostId)).toBe(task.id);
  });

  it('restores the task and frees its host when the workflow refuses the start', async () => {
    const { task, hostId } = await failedTask();
    workflow.failing.startExecution = new Error('ExecutionLimitExceeded');

    await expect(rollback(task.id, deps)).rejects.toThrow('ExecutionLimitExceeded');

    expect(await store.getTask(task.id)).toEqual({ ...task, version: task.version + 2 });
    expect(await store.lockHolder(hostId)).toBeUndefined();
  });
});

describe('cancel', () => {
  it('cancels the running subtask’s command and leaves the execution to end through SSM’s event', async () => {
    const { task, attempt } = await runningTask();

    const canceling = await cancel(task.id, task.subtasks[0]!.id, deps);

    expect(canceling.subtasks[0]!.status).toBe('CANCELING');
    expect((await store.getTask(task.id))!.subtasks[0]!.status).toBe('CANCELING');
    expect(hostCommands.cancelled).toEqual([attempt.commandId]);
    expect(workflow.stopped).toEqual([]);
  });

  it('stops the execution when the subtask has sent no command yet', async () => {
    const { task } = await runningTask(null);

    await cancel(task.id, task.subtasks[0]!.id, deps);

    expect(workflow.stopped).toEqual([
      { executionArn: task.executor, error: 'SubtaskCancelled', cause: 'Cancelled by an operator' },
    ]);
    expect(hostCommands.cancelled).toEqual([]);
  });
});
