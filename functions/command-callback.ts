import { SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { GetCommandInvocationCommand } from '@aws-sdk/client-ssm';
import type { EventBridgeEvent } from 'aws-lambda';
import { sfn } from '#aws/sfn';
import { ssm } from '#aws/ssm';
import { parseCommandComment } from '#core/command-comment';
import { describeCommandFailure } from '#core/command-outcome';
import type { CommandStatusDetail } from '#core/event-patterns';
import { fullOutputLocation, isTruncatedBySsm } from '#core/subtask-log';
import { subtaskAt } from '#core/subtasks';
import { ocpTimestamp } from '#core/time';
import { StaleRecord, TaskStore } from '#store/task-store';
import { logger } from './logger.ts';
import { commandOutputLogGroup, taskTableName } from './runtime-config.ts';

const tasks = new TaskStore(taskTableName());

/**
 * SSM's command status-change event for one of the product's documents: records the attempt's
 * outcome and output on its subtask, then completes the waiting workflow step with its task token.
 * Safe to receive twice: a repeated event re-sends the same completion, which Step Functions ignores.
 */
export const handler = async (event: EventBridgeEvent<string, CommandStatusDetail>): Promise<void> => {
  const { 'command-id': commandId, 'instance-id': instanceId } = event.detail;
  const invocation = await ssm.send(
    new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
  );
  const origin = parseCommandComment(invocation.Comment);
  if (!origin) {
    logger.warn('Ignoring a command the product did not send', { commandId });
    return;
  }
  logger.appendKeys({ taskId: origin.taskId, subtaskIndex: origin.subtaskIndex, commandId });

  const succeeded = invocation.Status === 'Success';
  const exitCode = invocation.ResponseCode ?? -1;
  const stdout = invocation.StandardOutputContent ?? '';
  const stderr = invocation.StandardErrorContent ?? '';
  const error = succeeded
    ? undefined
    : describeCommandFailure(
        invocation.Status ?? event.detail.status,
        exitCode,
        stderr,
        stdout,
        invocation.StatusDetails,
      );
  const now = ocpTimestamp(new Date());

  let taskToken: string | undefined;
  try {
    const task = await tasks.recordSubtaskOutcome(origin.taskId, origin.subtaskIndex, {
      attempt: origin.attempt,
      status: succeeded ? 'SUCCESSFUL' : 'FAILED',
      endTime: now,
      ...(error ? { error } : {}),
      log: {
        attempt: origin.attempt,
        commandId,
        exitCode,
        stdout,
        stderr,
        recordedAt: now,
        ...(isTruncatedBySsm(stdout, stderr)
          ? {
              fullOutput: fullOutputLocation(
                commandOutputLogGroup(),
                commandId,
                instanceId,
                subtaskAt(origin.subtaskIndex).key,
              ),
            }
          : {}),
      },
    });
    taskToken = task.subtasks[origin.subtaskIndex]?.taskToken;
  } catch (failure) {
    if (!(failure instanceof StaleRecord)) throw failure;
    // Already recorded (a repeated event): complete the step again in case the first delivery
    // crashed before it did; a token of an ended attempt is refused by Step Functions.
    const task = await tasks.getTask(origin.taskId);
    const subtask = task?.subtasks[origin.subtaskIndex];
    if (
      !subtask ||
      subtask.runTime !== origin.attempt ||
      (subtask.commandId && subtask.commandId !== commandId)
    ) {
      logger.info('Ignoring the event of a superseded attempt');
      return;
    }
    taskToken = subtask.taskToken;
  }
  if (!taskToken) {
    logger.warn('The subtask has no task token to complete');
    return;
  }
  await completeStep(taskToken, succeeded, error, { commandId, exitCode });
  logger.info('Subtask command finished', { status: invocation.Status, exitCode });
};

async function completeStep(
  taskToken: string,
  succeeded: boolean,
  error: string | undefined,
  output: { commandId: string; exitCode: number },
): Promise<void> {
  try {
    if (succeeded) {
      await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
    } else {
      await sfn.send(new SendTaskFailureCommand({ taskToken, error: 'SubtaskFailed', cause: error }));
    }
  } catch (failure) {
    const name = failure instanceof Error ? failure.name : '';
    // The step already ended (timed out, cancelled, or completed by an earlier delivery).
    if (name === 'TaskTimedOut' || name === 'TaskDoesNotExist' || name === 'InvalidToken') {
      logger.info('The workflow step had already ended', { reason: name });
      return;
    }
    throw failure;
  }
}
