import { parseCommandComment } from '#core/command-comment';
import { type CommandInvocation, describeCommandFailure, hasEnded } from '#core/command-outcome';
import { fullOutputLocation, isTruncatedBySsm } from '#core/subtask-log';
import { subtaskAt } from '#core/subtasks';
import { ocpTimestamp } from '#core/time';
import { StaleRecord, type TaskStore } from '#store/task-store';
import { logger } from '../logger.ts';
import type { Workflow } from './ports.ts';

/** What became of an ended command's outcome. */
export type RecordResult =
  /** Recorded on its subtask (or found recorded already) and its workflow step completed. */
  | 'completed'
  /** Not one of the product's commands, or the command of an attempt that was superseded. */
  | 'ignored'
  /** SSM does not report the invocation ended (yet): nothing recorded; the sweep looks again. */
  | 'not-ended';

/**
 * The one way an ended command's outcome is recorded, whether SSM's status event reports it
 * (command-callback) or the sweep finds it ended without one: the attempt's status, error and output
 * go on its subtask, then its waiting workflow step is completed with the subtask's task token.
 * Safe to repeat: an outcome recorded already only completes the step again, which Step Functions
 * ignores for a step that has ended.
 */
export async function recordCommandOutcome(
  tasks: TaskStore,
  invocation: CommandInvocation,
  { workflow, outputLogGroup }: { workflow: Workflow; outputLogGroup: string },
): Promise<RecordResult> {
  const { commandId, instanceId } = invocation;
  const origin = parseCommandComment(invocation.comment);
  if (!origin) {
    logger.warn('Ignoring a command the product did not send', { commandId });
    return 'ignored';
  }
  logger.appendKeys({ taskId: origin.taskId, subtaskIndex: origin.subtaskIndex, commandId });
  if (!hasEnded(invocation)) {
    logger.info('The command has not ended yet', { status: invocation.status });
    return 'not-ended';
  }

  const succeeded = invocation.status === 'Success';
  const { exitCode, stdout, stderr } = invocation;
  const error = succeeded
    ? undefined
    : describeCommandFailure(invocation.status, exitCode, stderr, stdout, invocation.statusDetails);
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
                outputLogGroup,
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
    // Already recorded (a repeated event, or the sweep and the event at once): complete the step
    // again in case the first recording crashed before it did; a token of an ended step is refused.
    const task = await tasks.getTask(origin.taskId);
    const subtask = task?.subtasks[origin.subtaskIndex];
    if (
      !subtask ||
      subtask.runTime !== origin.attempt ||
      (subtask.commandId && subtask.commandId !== commandId)
    ) {
      logger.info('Ignoring the outcome of a superseded attempt');
      return 'ignored';
    }
    taskToken = subtask.taskToken;
  }
  if (!taskToken) {
    logger.warn('The subtask has no task token to complete');
    return 'ignored';
  }
  const completion = await workflow.completeStep(
    taskToken,
    succeeded
      ? { status: 'SUCCEEDED', output: { commandId, exitCode } }
      : { status: 'FAILED', error: 'SubtaskFailed', cause: error },
  );
  // The step already ended (timed out, cancelled, or completed by an earlier delivery).
  if (!completion.completed)
    logger.info('The workflow step had already ended', { reason: completion.alreadyEnded });
  logger.info('Subtask command finished', { status: invocation.status, exitCode });
  return 'completed';
}
