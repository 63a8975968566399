import { CancelCommandCommand } from '@aws-sdk/client-ssm';
import { ssm } from '#aws/ssm';
import type { TaskRecord } from '#core/task';
import { ocpTimestamp } from '#core/time';
import { describeWorkflowError } from '#core/workflow-error';
import type { TaskStore } from '#store/task-store';
import { logger } from '../logger.ts';
import { explainTimedOutSubtask } from './command-status.ts';

export type TaskOutcome =
  | { status: 'SUCCESSFUL' }
  | {
      status: 'FAILED';
      error?: string;
      cause?: string;
      /** The instance the execution sent its commands to (its input), to ask SSM why a subtask timed out. */
      instanceId?: string;
    };

/**
 * Ends a RUNNING task and releases its host's lock. On failure, the subtask that was running (its
 * state timed out, its execution was stopped, or its command could not be sent) is marked FAILED with
 * the reason — for a timeout, what SSM says of its command — and its command, if any, is cancelled so
 * that nothing keeps running on the host. Ending a task that already ended changes nothing.
 */
export async function endTask(tasks: TaskStore, taskId: number, outcome: TaskOutcome): Promise<TaskRecord> {
  const timedOut = outcome.status === 'FAILED' ? await timeoutReason(tasks, taskId, outcome) : undefined;
  const failure =
    outcome.status === 'FAILED'
      ? (index: number) =>
          index === timedOut?.index
            ? timedOut.reason
            : describeWorkflowError(outcome.error, outcome.cause, index)
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

/** For a timed-out run: the subtask that was running and why, as SSM tells it. */
async function timeoutReason(
  tasks: TaskStore,
  taskId: number,
  outcome: Extract<TaskOutcome, { status: 'FAILED' }>,
): Promise<{ index: number; reason: string } | undefined> {
  if (outcome.error !== 'States.Timeout' || !outcome.instanceId) return undefined;
  const task = await tasks.getTask(taskId);
  if (task?.status !== 'RUNNING') return undefined;
  const running = task.subtasks.find((s) => s.status === 'RUNNING' || s.status === 'CANCELING');
  const reason = running && (await explainTimedOutSubtask(running, outcome.instanceId));
  return running && reason ? { index: running.index, reason } : undefined;
}
