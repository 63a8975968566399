import { CancelCommandCommand } from '@aws-sdk/client-ssm';
import { ssm } from '#aws/ssm';
import type { TaskRecord } from '#core/task';
import { ocpTimestamp } from '#core/time';
import { describeWorkflowError } from '#core/workflow-error';
import type { TaskStore } from '#store/task-store';
import { logger } from '../logger.ts';

export type TaskOutcome = { status: 'SUCCESSFUL' } | { status: 'FAILED'; error?: string; cause?: string };

/**
 * Ends a RUNNING task and releases its host's lock. On failure, the subtask that was running (its
 * state timed out, its execution was stopped, or its command could not be sent) is marked FAILED with
 * the reason, and its command, if any, is cancelled so that nothing keeps running on the host.
 * Ending a task that already ended changes nothing.
 */
export async function endTask(tasks: TaskStore, taskId: number, outcome: TaskOutcome): Promise<TaskRecord> {
  const failure =
    outcome.status === 'FAILED'
      ? (index: number) => describeWorkflowError(outcome.error, outcome.cause, index)
      : undefined;
  const { task, interrupted } = await tasks.finishTask(
    taskId,
    outcome.status,
    ocpTimestamp(new Date()),
    failure,
  );
  if (outcome.status === 'FAILED' && interrupted?.commandId) {
    try {
      await ssm.send(new CancelCommandCommand({ CommandId: interrupted.commandId }));
    } catch (error) {
      logger.warn('Could not cancel the interrupted command', { error, commandId: interrupted.commandId });
    }
  }
  return task;
}
