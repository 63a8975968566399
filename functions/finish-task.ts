import { CancelCommandCommand } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { ssm } from '#aws/ssm';
import { ocpTimestamp } from '#core/time';
import { describeWorkflowError } from '#core/workflow-error';
import { TaskStore } from '#store/task-store';
import { logger } from './logger.ts';
import { taskTableName } from './runtime-config.ts';

const FinishTaskInput = z.object({
  taskId: z.number().int().positive(),
  outcome: z.enum(['SUCCESSFUL', 'FAILED']),
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});

const tasks = new TaskStore(taskTableName());

/**
 * Last state of every run: ends the task and releases the host's lock. On failure, a subtask that
 * is still RUNNING (its state timed out or its command could not be sent) is marked FAILED with the
 * reason, and its command, if any, is cancelled so that nothing keeps running on the host.
 */
export const handler = async (event: unknown): Promise<{ status: string }> => {
  const input = FinishTaskInput.parse(event);
  logger.appendKeys({ taskId: input.taskId });
  const { error } = input;
  const failure = error
    ? (index: number) => describeWorkflowError(error.Error, error.Cause, index)
    : undefined;
  const { task, interrupted } = await tasks.finishTask(
    input.taskId,
    input.outcome,
    ocpTimestamp(new Date()),
    failure,
  );
  if (interrupted?.commandId && input.outcome === 'FAILED') {
    try {
      await ssm.send(new CancelCommandCommand({ CommandId: interrupted.commandId }));
    } catch (error) {
      logger.warn('Could not cancel the interrupted command', { error, commandId: interrupted.commandId });
    }
  }
  logger.info('Task finished', { status: task.status, error });
  return { status: task.status };
};
