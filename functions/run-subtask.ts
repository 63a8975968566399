import { SsmHostCommands } from '#aws/ssm-host-commands';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import { commandComment } from '#core/command-comment';
import { commandTimeouts } from '#core/command-timeouts';
import { type HostParameter, isValidHostParameter } from '#core/host-parameters';
import * as z from '#core/schema';
import { subtaskAt } from '#core/subtasks';
import type { SubtaskAttempt } from '#core/task';
import { startAttempt } from '#core/task-progress';
import { StaleRecord } from '#store/task-store';
import { WorkflowTaskStore } from '#store/workflow-task-store';
import { InstanceNotCommandable } from '#use-cases/ports';
import { appendTaskKeys, loggedInvocation, logger } from './logger.ts';
import { commandOutputLogGroup, documentFor, taskTableName } from './runtime-config.ts';

/** A value the SSM Agent will accept for the document parameter (or instance id) `name`. */
const hostParameter = (name: HostParameter) =>
  z
    .string()
    .check(
      z.refine(
        (value) => isValidHostParameter(name, value),
        `Invalid ${name}: not accepted by its allowedPattern`,
      ),
    );

const RunSubtaskInput = z.object({
  taskId: z.number().check(z.int(), z.positive()),
  subtaskIndex: z.number().check(z.int(), z.minimum(0), z.maximum(4)),
  instanceId: hostParameter('instanceId'),
  agentHome: hostParameter('agentHome'),
  controlScript: hostParameter('controlScript'),
  taskToken: z.string().check(z.minLength(1)),
});

/** The host did not accept the command (not registered with SSM, offline, or not permitted). */
class CommandNotDelivered extends Error {
  override readonly name = 'CommandNotDelivered';
}

const tasks = new WorkflowTaskStore(taskTableName());
const workflow = new StepFunctionsWorkflow();
const hostCommands = new SsmHostCommands();

/**
 * Invoked by a subtask state with its task token: marks the subtask RUNNING with the token,
 * then sends the subtask's command. The command's completion event finishes the state.
 */
export const handler = loggedInvocation(
  async (event: unknown): Promise<{ commandId: string } | { alreadySucceeded: true }> => {
    const input = RunSubtaskInput.parse(event);
    const definition = subtaskAt(input.subtaskIndex);
    appendTaskKeys({ taskId: input.taskId, subtask: definition.name, subtaskIndex: input.subtaskIndex });

    const attempt = await beginAttempt(input.taskId, input.subtaskIndex, input.taskToken);
    if (attempt === 'done') {
      // The execution was redriven into a subtask that is done: an operator skipped it, or its
      // command had succeeded although the state timed out. The step is done already.
      const completion = await workflow.completeStep(input.taskToken, {
        status: 'SUCCEEDED',
        output: { alreadySucceeded: true },
      });
      if (completion.completed)
        logger.info('Subtask already SUCCESSFUL: its step completed without running it again');
      else logger.info('The workflow step had already ended', { reason: completion.alreadyEnded });
      return { alreadySucceeded: true };
    }
    appendTaskKeys({ taskId: input.taskId, attempt: attempt.attempt });
    let commandId: string | undefined;
    try {
      commandId = await hostCommands.send({
        documentName: documentFor(definition.key),
        instanceId: input.instanceId,
        parameters: { agentHome: input.agentHome, controlScript: input.controlScript },
        comment: commandComment({
          taskId: input.taskId,
          subtaskIndex: input.subtaskIndex,
          attempt: attempt.attempt,
        }),
        deliveryTimeoutSeconds: commandTimeouts(definition.timeoutSeconds).deliveryTimeoutSeconds,
        // The full output, beyond what SSM returns inline, for the subtask's log.
        outputLogGroup: commandOutputLogGroup(),
      });
    } catch (error) {
      logger.error('SSM did not accept the command', { error });
      const reason =
        error instanceof InstanceNotCommandable
          ? `${error.code}: ${error.message}`
          : error instanceof Error
            ? `${error.name}: ${error.message}`
            : 'unknown error';
      throw new CommandNotDelivered(`SSM could not send the command to ${input.instanceId} (${reason})`);
    }
    if (!commandId) throw new CommandNotDelivered('SSM returned no command id');
    await tasks.recordCommand(attempt, commandId, input.instanceId);
    logger.info('Subtask command sent', { commandId });
    return { commandId };
  },
);

/**
 * Marks the subtask RUNNING, its task token kept beside the task, before its command is sent; the
 * same attempt again when an earlier try of this call began it and its answer was lost. 'done' when
 * the subtask has succeeded already.
 */
async function beginAttempt(
  taskId: number,
  index: number,
  taskToken: string,
): Promise<SubtaskAttempt | 'done'> {
  for (let tries = 1; ; tries++) {
    const task = await tasks.getTask(taskId);
    if (!task) throw new StaleRecord(`Task ${taskId} does not exist`);
    const subtask = task.subtasks[index]!;
    const recorded =
      subtask.status === 'RUNNING' ? await tasks.attempt(taskId, subtask.id, subtask.runTime) : undefined;
    const start = startAttempt(task, index, taskToken, recorded, new Date());
    if (start.action === 'complete') return 'done';
    if (start.action === 'refuse') throw new StaleRecord(`Subtask cannot run: ${start.reason}`);
    const attempt: SubtaskAttempt = { taskId, subtaskId: subtask.id, attempt: start.attempt, taskToken };
    if (start.action === 'send') return attempt;
    if (!(await tasks.putAttempt(attempt)))
      throw new StaleRecord(`Attempt ${start.attempt} of subtask ${index} sent its command already`);
    try {
      await tasks.save(task, start.task);
      return attempt;
    } catch (error) {
      if (!(error instanceof StaleRecord) || tries >= 3) throw error;
    }
  }
}
