import { IDS_PER_TASK } from '../../functions/core/subtasks.ts';
import { newRestartTask, type TaskRecord } from '../../functions/core/task.ts';
import type { TaskStore } from '../../functions/store/task-store.ts';

/** A new restart task of a host, written by the store as the API writes one: the task and its host lock. */
export async function createRestartTask(
  store: TaskStore,
  hostId: number,
  idempotencyKey?: string,
  now: Date = new Date(),
): Promise<TaskRecord> {
  const firstId = await store.allocateIds(IDS_PER_TASK);
  const task = newRestartTask({
    firstId,
    hostId,
    creator: 'alice',
    type: 'MANUAL',
    prohibitRollback: false,
    executionArn: `arn:aws:states:us-east-1:1:execution:sm:task-${firstId}`,
    now,
  });
  await store.createTask(task, idempotencyKey);
  return task;
}
