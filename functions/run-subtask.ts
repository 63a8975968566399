import { SsmHostCommands } from '#aws/ssm-host-commands';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import { commandComment } from '#core/command-comment';
import { commandTimeouts } from '#core/command-timeouts';
import { type HostParameter, isValidHostParameter } from '#core/host-parameters';
import * as z from '#core/schema';
import { subtaskAt } from '#core/subtasks';
import type { TaskRecord } from '#core/task';
import { ocpTimestamp } from '#core/time';
import { StaleRecord, TaskStore } from '#store/task-store';
import { InstanceNotCommandable } from '#use-cases/ports';
import { loggedInvocation, logger } from './logger.ts';
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

const tasks = new TaskStore(taskTableName());
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
    logger.appendKeys({ taskId: input.taskId, subtask: definition.name });

    let task: TaskRecord;
    try {
      task = await tasks.beginSubtaskAttempt(
        input.taskId,
        input.subtaskIndex,
        input.taskToken,
        ocpTimestamp(new Date()),
      );
    } catch (error) {
      if (error instanceof StaleRecord && (await hasSucceeded(input.taskId, input.subtaskIndex))) {
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
      throw error;
    }
    const attempt = task.subtasks[input.subtaskIndex]!.runTime;
    let commandId: string | undefined;
    try {
      commandId = await hostCommands.send({
        documentName: documentFor(definition.key),
        instanceId: input.instanceId,
        parameters: { agentHome: input.agentHome, controlScript: input.controlScript },
        comment: commandComment({ taskId: input.taskId, subtaskIndex: input.subtaskIndex, attempt }),
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
    try {
      await tasks.recordCommand(input.taskId, input.subtaskIndex, attempt, commandId);
    } catch (error) {
      // A fast command can finish, and its callback record the outcome, before this write.
      if (!(error instanceof StaleRecord)) throw error;
    }
    logger.info('Subtask command sent', { commandId, attempt });
    return { commandId };
  },
);

async function hasSucceeded(taskId: number, index: number): Promise<boolean> {
  const task = await tasks.getTask(taskId);
  return task?.status === 'RUNNING' && task.subtasks[index]?.status === 'SUCCESSFUL';
}
