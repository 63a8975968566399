import { type CommandInvocation, resumesAfterTimeout } from '#core/command-outcome';
import { endedBeforeHandover } from '#core/execution-sweep';
import type { SubtaskRecord, TaskRecord } from '#core/task';
import { finishTask, markResumed, type TaskEnding } from '#core/task-progress';
import { ocpTimestamp } from '#core/time';
import { describeWorkflowError } from '#core/workflow-error';
import type { WorkflowTaskStore } from '#store/workflow-task-store';
import { logger } from '../logger.ts';
import { lookUpTimedOutCommand } from './command-status.ts';
import { ExecutionNotRedrivable, type HostCommands, type Workflow } from './ports.ts';
import { recordCommandOutcome } from './record-command-outcome.ts';

/** How the task's execution ended. */
export type TaskOutcome = (
  | { status: 'SUCCESSFUL' }
  | {
      status: 'FAILED';
      error?: string;
      cause?: string;
      /** The instance the execution sent its commands to (its input), to ask SSM why a subtask timed out. */
      instanceId?: string;
    }
) & {
  /** When the execution ended: a task handed back to Step Functions since then is not ended. */
  executionEndedAt?: Date;
};

export interface EndTaskOptions {
  workflow: Workflow;
  hostCommands: HostCommands;
  /**
   * Where SSM writes the commands' full output. Given, a subtask whose state timed out although its
   * command had succeeded is recorded SUCCESSFUL and its workflow resumed past it (a redrive).
   */
  outputLogGroup?: string;
}

/**
 * Ends a RUNNING task and releases its host's lock. On failure, the subtask that was running (its
 * state timed out, its execution was stopped, or its command could not be sent) is marked FAILED with
 * the reason — for a timeout, what SSM says of its command — and its command, if any, is cancelled so
 * that nothing keeps running on the host. Ending a task that already ended, or that was handed back
 * to Step Functions after its execution ended, changes nothing.
 */
export async function endTask(
  tasks: WorkflowTaskStore,
  taskId: number,
  outcome: TaskOutcome,
  options: EndTaskOptions,
): Promise<TaskRecord> {
  const timedOut =
    outcome.status === 'FAILED'
      ? await timedOutSubtask(tasks, taskId, outcome, options.hostCommands)
      : undefined;
  if (timedOut && options.outputLogGroup && resumesAfterTimeout(timedOut.subtask, timedOut.invocation)) {
    const resumed = await resumePastSucceededSubtask(tasks, timedOut.task, timedOut.invocation!, {
      workflow: options.workflow,
      outputLogGroup: options.outputLogGroup,
    });
    if (resumed) return resumed;
  }
  const failure =
    outcome.status === 'FAILED'
      ? (index: number) =>
          index === timedOut?.subtask.index
            ? timedOut.reason
            : describeWorkflowError(outcome.error, outcome.cause, index)
      : undefined;
  const ending: TaskEnding = {
    status: outcome.status,
    endTime: ocpTimestamp(new Date()),
    ...(failure ? { failure } : {}),
    ...(outcome.executionEndedAt ? { executionEndedAt: outcome.executionEndedAt } : {}),
  };
  const { before, after } = await tasks.change(taskId, (task) => finishTask(task, ending)?.task);
  const interrupted = after && finishTask(before, ending)?.interrupted;
  const commandId = interrupted && (await tasks.commandOf(taskId, interrupted));
  if (commandId) {
    try {
      await options.hostCommands.cancel(commandId);
    } catch (error) {
      logger.warn('Could not cancel the interrupted command', { error, commandId });
    }
  }
  return after ?? before;
}

/** For a timed-out run: the subtask that was running, and what SSM says of its command. */
async function timedOutSubtask(
  tasks: WorkflowTaskStore,
  taskId: number,
  outcome: Extract<TaskOutcome, { status: 'FAILED' }>,
  hostCommands: HostCommands,
): Promise<
  | { task: TaskRecord; subtask: SubtaskRecord; invocation: CommandInvocation | undefined; reason: string }
  | undefined
> {
  if (outcome.error !== 'States.Timeout' || !outcome.instanceId) return undefined;
  const task = await tasks.getTask(taskId);
  if (task?.status !== 'RUNNING' || endedBeforeHandover(task, outcome.executionEndedAt)) return undefined;
  const subtask = task.subtasks.find((s) => s.status === 'RUNNING' || s.status === 'CANCELING');
  const command =
    subtask &&
    (await lookUpTimedOutCommand(
      hostCommands,
      subtask,
      await tasks.commandOf(task.id, subtask),
      outcome.instanceId,
    ));
  return subtask && command ? { task, subtask, ...command } : undefined;
}

/**
 * The subtask's command had succeeded; only its status event was missing when its state timed out.
 * Its outcome is recorded (SUCCESSFUL, the next subtask READY) and the failed execution redriven:
 * the timed-out state runs again, finds its subtask done and completes at once (run-subtask), and the
 * workflow goes on. The hand-over is recorded first (resumedAt), so that the execution's failure is
 * not taken for the task's end meanwhile. Undefined when the task changed meanwhile.
 */
async function resumePastSucceededSubtask(
  tasks: WorkflowTaskStore,
  task: TaskRecord,
  invocation: CommandInvocation,
  deps: { workflow: Workflow; outputLogGroup: string },
): Promise<TaskRecord | undefined> {
  const { after } = await tasks.change(task.id, (current) => markResumed(current, new Date()));
  if (!after) return undefined;
  await recordCommandOutcome(tasks, invocation, deps);
  try {
    await deps.workflow.redrive(task.executor);
  } catch (error) {
    // Redriven already by another path that saw the same end (the sweep, a repeated event).
    if (!(error instanceof ExecutionNotRedrivable)) throw error;
  }
  logger.warn(
    'Resumed the workflow past a subtask whose command had succeeded although its state timed out',
    {
      taskId: task.id,
      commandId: invocation.commandId,
    },
  );
  return (await tasks.getTask(task.id)) ?? task;
}
