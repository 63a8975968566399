import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WorkflowTaskStore } from '../../../functions/store/workflow-task-store.ts';
import { recordCommandOutcome } from '../../../functions/use-cases/record-command-outcome.ts';
import { FakeWorkflow, invocationOf } from '../../support/fake-ports.ts';
import { beginAttempt } from '../../support/subtask-attempts.ts';
import { createRestartTask } from '../../support/tasks.ts';
import { createTestTables } from '../../support/test-tables.ts';

const INSTANCE = 'mi-0123456789abcdef0';
const OUTPUT_LOG_GROUP = '/ocp/command-output';
let store: WorkflowTaskStore;
let workflow: FakeWorkflow;
let nextHost = 1;

beforeAll(async () => {
  store = new WorkflowTaskStore((await createTestTables()).taskTable);
});

beforeEach(() => {
  workflow = new FakeWorkflow();
});

const record = (invocation: Parameters<typeof recordCommandOutcome>[1]) =>
  recordCommandOutcome(store, invocation, { workflow, outputLogGroup: OUTPUT_LOG_GROUP });

/** A RUNNING task whose first subtask's command was sent. */
async function commandSent() {
  const task = await createRestartTask(store, nextHost++);
  return { task, attempt: await beginAttempt(store, task, 0) };
}

describe('recordCommandOutcome', () => {
  it('records a succeeded command on its subtask and completes the step with the command id and exit code', async () => {
    const { task, attempt } = await commandSent();

    const result = await record(attempt.invocation(INSTANCE, { stdout: 'done\n' }));

    expect(result).toBe('completed');
    expect(workflow.completed).toEqual([
      {
        taskToken: attempt.taskToken,
        outcome: { status: 'SUCCEEDED', output: { commandId: attempt.commandId, exitCode: 0 } },
      },
    ]);
    expect((await store.getTask(task.id))!.subtasks[0]).toMatchObject({ status: 'SUCCESSFUL' });
  });

  it('fails the step of a failed command as SubtaskFailed, with the recorded error as its cause', async () => {
    const { task, attempt } = await commandSent();

    await record(attempt.invocation(INSTANCE, { status: 'Failed', exitCode: 3, stderr: 'no such file\n' }));

    const subtask = (await store.getTask(task.id))!.subtasks[0]!;
    expect(subtask.status).toBe('FAILED');
    expect(workflow.completed).toEqual([
      {
        taskToken: attempt.taskToken,
        outcome: { status: 'FAILED', error: 'SubtaskFailed', cause: subtask.error },
      },
    ]);
    expect(subtask.error).toContain('no such file');
  });

  it.each(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken'] as const)(
    'takes a step that had ended already (%s) as done, not as an error, with the outcome recorded',
    async (reason) => {
      const { task, attempt } = await commandSent();
      workflow.endedSteps.set(attempt.taskToken, reason);

      await expect(record(attempt.invocation(INSTANCE))).resolves.toBe('completed');

      expect((await store.getTask(task.id))!.subtasks[0]).toMatchObject({ status: 'SUCCESSFUL' });
    },
  );

  it('lets any other refusal of the workflow through, so that the event is delivered again', async () => {
    const { attempt } = await commandSent();
    workflow.failing.completeStep = new Error('Rate exceeded');

    await expect(record(attempt.invocation(INSTANCE))).rejects.toThrow('Rate exceeded');
  });

  it('completes the step again for an outcome recorded already (a repeated event)', async () => {
    const { attempt } = await commandSent();
    const ended = attempt.invocation(INSTANCE);
    await record(ended);

    await expect(record(ended)).resolves.toBe('completed');

    expect(workflow.completed.map((step) => step.taskToken)).toEqual([attempt.taskToken, attempt.taskToken]);
  });

  it('records nothing and completes nothing for a command that has not ended', async () => {
    const { task, attempt } = await commandSent();

    await expect(record(attempt.invocation(INSTANCE, { status: 'InProgress', exitCode: -1 }))).resolves.toBe(
      'not-ended',
    );

    expect(workflow.completed).toEqual([]);
    expect((await store.getTask(task.id))!.subtasks[0]).toMatchObject({ status: 'RUNNING' });
  });

  it('ignores a command the product did not send', async () => {
    await expect(record(invocationOf('cmd-foreign', INSTANCE, { comment: 'someone else' }))).resolves.toBe(
      'ignored',
    );
    expect(workflow.completed).toEqual([]);
  });

  it('reads the task and the attempt in one call, and writes the outcome over what it read', async () => {
    const { task, attempt } = await commandSent();
    const counting = new (class extends WorkflowTaskStore {
      reads: string[] = [];
      override getTask(taskId: number) {
        this.reads.push('getTask');
        return super.getTask(taskId);
      }
      override attempt(...args: Parameters<WorkflowTaskStore['attempt']>) {
        this.reads.push('attempt');
        return super.attempt(...args);
      }
      override taskWithAttempt(...args: Parameters<WorkflowTaskStore['taskWithAttempt']>) {
        this.reads.push('taskWithAttempt');
        return super.taskWithAttempt(...args);
      }
    })(store.tableName);

    await recordCommandOutcome(counting, attempt.invocation(INSTANCE), {
      workflow,
      outputLogGroup: OUTPUT_LOG_GROUP,
    });

    expect(counting.reads).toEqual(['taskWithAttempt']);
    expect((await store.getTask(task.id))!.subtasks[0]).toMatchObject({ status: 'SUCCESSFUL' });
  });

  it('reads the task again when it changed after it was read, and records the outcome on what is stored', async () => {
    const { task, attempt } = await commandSent();
    const changedMeanwhile = new (class extends WorkflowTaskStore {
      override async putLog(...args: Parameters<WorkflowTaskStore['putLog']>) {
        await super.putLog(...args);
        // Another path saves the task between this recording's read and its write.
        await store.change(task.id, (current) => ({ ...current }));
      }
    })(store.tableName);
    const versionBefore = (await store.getTask(task.id))!.version;

    await expect(
      recordCommandOutcome(changedMeanwhile, attempt.invocation(INSTANCE), {
        workflow,
        outputLogGroup: OUTPUT_LOG_GROUP,
      }),
    ).resolves.toBe('completed');

    const stored = (await store.getTask(task.id))!;
    expect(stored.version).toBe(versionBefore + 2);
    expect(stored.subtasks[0]).toMatchObject({ status: 'SUCCESSFUL' });
    expect(workflow.completed.map((step) => step.taskToken)).toEqual([attempt.taskToken]);
  });
});
