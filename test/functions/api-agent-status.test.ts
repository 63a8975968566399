import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SsmHostCommands } from '../../functions/aws/ssm-host-commands.ts';
import { ENV } from '../../functions/catalog.ts';
import { HostRegistry } from '../../functions/store/host-registry.ts';
import { getAgentStatus } from '../../functions/use-cases/get-agent-status.ts';
import { apiEvent, operator } from '../support/api-events.ts';
import { createTestTables, registerHost, type TestTables } from '../support/test-tables.ts';

const ssmMock = mockClient(SSMClient);
const INSTANCE = 'mi-0123456789abcdef0';
const COMMAND_ID = '11111111-2222-3333-4444-555555555555';
let tables: TestTables;
let handler: typeof import('../../functions/api.ts').handler;

const agentStatus = (hostId: string) =>
  handler(
    apiEvent({
      method: 'GET',
      routePath: '/compute/hosts/{hostId}/agent',
      rawPath: `/compute/hosts/${hostId}/agent`,
      pathParameters: { hostId },
      claims: operator('HOST_VIEWER'),
    }),
  );
const parse = (result: { body?: string }) => JSON.parse(result.body ?? '{}');
const statusLine = (processes: [string, number | null][]) =>
  JSON.stringify({ processes: processes.map(([name, pid]) => ({ name, pid, running: pid !== null })) });

beforeAll(async () => {
  tables = await createTestTables();
  process.env[ENV.stateMachineArn] = 'arn:aws:states:us-east-1:123456789012:stateMachine:restart-agent';
  process.env[ENV.commandDocuments] = JSON.stringify({ agentStatus: 'status-doc' });
  await registerHost(tables, { hostId: 1, instanceId: INSTANCE });
  ({ handler } = await import('../../functions/api.ts'));
});

beforeEach(() => {
  ssmMock.reset();
  ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
  ssmMock.on(CancelCommandCommand).resolves({});
});

describe('GET /compute/hosts/{hostId}/agent', () => {
  it('answers the processes the host reports', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      StandardOutputContent: statusLine([
        ['ocp_agentd', 11],
        ['ocp_mgragent', 12],
        ['ocp_monagent', 13],
        ['pos_proxy', 14],
      ]),
    });

    const result = await agentStatus('1');

    expect(result.statusCode).toBe(200);
    expect(parse(result).data).toMatchObject({
      hostId: 1,
      status: 'STARTED',
      summary: '4 of 4 agent processes run.',
    });
  });

  it('answers PARTIAL, naming which processes run and which do not, when 3 of 4 run', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolves({
      Status: 'Success',
      StandardOutputContent: statusLine([
        ['ocp_agentd', 11],
        ['ocp_mgragent', 12],
        ['ocp_monagent', 13],
        ['pos_proxy', null],
      ]),
    });

    const { data } = parse(await agentStatus('1'));

    expect(data).toMatchObject({
      status: 'PARTIAL',
      summary: '3 of 4 agent processes run (ocp_agentd, ocp_mgragent, ocp_monagent); not running: pos_proxy.',
    });
    expect(data.processes[3]).toEqual({ name: 'pos_proxy', pid: null, running: false });
  });

  it('judges the agent by its processes, not by a status an older status script prints', async () => {
    const line = JSON.parse(statusLine([['ocp_agentd', null]]));
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'Success', StandardOutputContent: JSON.stringify({ status: 'STARTED', ...line }) });

    const { data } = parse(await agentStatus('1'));

    expect(data.status).toBe('STOPPED');
  });

  it('answers 503 for a report with no processes', async () => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'Success', StandardOutputContent: '{"processes":[]}' });

    const result = await agentStatus('1');

    expect(result.statusCode).toBe(503);
    expect(parse(result).error.message).toMatch(/unreadable report/);
  });

  it('answers 503 naming the reason when SSM refuses the command for the host’s instance', async () => {
    ssmMock
      .on(SendCommandCommand)
      .rejects(Object.assign(new Error('Instances not in a valid state'), { name: 'InvalidInstanceId' }));

    const result = await agentStatus('1');

    const envelope = parse(result);
    expect(result.statusCode).toBe(503);
    expect(envelope).toMatchObject({ successful: false, status: 503 });
    expect(envelope.error).toEqual({
      code: 40000,
      target: 'hostId',
      message: expect.stringMatching(
        new RegExp(
          `^Host 1 cannot be reached through SSM: SSM refused the command for instance ${INSTANCE} \\(InvalidInstanceId\\): its SSM Agent is not registered`,
        ),
      ),
    });
  });

  it('still answers 500 without detail for a failure that is not about the host', async () => {
    ssmMock
      .on(SendCommandCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    const result = await agentStatus('1');

    expect(result.statusCode).toBe(500);
    expect(parse(result).error.message).not.toMatch(/Rate exceeded/);
  });
});

describe('getAgentStatus', () => {
  const deps = () => ({
    hosts: new HostRegistry(tables.hostTable),
    hostCommands: new SsmHostCommands(),
    documentName: 'status-doc',
    waitSeconds: 2,
  });

  it('says the host’s SSM Agent is offline when the command is never delivered, and cancels it', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'Pending', StatusDetails: 'Pending' });

    await expect(getAgentStatus(1n, deps())).rejects.toMatchObject({
      name: 'HostUnreachable',
      httpStatus: 503,
      message: `Host 1 cannot be reached through SSM: its SSM Agent is offline (the status command was not delivered to ${INSTANCE} within 2 s).`,
    });
    expect(ssmMock.commandCalls(CancelCommandCommand).map((call) => call.args[0].input)).toEqual([
      { CommandId: COMMAND_ID },
    ]);
  });

  it('says the same when SSM has not even created the invocation', async () => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .rejects(Object.assign(new Error('no such invocation'), { name: 'InvocationDoesNotExist' }));

    await expect(getAgentStatus(1n, deps())).rejects.toMatchObject({
      name: 'HostUnreachable',
      message: expect.stringContaining('its SSM Agent is offline'),
    });
  });

  it('says the same for a command SSM gave up delivering', async () => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'TimedOut', StatusDetails: 'Delivery Timed Out' });

    await expect(getAgentStatus(1n, deps())).rejects.toMatchObject({ name: 'HostUnreachable' });
  });

  it('keeps a command that ran and failed on the host an unreadable status, not an offline host', async () => {
    ssmMock
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'Failed', StatusDetails: 'Failed', ResponseCode: 1 });

    await expect(getAgentStatus(1n, deps())).rejects.toMatchObject({ name: 'AgentStatusUnavailable' });
    expect(ssmMock.commandCalls(CancelCommandCommand)).toHaveLength(0);
  });
});
