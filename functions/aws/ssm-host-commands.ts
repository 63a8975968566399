import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  type SSMClient,
  waitUntilCommandExecuted,
} from '@aws-sdk/client-ssm';
import type { CommandInvocation, InstancePing } from '#core/command-outcome';
import { type HostCommand, type HostCommands, InstanceNotCommandable } from '#use-cases/ports';
import { errorName } from './error-name.ts';
import { ssm } from './ssm.ts';

/** SendCommand's refusals that are about the instance: SSM does not know it or cannot run the document there. */
const INSTANCE_REFUSALS: ReadonlySet<string> = new Set(['InvalidInstanceId', 'UnsupportedPlatformType']);

/**
 * DescribeInstanceInformation's bounds (SSM's API model): at most 100 values in a filter, at most 50
 * results a page (MaxResults 5 to 50). 50 instances a call fit one page.
 */
const PINGS_PER_CALL = 50;

/** The HostCommands port over SSM Run Command: one call per method, SDK error names mapped to the port's. */
export class SsmHostCommands implements HostCommands {
  constructor(private readonly client: SSMClient = ssm) {}

  async send(command: HostCommand): Promise<string | undefined> {
    try {
      const sent = await this.client.send(
        new SendCommandCommand({
          DocumentName: command.documentName,
          InstanceIds: [command.instanceId],
          Parameters: Object.fromEntries(
            Object.entries(command.parameters).map(([name, value]) => [name, [value]]),
          ),
          ...(command.outputLogGroup
            ? {
                CloudWatchOutputConfig: {
                  CloudWatchOutputEnabled: true,
                  CloudWatchLogGroupName: command.outputLogGroup,
                },
              }
            : {}),
          Comment: command.comment,
          TimeoutSeconds: command.deliveryTimeoutSeconds,
        }),
      );
      return sent.Command?.CommandId;
    } catch (error) {
      const code = errorName(error);
      if (INSTANCE_REFUSALS.has(code))
        throw new InstanceNotCommandable(command.instanceId, code, (error as Error).message, {
          cause: error,
        });
      throw error;
    }
  }

  async cancel(commandId: string): Promise<void> {
    await this.client.send(new CancelCommandCommand({ CommandId: commandId }));
  }

  async invocation(commandId: string, instanceId: string): Promise<CommandInvocation | undefined> {
    try {
      const found = await this.client.send(
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
        ...(found.ExecutionEndDateTime ? { endedAt: found.ExecutionEndDateTime } : {}),
      };
    } catch (error) {
      if (errorName(error) === 'InvocationDoesNotExist') return undefined;
      throw error;
    }
  }

  async waitForEnd(commandId: string, instanceId: string, maxWaitSeconds: number): Promise<void> {
    try {
      await waitUntilCommandExecuted(
        { client: this.client, maxWaitTime: maxWaitSeconds, minDelay: 1, maxDelay: 2 },
        { CommandId: commandId, InstanceId: instanceId },
      );
    } catch {
      // The waiter also throws for a command that ended other than Success, and at its deadline:
      // the invocation, read next, says which.
    }
  }

  /**
   * 50 instances a call. SSM refuses a whole call naming an instance it does not manage
   * (InvalidInstanceId; "If you specify a node ID that isn't valid or a node that you don't own, you
   * receive an error"): such a call is split in halves until the instances it refuses stand alone.
   */
  async instancePings(instanceIds: readonly string[]): Promise<Map<string, InstancePing>> {
    const pings = new Map<string, InstancePing>();
    const unique = [...new Set(instanceIds)];
    for (let start = 0; start < unique.length; start += PINGS_PER_CALL) {
      await this.describePings(unique.slice(start, start + PINGS_PER_CALL), pings);
    }
    return pings;
  }

  private async describePings(instanceIds: string[], pings: Map<string, InstancePing>): Promise<void> {
    const listed = new Map<string, InstancePing>();
    let nextToken: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new DescribeInstanceInformationCommand({
            Filters: [{ Key: 'InstanceIds', Values: instanceIds }],
            MaxResults: PINGS_PER_CALL,
            NextToken: nextToken,
          }),
        );
        for (const instance of page.InstanceInformationList ?? []) {
          if (instance.InstanceId && instance.PingStatus)
            listed.set(instance.InstanceId, instance.PingStatus as InstancePing);
        }
        nextToken = page.NextToken;
      } while (nextToken);
    } catch (error) {
      if (errorName(error) !== 'InvalidInstanceId') throw error;
      if (instanceIds.length === 1) {
        pings.set(instanceIds[0]!, 'NotRegistered');
        return;
      }
      const half = Math.ceil(instanceIds.length / 2);
      await this.describePings(instanceIds.slice(0, half), pings);
      await this.describePings(instanceIds.slice(half), pings);
      return;
    }
    for (const instanceId of instanceIds) pings.set(instanceId, listed.get(instanceId) ?? 'NotRegistered');
  }

  async instancePing(instanceId: string): Promise<InstancePing> {
    try {
      const described = await this.client.send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }),
      );
      const ping = described.InstanceInformationList?.find(
        (instance) => instance.InstanceId === instanceId,
      )?.PingStatus;
      return ping ?? 'NotRegistered';
    } catch (error) {
      if (errorName(error) === 'InvalidInstanceId') return 'NotRegistered';
      throw error;
    }
  }
}
