import { parseCommandComment } from '#core/command-comment';
import { type CommandInvocation, describeCommandFailure, hasEnded } from '#core/command-outcome';
import { fullOutputLocation, isTruncatedBySsm } from '#core/subtask-log';
import { RESTART_SUBTASKS, subtaskAt } from '#core/subtasks';
import { recordOutcome } from '#core/task-progress';
import { ocpTimestamp } from '#core/time';
import type { WorkflowTaskStore } from '#store/workflow-task-store';
import { appendTaskKeys, logger } from '../logger.ts';
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
  tasks: WorkflowTaskStore,
  invocation: CommandInvocation,
  { workflow, outputLogGroup }: { workflow: Workflow; outputLogGroup: string },
): Promise<RecordResult> {
  const { commandId, instanceId } = invocation;
  const origin = parseCommandComment(invocation.comment);
  if (!origin) {
    logger.warn('Ignoring a command the product did not send', { commandId });
    return 'ignored';
  }
  appendTaskKeys({
    taskId: origin.taskId,
    subtask: RESTART_SUBTASKS[origin.subtaskIndex]?.name,
    subtaskIndex: origin.subtaskIndex,
    attempt: origin.attempt,
  });
  logger.appendKeys({ commandId });
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

  const { task, attempt } = await tasks.taskWithAttempt(origin.taskId, origin.subtaskIndex, origin.attempt);
  const subtask = task?.subtasks[origin.subtaskIndex];
  if (!subtask || !attempt || (attempt.commandId !== undefined && attempt.commandId !== commandId)) {
    logger.info('Ignoring the outcome of an attempt the task does not know');
    return 'ignored';
  }
  // The output first: once the subtask says it ended, its log is there.
  await tasks.putLog(origin.taskId, subtask.id, {
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
  });
  const { before } = await tasks.change(
    origin.taskId,
    (current) =>
      recordOutcome(current, {
        index: origin.subtaskIndex,
        attempt: origin.attempt,
        status: succeeded ? 'SUCCESSFUL' : 'FAILED',
        endTime: now,
        ...(error ? { error } : {}),
      }),
    task,
  );
  if (before.subtasks[origin.subtaskIndex]?.runTime !== origin.attempt) {
    logger.info('Ignoring the outcome of a superseded attempt');
    return 'ignored';
  }
  // Recorded now or already (a repeated event, or the sweep and the event at once): the step is
  // completed again in case the first recording crashed before it did; a token of an ended step is refused.
  const taskToken = attempt.taskToken;
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
