import { type CommandInvocation, commandProgress, describeTimedOutSubtask } from '#core/command-outcome';
import { subtaskAt } from '#core/subtasks';
import type { SubtaskRecord } from '#core/task';
import { logger } from '../logger.ts';
import type { HostCommands } from './ports.ts';

/** What SSM says of a timed-out subtask's command: the invocation (if any) and the reason to record. */
export interface TimedOutCommand {
  invocation: CommandInvocation | undefined;
  reason: string;
}

/**
 * Why a subtask whose state timed out did not finish, as SSM tells it: its command never reached the
 * host (and the host's ping status), was still running, or had ended. Undefined when the subtask sent
 * no command or SSM could not be asked; the caller then gives the plain timeout.
 */
export async function lookUpTimedOutCommand(
  hostCommands: HostCommands,
  subtask: SubtaskRecord,
  commandId: string | undefined,
  instanceId: string,
): Promise<TimedOutCommand | undefined> {
  if (!commandId) return undefined;
  try {
    const invocation = await hostCommands.invocation(commandId, instanceId);
    // Without the ping status the reason still says the command never reached the host.
    const ping =
      invocation && commandProgress(invocation) === 'undelivered'
        ? await hostCommands.instancePing(instanceId).catch((error: unknown) => {
            logger.warn('Could not read the instance’s ping status', { error, instanceId });
            return undefined;
          })
        : undefined;
    return {
      invocation,
      reason: describeTimedOutSubtask(subtaskAt(subtask.index).timeoutSeconds, invocation, ping),
    };
  } catch (error) {
    logger.warn('Could not ask SSM why the subtask timed out', { error, commandId });
    return undefined;
  }
}
