import { commandComment } from '../../functions/core/command-comment.ts';
import type { CommandInvocation } from '../../functions/core/command-outcome.ts';
import type { TaskRecord } from '../../functions/core/task.ts';
import type { WorkflowTaskStore } from '../../functions/store/workflow-task-store.ts';
import { invocationOf } from './fake-ports.ts';
import { beginStoredAttempt } from './tasks.ts';

export interface SubtaskAttempt {
  taskToken: string;
  commandId: string;
  attempt: number;
  /** The attempt's invocation as SSM would report it once ended, with the given fields. */
  invocation: (instanceId: string, fields?: Partial<CommandInvocation>) => CommandInvocation;
}

/**
 * Starts an attempt of the task's subtask as run-subtask does: RUNNING with its task token, then its
 * command recorded (unless `commandId` is null: the command was not sent yet).
 */
export async function beginAttempt(
  store: WorkflowTaskStore,
  task: TaskRecord,
  index: number,
  commandId: string | null = `cmd-${task.id}-${index}`,
  instanceId = 'i-0123456789abcdef0',
): Promise<SubtaskAttempt> {
  const taskToken = `token-${task.id}-${index}-${Date.now()}`;
  const begun = await beginStoredAttempt(store, task.id, index, taskToken);
  const attempt = begun.subtasks[index]!.runTime;
  const recorded = { taskId: task.id, subtaskId: begun.subtasks[index]!.id, attempt, taskToken };
  if (commandId) await store.recordCommand(recorded, commandId, instanceId);
  const id = commandId ?? '';
  return {
    taskToken,
    commandId: id,
    attempt,
    invocation: (instanceId, fields = {}) =>
      invocationOf(id, instanceId, {
        comment: commandComment({ taskId: task.id, subtaskIndex: index, attempt }),
        ...fields,
      }),
  };
}
