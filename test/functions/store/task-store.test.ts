import { beforeAll, describe, expect, it } from 'vitest';
import { IDS_PER_TASK } from '../../../functions/core/subtasks.ts';
import { newRestartTask, subtaskIdOf } from '../../../functions/core/task.ts';
import { WorkflowTaskStore } from '../../../functions/store/workflow-task-store.ts';
import { beginAttempt } from '../../support/subtask-attempts.ts';
import { createRestartTask } from '../../support/tasks.ts';
import { createTestTables } from '../../support/test-tables.ts';

let store: WorkflowTaskStore;
let nextHost = 1;

beforeAll(async () => {
  store = new WorkflowTaskStore((await createTestTables()).taskTable);
});

describe('WorkflowTaskStore.taskWithAttempt', () => {
  it('reads a task and an attempt of its subtask together', async () => {
    const task = await createRestartTask(store, nextHost++);
    const begun = await beginAttempt(store, task, 0);

    const read = await store.taskWithAttempt(task.id, 0, begun.attempt);

    expect(read.task).toEqual(await store.getTask(task.id));
    expect(read.attempt).toEqual(await store.attempt(task.id, subtaskIdOf(task.id, 0), begun.attempt));
    expect(read.attempt).toMatchObject({ taskToken: begun.taskToken, commandId: begun.commandId });
  });

  it('has no attempt for one that was not begun, and neither for a task that does not exist', async () => {
    const task = await createRestartTask(store, nextHost++);

    expect(await store.taskWithAttempt(task.id, 0, 1)).toEqual({ task: await store.getTask(task.id) });
    expect(await store.taskWithAttempt(task.id + 10_000_000, 0, 1)).toEqual({});
  });

  it('reads the attempt by the stored subtask id when it is not the one the task id makes', async () => {
    const firstId = await store.allocateIds(IDS_PER_TASK);
    const made = newRestartTask({
      firstId,
      hostId: nextHost++,
      creator: 'alice',
      type: 'MANUAL',
      prohibitRollback: false,
      executionArn: `arn:aws:states:us-east-1:1:execution:sm:task-${firstId}`,
      now: new Date(),
    });
    // A task whose subtask ids were given otherwise (the rule could change; stored tasks keep theirs).
    const task = {
      ...made,
      subtasks: made.subtasks.map((subtask) => ({ ...subtask, id: subtask.id + 100 })),
    };
    await store.createTask(task);
    const begun = await beginAttempt(store, task, 0);

    const read = await store.taskWithAttempt(task.id, 0, begun.attempt);

    expect(read.attempt).toMatchObject({ subtaskId: task.subtasks[0]!.id, taskToken: begun.taskToken });
  });
});
