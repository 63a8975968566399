import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SsmHostCommands } from '../../../functions/aws/ssm-host-commands.ts';
import { InstanceNotCommandable } from '../../../functions/use-cases/ports.ts';

const client = new SSMClient({});
const ssmMock = mockClient(client);
const hostCommands = new SsmHostCommands(client);
const INSTANCE = 'mi-0123456789abcdef0';
const sdkError = (name: string) => Object.assign(new Error(`${name} from SSM`), { name });
const command = {
  documentName: 'doc-stop',
  instanceId: INSTANCE,
  parameters: { agentHome: '/home/admin/ocp_agent', controlScript: 'bin/ocp_agentctl' },
  comment: 'ocp-agent-restart task=1 subtask=2 attempt=1',
  deliveryTimeoutSeconds: 60,
};

beforeEach(() => ssmMock.reset());

describe('SsmHostCommands.send', () => {
  it('sends the document with one value per parameter and answers the command id', async () => {
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });

    await expect(hostCommands.send(command)).resolves.toBe('cmd-1');

    expect(ssmMock.commandCalls(SendCommandCommand)[0]!.args[0].input).toEqual({
      DocumentName: 'doc-stop',
      InstanceIds: [INSTANCE],
      Parameters: { agentHome: ['/home/admin/ocp_agent'], controlScript: ['bin/ocp_agentctl'] },
      Comment: command.comment,
      TimeoutSeconds: 60,
    });
  });

  it('asks SSM to write the full output to the log group when one is given', async () => {
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });

    await hostCommands.send({ ...command, outputLogGroup: '/ocp/command-output' });

    expect(ssmMock.commandCalls(SendCommandCommand)[0]!.args[0].input.CloudWatchOutputConfig).toEqual({
      CloudWatchOutputEnabled: true,
      CloudWatchLogGroupName: '/ocp/command-output',
    });
  });

  it.each(['InvalidInstanceId', 'UnsupportedPlatformType'])(
    'turns a refusal about the instance (%s) into InstanceNotCommandable with SSM’s code and message',
    async (code) => {
      ssmMock.on(SendCommandCommand).rejects(sdkError(code));

      const refusal = await hostCommands.send(command).catch((error: unknown) => error);

      expect(refusal).toBeInstanceOf(InstanceNotCommandable);
      expect(refusal).toMatchObject({ instanceId: INSTANCE, code, message: `${code} from SSM` });
    },
  );

  it('lets any other refusal through as it is', async () => {
    ssmMock.on(SendCommandCommand).rejects(sdkError('InvalidDocument'));

    await expect(hostCommands.send(command)).rejects.toMatchObject({ name: 'InvalidDocument' });
  });
});

describe('SsmHostCommands', () => {
  it('cancels a command by its id', async () => {
    ssmMock.on(CancelCommandCommand).resolves({});

    await hostCommands.cancel('cmd-1');

    expect(ssmMock.commandCalls(CancelCommandCommand)[0]!.args[0].input).toEqual({ CommandId: 'cmd-1' });
  });

  it('reads an invocation as the product’s CommandInvocation', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolves({
      Comment: 'c',
      Status: 'Failed',
      StatusDetails: 'Failed',
      ResponseCode: 3,
      StandardOutputContent: 'out',
      StandardErrorContent: 'err',
    });

    await expect(hostCommands.invocation('cmd-1', INSTANCE)).resolves.toEqual({
      commandId: 'cmd-1',
      instanceId: INSTANCE,
      comment: 'c',
      status: 'Failed',
      statusDetails: 'Failed',
      exitCode: 3,
      stdout: 'out',
      stderr: 'err',
    });
  });

  it('reads an invocation SSM reports without its fields as pending, not exited, with no output', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolves({});

    await expect(hostCommands.invocation('cmd-1', INSTANCE)).resolves.toMatchObject({
      status: 'Pending',
      exitCode: -1,
      stdout: '',
      stderr: '',
    });
  });

  it('answers undefined for an invocation SSM has not created, and lets other errors through', async () => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .rejectsOnce(sdkError('InvocationDoesNotExist'))
      .rejectsOnce(sdkError('ThrottlingException'));

    await expect(hostCommands.invocation('cmd-1', INSTANCE)).resolves.toBeUndefined();
    await expect(hostCommands.invocation('cmd-1', INSTANCE)).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
  });

  it('waits for a command that ended other than Success without throwing', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', StatusDetails: 'Failed' });

    await expect(hostCommands.waitForEnd('cmd-1', INSTANCE, 2)).resolves.toBeUndefined();
    expect(ssmMock.commandCalls(GetCommandInvocationCommand)[0]!.args[0].input).toEqual({
      CommandId: 'cmd-1',
      InstanceId: INSTANCE,
    });
  });

  it('answers the instance’s ping status, and NotRegistered for an instance SSM does not list or know', async () => {
    ssmMock
      .on(DescribeInstanceInformationCommand)
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: INSTANCE, PingStatus: 'ConnectionLost' }] })
      .resolvesOnce({ InstanceInformationList: [] })
      .rejectsOnce(sdkError('InvalidInstanceId'));

    await expect(hostCommands.instancePing(INSTANCE)).resolves.toBe('ConnectionLost');
    await expect(hostCommands.instancePing(INSTANCE)).resolves.toBe('NotRegistered');
    await expect(hostCommands.instancePing(INSTANCE)).resolves.toBe('NotRegistered');
    expect(ssmMock.commandCalls(DescribeInstanceInformationCommand)[0]!.args[0].input).toEqual({
      Filters: [{ Key: 'InstanceIds', Values: [INSTANCE] }],
    });
  });
});

describe('SsmHostCommands.instancePings', () => {
  const instances = (count: number, from = 0) =>
    Array.from({ length: count }, (_, i) => `mi-${String(from + i).padStart(17, '0')}`);
  /** As SSM answers: the instances it manages, Online; a call naming any other refused as a whole. */
  const managing = (managed: ReadonlySet<string>) =>
    ssmMock.on(DescribeInstanceInformationCommand).callsFake((input) => {
      const values: string[] = input.Filters[0].Values;
      if (values.some((id) => !managed.has(id))) throw sdkError('InvalidInstanceId');
      return { InstanceInformationList: values.map((id) => ({ InstanceId: id, PingStatus: 'Online' })) };
    });

  it('asks for 50 instances a call, within SSM’s 100 filter values and 50 results a page', async () => {
    const ids = instances(120);
    managing(new Set(ids));

    const pings = await hostCommands.instancePings(ids);

    expect([...pings.values()]).toEqual(ids.map(() => 'Online'));
    const calls = ssmMock.commandCalls(DescribeInstanceInformationCommand).map((call) => call.args[0].input);
    expect(calls.map((input) => input.Filters?.[0]?.Values?.length)).toEqual([50, 50, 20]);
    expect(calls.every((input) => input.MaxResults === 50)).toBe(true);
  });

  it('follows the pages of one call and answers NotRegistered for an instance it does not list', async () => {
    const [a, b, c] = instances(3);
    ssmMock
      .on(DescribeInstanceInformationCommand)
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: a, PingStatus: 'Online' }], NextToken: 'next' })
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: b, PingStatus: 'ConnectionLost' }] });

    const pings = await hostCommands.instancePings([a!, b!, c!]);

    expect(pings).toEqual(
      new Map([
        [a, 'Online'],
        [b, 'ConnectionLost'],
        [c, 'NotRegistered'],
      ]),
    );
    expect(ssmMock.commandCalls(DescribeInstanceInformationCommand)[1]!.args[0].input.NextToken).toBe('next');
  });

  it('splits a call SSM refuses for an unmanaged instance until that instance stands alone', async () => {
    const ids = instances(50);
    const unmanaged = ids[37]!;
    managing(new Set(ids.filter((id) => id !== unmanaged)));

    const pings = await hostCommands.instancePings(ids);

    expect(pings.get(unmanaged)).toBe('NotRegistered');
    expect([...pings].filter(([, ping]) => ping === 'Online')).toHaveLength(49);
    // Halving: far fewer calls than one per instance.
    expect(ssmMock.commandCalls(DescribeInstanceInformationCommand).length).toBeLessThan(15);
  });

  it('lets any other refusal through', async () => {
    ssmMock.on(DescribeInstanceInformationCommand).rejects(sdkError('ThrottlingException'));

    await expect(hostCommands.instancePings(instances(2))).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
  });
});
