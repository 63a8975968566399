import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HostRegistry } from '../../../functions/store/host-registry.ts';
import { getAgentStatus } from '../../../functions/use-cases/get-agent-status.ts';
import { InstanceNotCommandable } from '../../../functions/use-cases/ports.ts';
import { FakeHostCommands, invocationOf } from '../../support/fake-ports.ts';
import { createTestTables, registerHost, type TestTables } from '../../support/test-tables.ts';

const INSTANCE = 'mi-0123456789abcdef0';
let tables: TestTables;
let hostCommands: FakeHostCommands;

beforeAll(async () => {
  tables = await createTestTables();
  await registerHost(tables, { hostId: 1, instanceId: INSTANCE, controlScript: 'bin/ocp_agentctl' });
});

beforeEach(() => {
  hostCommands = new FakeHostCommands();
});

const status = () =>
  getAgentStatus(1n, {
    hosts: new HostRegistry(tables.hostTable),
    hostCommands,
    documentName: 'status-doc',
    waitSeconds: 2,
  });

describe('getAgentStatus', () => {
  it('sends the status document to the host, waits for it and judges the agent by its report', async () => {
    hostCommands.invocations.set(
      'cmd-1',
      invocationOf('cmd-1', INSTANCE, {
        stdout: JSON.stringify({ processes: [{ name: 'ocp_agentd', pid: 11, running: true }] }),
      }),
    );

    const answer = await status();

    expect(answer).toMatchObject({
      hostId: 1,
      status: 'STARTED',
      processes: [{ name: 'ocp_agentd', pid: 11 }],
    });
    expect(hostCommands.sent).toEqual([
      {
        documentName: 'status-doc',
        instanceId: INSTANCE,
        parameters: { agentHome: '/home/admin/ocp_agent', controlScript: 'bin/ocp_agentctl' },
        comment: 'ocp-agent-restart agent status host=1',
        deliveryTimeoutSeconds: 30,
      },
    ]);
    expect(hostCommands.waitedFor).toEqual(['cmd-1']);
  });

  it('answers HostUnreachable, naming SSM’s reason, for an instance SSM will not send commands to', async () => {
    hostCommands.failing.send = new InstanceNotCommandable(
      INSTANCE,
      'InvalidInstanceId',
      'not in a valid state',
    );

    await expect(status()).rejects.toMatchObject({
      name: 'HostUnreachable',
      message: expect.stringContaining(
        `SSM refused the command for instance ${INSTANCE} (InvalidInstanceId)`,
      ),
    });
  });

  it('lets any other refusal of SSM through', async () => {
    hostCommands.failing.send = new Error('Rate exceeded');

    await expect(status()).rejects.toThrow('Rate exceeded');
  });

  it('cancels a command that never reached the host and answers HostUnreachable', async () => {
    hostCommands.invocations.set(
      'cmd-1',
      invocationOf('cmd-1', INSTANCE, { status: 'Pending', exitCode: -1 }),
    );

    await expect(status()).rejects.toMatchObject({
      name: 'HostUnreachable',
      message: expect.stringContaining('its SSM Agent is offline'),
    });
    expect(hostCommands.cancelled).toEqual(['cmd-1']);
  });
});
