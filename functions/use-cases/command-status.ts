import { DescribeInstanceInformationCommand, GetCommandInvocationCommand } from '@aws-sdk/client-ssm';
import { ssm } from '#aws/ssm';
import {
  type CommandInvocation,
  commandProgress,
  describeTimedOutSubtask,
  type InstancePing,
} from '#core/command-outcome';
import { subtaskAt } from '#core/subtasks';
import type { SubtaskRecord } from '#core/task';
import { logger } from '../logger.ts';

/** The command's invocation on the instance, or undefined when SSM has none. */
export async function readInvocation(
  commandId: string,
  instanceId: string,
): Promise<CommandInvocation | undefined> {
  try {
    const found = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
    );
    return {
      commandId,
      instanceId,
      comment: found.Comment,
      status: found.Status ?? 'Pending',
      statusDetails: found.StatusDetails,
      exitCode: found.ResponseCode ?? -1,
      stdout: found.StandardOutputContent ?? '',
      stderr: found.StandardErrorContent ?? '',
    };
  } catch (error) {
    if (error instanceof Error && error.name === 'InvocationDoesNotExist') return undefined;
    throw error;
  }
}

/** The instance's PingStatus; NotRegistered when SSM does not manage it. */
export async function instancePing(instanceId: string): Promise<InstancePing> {
  try {
    const described = await ssm.send(
      new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }),
    );
    const ping = described.InstanceInformationList?.find(
      (instance) => instance.InstanceId === instanceId,
    )?.PingStatus;
    return ping ?? 'NotRegistered';
  } catch (error) {
    if (error instanceof Error && error.name === 'InvalidInstanceId') return 'NotRegistered';
    throw error;
  }
}

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
  subtask: SubtaskRecord,
  commandId: string | undefined,
  instanceId: string,
): Promise<TimedOutCommand | undefined> {
  if (!commandId) return undefined;
  try {
    const invocation = await readInvocation(commandId, instanceId);
    // Without the ping status the reason still says the command never reached the host.
    const ping =
      invocation && commandProgress(invocation) === 'undelivered'
        ? await instancePing(instanceId).catch((error: unknown) => {
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
